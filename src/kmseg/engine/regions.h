/* Connected regions of a label map (regions.c), as _regions.pyx calls them.
 *
 * A label map is scanned once into horizontal runs of equal labels; runs of
 * one label touching vertically (4-connectivity) are joined by union-find.
 * Regions are numbered 0 .. n-1 in the raster order of their first pixel.
 * The scan keeps the runs, so painting region ids or new labels, and the
 * region adjacency the merging needs, cost a pass over runs, not pixels.
 *
 * Sizes: h * w < 2**31 (the caller checks).
 */
#ifndef KMSEG_REGIONS_H
#define KMSEG_REGIONS_H

#include <stdint.h>

typedef struct kmseg_regions kmseg_regions;

/* Scan an (h, w) C-ordered label map; NULL when memory runs out. */
kmseg_regions *regions_scan_u8(const uint8_t *labels, int64_t h, int64_t w);
kmseg_regions *regions_scan_u32(const uint32_t *labels, int64_t h, int64_t w);
void regions_free(kmseg_regions *r);

/* Number of regions. */
int64_t regions_count(const kmseg_regions *r);
/* Region id of every pixel (h * w entries). */
void regions_ids(const kmseg_regions *r, int64_t *out);
/* Pixels in every region (regions_count entries). */
void regions_sizes(const kmseg_regions *r, int64_t *out);

/* Merge regions into neighbours, in rounds, on the region graph:
 *   connect == 0: regions smaller than min_region pixels;
 *   connect != 0: every region but the largest of its label (ties: the first).
 * In each round every such region picks the neighbouring region it shares
 * the longest border with (ties: the larger, then the first); it takes that
 * neighbour's label when the neighbour is not itself to be merged or comes
 * after it by (size, first pixel), and no region picked it. Rounds go on
 * until no region is to be merged or one region is left.
 * Returns the number of regions left, or -1 when memory runs out. The new
 * labels are painted by regions_paint_*. */
int64_t regions_merge(kmseg_regions *r, int64_t min_region, int connect);

/* Every pixel's label: the label of its region (after regions_merge, the
 * merged label). */
void regions_paint_u8(const kmseg_regions *r, uint8_t *out);
void regions_paint_u32(const kmseg_regions *r, uint32_t *out);

/* out[p] = 1 where the right or lower neighbour of pixel p has another label. */
void boundaries_u8(const uint8_t *labels, int64_t h, int64_t w, uint8_t *out);
void boundaries_u32(const uint32_t *labels, int64_t h, int64_t w, uint8_t *out);

/* ------------------------------------------------ pixels moved by merging
 *
 * Pixels whose label changed, as (Morton code << 8 | new label): for every
 * i < n with old[i] != new[i] (and opaque[i] when opaque is not NULL), in
 * order; the code of an RGB pixel is mr[R] | mg[G] | mb[B] (under 2**24).
 * Writes the first cap of them to keys and returns how many there are
 * (cap 0: only counts them; rgb, the tables and keys are not read). */
int64_t moved_keys(const uint8_t *rgb, const uint8_t *old, const uint8_t *new_, const uint8_t *opaque, int64_t n,
                   const uint32_t *mr, const uint32_t *mg, const uint32_t *mb, uint32_t *keys, int64_t cap);

/* Sorted keys (n, ascending) made distinct in place: returns how many
 * distinct keys there are (u), the first u of keys hold them and count[i]
 * how many times keys[i] occurred (room for n). */
int64_t distinct_counts(uint32_t *keys, int64_t n, int64_t *count);

/* Where the moved pixels came from: keys (u, ascending, as moved_keys
 * makes them, each one's code among codes) and codes (m, ascending):
 * where[i] = the index of keys[i] >> 8 in codes, and left[where[i]] -=
 * count[i]. Returns 0, or -1 when a key's code is not in codes. */
int moved_where(const uint32_t *codes, int64_t m, const uint32_t *keys, const int64_t *count, int64_t u,
                int64_t *where, double *left);

/* The change in inertia when u (colour, label) pairs move: the sum of
 * weight[i] * (|Y[at[i]] - C[now[i]]|^2 - |Y[at[i]] - C[was[i]]|^2), with Y
 * (m, 3) and C (k, 3) row-major. NaN when an index is out of range. */
double moved_inertia(const double *Y, int64_t m, const int64_t *at, int64_t u, const double *C, int64_t k,
                     const uint8_t *now, const uint8_t *was, const double *weight);

#endif
