/* The boundaries of a label map, traced once: the pixel edges between
 * 4-connected regions, cut into chains at their junctions, simplified, and
 * written out as the rings of every region. */
#ifndef KMSEG_CHAINS_H
#define KMSEG_CHAINS_H

#include <stdint.h>

typedef struct chains_trace chains_trace;

/* The label map is framed: map[(h + 2) * (w + 2)] (row-major) holds the h x w
 * labels inside a one-pixel frame of -1 (outside; transparent pixels are -1
 * too), and must outlive the trace. Pixel corners (y, x), 0 <= y <= h,
 * 0 <= x <= w, are those of the inner labels.
 *
 * Every pixel edge between two different labels is walked twice, once in
 * each direction, with the label on its left: a side is a straight run of
 * such edges from corner to corner, cut where the boundary turns or meets
 * another, and a junction is a corner with three or four boundary edges.
 * Around each label the sides form rings; the rings are cut into chains at
 * junctions (a ring with no junction is one chain from its first corner in
 * raster order). Sides are numbered direction by direction (east, south,
 * west, north), each direction in the raster order of its first corner, and
 * chains in the order of their first sides.
 *
 * Each chain with the lower label on its left ("canonical") keeps its
 * corners: those where its sides start, then its end. With tolerance > 0
 * they are simplified by Douglas-Peucker (the ends stay; the farthest point,
 * the first of equals, splits while it lies farther than the tolerance; a
 * closed chain always keeps its point farthest from its end and, in each
 * half, the point farthest from the half's chord). The other direction uses
 * the same points reversed.
 *
 * Returns NULL when memory runs out (*error = -1) or the map has more than
 * CHAINS_MAX_CORNERS corners (*error = -2). */
#define CHAINS_MAX_CORNERS ((int64_t)1 << 29)
chains_trace *chains_trace_map(const int16_t *map, int64_t h, int64_t w, double tolerance, int *error);
void chains_free(chains_trace *t);

/* The number of canonical chains and of their (simplified) points. */
int64_t chains_canonical(const chains_trace *t);
int64_t chains_points(const chains_trace *t);

/* The canonical chains' points, chain after chain in chain order: xy[2 * points]
 * as (x, y), chain i being points starts[i] .. starts[i + 1] - 1
 * (starts[canonical + 1]). */
void chains_copy_points(const chains_trace *t, int64_t *xy, int64_t *starts);

/* SVG path data of every region of labels 0 .. n_labels - 1 (rings of the
 * outside label -1 are left out): `<path d="..."/>\n` per region, its rings
 * one after the other, each "Mx yl" then the relative moves, numbers apart
 * by a space or a minus sign, then "z" ("Mx yz" for a ring of one point).
 * A ring starts at the first point of its first chain (in chain order) and
 * runs along the chains, each to the point before its end. Regions are
 * written label by label; within a label by region id, within a region its
 * rings in the order of their first chains.
 * regions[(h + 2) * (w + 2)] are the region ids (0 .. n_regions - 1) of the
 * framed map's pixels; a ring belongs to the region of the pixel left of its
 * first side. Label L's text is (*text)[label_start[L] .. label_end[L]); the
 * caller frees *text with free(). Returns its length, or -1 when memory runs
 * out. */
int64_t chains_svg_paths(const chains_trace *t, const int64_t *regions, int64_t n_regions, int64_t n_labels,
                         char **text, int64_t *label_start, int64_t *label_end);

#endif
