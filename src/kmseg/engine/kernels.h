/* The compiled passes of kmseg (kernels.c), as _kernels.pyx calls them.
 * The tree's arrays (TREE) and the items' (ITEMS) are passed unpacked:
 *   TREE:  npts, d, p_mean (npts, d), p_w (npts), n_mean (nodes, d), n_w, n_wsum (nodes, d),
 *          n_radius, n_ch0, n_ch1 (nodes each)
 *   ITEMS: id, lab (int64), up, lo (double), sec (int32), lo3 (double), one entry per item
 *          (kernels.c's Items says what the bounds are)
 */
#ifndef KMSEG_ENGINE_KERNELS_H
#define KMSEG_ENGINE_KERNELS_H

#include <stdint.h>

void histogram(const uint8_t *flat, int64_t n, int64_t s0, int64_t s1, const uint8_t *opaque,
               const uint32_t *sr, const uint32_t *sg, const uint32_t *sb, uint32_t *counts, uint32_t *seen);
void label_pixels(const uint8_t *flat, int64_t n, int64_t s0, int64_t s1, const uint32_t *sr,
                  const uint32_t *sg, const uint32_t *sb, const uint8_t *lut, uint8_t *out);

/* items_init and items_update return the number of items, or -1 when out of memory;
 * height: the tree's height (levels of nodes above the points). */
int64_t items_init(int64_t tops0, int64_t tops1, const double *Ct, int64_t k, double slack,
                   int64_t npts, int64_t d, const double *p_mean, const double *p_w, const double *n_mean,
                   const double *n_w, const double *n_wsum, const double *n_radius, const int64_t *n_ch0,
                   const int64_t *n_ch1, int64_t height, int64_t *it_id, int64_t *it_lab, double *it_up,
                   double *it_lo, int32_t *it_sec, double *it_lo3, double *cw, double *cs);
int64_t items_update(const double *Ct, int64_t k, const double *delta, double slack,
                     int64_t npts, int64_t d, const double *p_mean, const double *p_w, const double *n_mean,
                     const double *n_w, const double *n_wsum, const double *n_radius, const int64_t *n_ch0,
                     const int64_t *n_ch1, int64_t height, int64_t *it_id, int64_t *it_lab, double *it_up,
                     double *it_lo, int32_t *it_sec, double *it_lo3, int64_t n_items, double *cw,
                     double *cs);
double items_inertia(const double *Ct, int64_t k,
                     int64_t npts, int64_t d, const double *p_mean, const double *p_w, const double *n_mean,
                     const double *n_w, const double *n_wsum, const double *n_radius, const int64_t *n_ch0,
                     const int64_t *n_ch1, int64_t *it_id, int64_t *it_lab, double *it_up, double *it_lo,
                     int32_t *it_sec, double *it_lo3, int64_t n_items, const double *p_scatter, const double *n_scatter);
void items_labels(int64_t npts, const int64_t *it_id, const int64_t *it_lab, int64_t n_items,
                  const int64_t *n_pt0, const int64_t *n_pt1, uint8_t *out);

int nearest_centres(const double *X, int64_t n, int64_t d, const double *Ct, int64_t k, uint8_t *labels,
                    double *min_sq);
int seed_plusplus(const double *X, int64_t n, int64_t d, const double *w, const int64_t *first,
                  const double *uniforms, int64_t runs, int64_t k, int64_t trials, double *centers);
int seed_plusplus_steps(const double *X, int64_t n, int64_t d, const double *w, int64_t first,
                        const double *uniforms, int64_t k, int64_t trials, int64_t c0, int64_t c1,
                        double *closest, int64_t *head, int64_t *next, double *centers);

int64_t count_runs(const uint32_t *keys, int64_t m);
void cube_level(const uint32_t *keys, int64_t m, int64_t d, const double *mean, const double *w,
                const double *scatter, const double *radius, int64_t n, int64_t *child, double *weight,
                double *wsum, double *cmean, double *cscatter, double *cradius, uint32_t *out_keys);
void morton_to_rgb(const uint32_t *codes, int64_t n, const uint32_t *unmorton, uint8_t *out);
int64_t count_nonzero(const uint32_t *counts, int64_t n);
void nonzero_counts(const uint32_t *counts, int64_t n, uint32_t *idx, double *val);

#endif
