/* Spatial k-means passes (spatial.c), as _spatial_kernels.pyx calls them.
 *
 * The points are the pixels of an (h, w) grid in row-major order: pixel
 * (i, j) is the 5-D point (colors[3 (i w + j) .. +3], xs[j], ys[i]), xs and
 * ys increasing (positions already scaled to feature units). A centre is 5
 * doubles (3 colour, x, y). Squared distances are summed in the order
 * c0, c1, c2, x, y, so callers can reproduce them bit for bit.
 *
 * Every pass works tile by tile (ts x ts pixels): a centre whose spatial
 * distance alone to the tile's bounding box exceeds a pixel's best full
 * distance cannot be that pixel's nearest, so each pixel compares itself
 * only with the centres that can reach it; the result is the exact nearest
 * centre (the lowest index among equal distances), as a scan of all k
 * would give. Weights: NULL means all ones; points of weight 0 are left out.
 *
 * Sizes: k <= 256, h * w < 2**62. Functions return 0, or -1 when memory runs out.
 */
#ifndef KMSEG_SPATIAL_H
#define KMSEG_SPATIAL_H

#include <stdint.h>

typedef struct {
    const double *colors; /* (h * w, 3) */
    const double *xs;     /* (w,) */
    const double *ys;     /* (h,) */
    int64_t h, w;
    int64_t ts;           /* tile side in pixels, >= 1 */
} spatial_grid;

/* Nearest centre of every pixel (labels, h * w) and the sum of the squared
 * distances over the pixels where mask is non-zero (all when mask is NULL). */
int spatial_assign(const spatial_grid *g, const double *centers, int64_t k, const uint8_t *mask,
                   uint8_t *labels, double *inertia);

/* Sum of the squared distances from every pixel where mask is non-zero (all
 * when mask is NULL) to its labelled centre (labels, h * w, each < k). */
double spatial_inertia(const spatial_grid *g, const double *centers, const uint8_t *labels, const uint8_t *mask);

/* Greedy k-means++ seeding (each new centre the best of `trials` candidates
 * drawn with probability weight * squared distance), one run: `first` is the
 * first centre's pixel, uniforms holds (k - 1) * trials numbers in [0, 1).
 * Writes k centres. */
int spatial_seed(const spatial_grid *g, const double *weights, int64_t first, const double *uniforms,
                 int64_t k, int64_t trials, double *centers);

/* Exact Lloyd iterations from `centers` (k x 5, updated in place) with
 * Hamerly's bounds, until the summed squared movement of the centres is at
 * most max(tol_abs, still) or max_iter passes. Empty clusters are re-seeded
 * on the pixels farthest from their centres. Writes the iterations run,
 * whether it converged and the weighted inertia against the final centres. */
int spatial_lloyd(const spatial_grid *g, const double *weights, double *centers, int64_t k, int64_t max_iter,
                  double tol_abs, double still, int64_t *n_iter, int *converged, double *inertia);

#endif
