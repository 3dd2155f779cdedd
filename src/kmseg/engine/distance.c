/* Felzenszwalb & Huttenlocher's exact Euclidean distance transform
 * ("Distance Transforms of Sampled Functions", 2012) on the half-pixel
 * lattice of a region map: a pass up the columns stores each point's
 * distance to the nearest edge point below it, a pass down the rows keeps
 * the distance to the nearest above and takes the lower envelope of the
 * parabolas along each row (integer arithmetic throughout), and each
 * region keeps its farthest point as the row is done. */
#include "distance.h"

#include <stdlib.h>
#include <string.h>

/* Edge points of lattice row Y: a corner where the four pixels are not of one
 * region, the middle of an edge between two regions (pixel centres never). */
static void edge_points(const int64_t *regions, int64_t W, int64_t Y, int64_t hw, uint8_t *edge) {
    const int64_t y = Y >> 1;
    if (Y & 1) {
        const int64_t *p = regions + (y + 1) * W; /* the pixel row the points cross */
        for (int64_t X = 0; X < hw; X += 2) edge[X] = p[X >> 1] != p[(X >> 1) + 1];
        for (int64_t X = 1; X < hw; X += 2) edge[X] = 0;
    } else {
        const int64_t *a = regions + y * W, *b = a + W; /* the pixel rows above and below */
        for (int64_t X = 0; X < hw; X += 2) {
            int64_t x = X >> 1, r = a[x];
            edge[X] = a[x + 1] != r || b[x] != r || b[x + 1] != r;
        }
        for (int64_t X = 1; X < hw; X += 2) edge[X] = a[(X + 1) >> 1] != b[(X + 1) >> 1];
    }
}

int distance_poles(const int64_t *regions, int64_t H, int64_t W, int64_t n,
                   int64_t *best_d2, int64_t *best_point) {
    const int64_t hh = 2 * H - 3, hw = 2 * W - 3;
    const int64_t far = hh + hw + 1; /* more than any distance along a column */
    const int wide = far > 65535;    /* the distances below fit 16 bits unless the map is that tall */
    void *below = malloc((size_t)(hh * hw) * (wide ? 4 : 2));
    uint8_t *edge = malloc((size_t)hw);
    int64_t *up = malloc(sizeof(int64_t) * (size_t)hw);
    int64_t *f = malloc(sizeof(int64_t) * (size_t)hw);    /* squared column distance + q^2 */
    int64_t *v = malloc(sizeof(int64_t) * (size_t)hw);    /* parabolas of the lower envelope */
    int64_t *num = malloc(sizeof(int64_t) * (size_t)hw);  /* where each begins: num / den */
    int64_t *den = malloc(sizeof(int64_t) * (size_t)hw);
    if (!below || !edge || !up || !f || !v || !num || !den) {
        free(below); free(edge); free(up); free(f); free(v); free(num); free(den);
        return -1;
    }
    uint16_t *b16 = below;
    uint32_t *b32 = below;
    for (int64_t Y = hh - 1; Y >= 0; Y--) {
        edge_points(regions, W, Y, hw, edge);
        int64_t i = Y * hw;
        for (int64_t X = 0; X < hw; X++, i++) {
            int64_t next = Y == hh - 1 ? far : (wide ? (int64_t)b32[i + hw] : (int64_t)b16[i + hw]) + 1;
            int64_t d = edge[X] ? 0 : (next < far ? next : far);
            if (wide) b32[i] = (uint32_t)d; else b16[i] = (uint16_t)d;
        }
    }
    for (int64_t r = 0; r < n; r++) { best_d2[r] = 0; best_point[r] = -1; }
    for (int64_t X = 0; X < hw; X++) up[X] = far;
    for (int64_t Y = 0; Y < hh; Y++) {
        edge_points(regions, W, Y, hw, edge);
        int64_t i = Y * hw;
        for (int64_t X = 0; X < hw; X++, i++) {
            int64_t g = wide ? (int64_t)b32[i] : (int64_t)b16[i];
            up[X] = edge[X] ? 0 : (up[X] < far ? up[X] + 1 : far);
            if (up[X] < g) g = up[X];
            f[X] = g * g + X * X;
        }
        /* Lower envelope of the parabolas (x - q)^2 + g[q]^2: parabola v[k]
         * is lowest from num[k] / den[k] (den > 0) to where the next begins. */
        int64_t k = 0;
        v[0] = 0;
        for (int64_t q = 1; q < hw; q++) {
            int64_t sn, sd;
            for (;;) {
                int64_t p = v[k];
                sn = f[q] - f[p];
                sd = 2 * (q - p);
                if (k == 0 || sn * den[k] > num[k] * sd) break;
                k--;
            }
            k++;
            v[k] = q;
            num[k] = sn;
            den[k] = sd;
        }
        const int64_t last = k;
        const int64_t *row_regions = regions + ((Y + 1) >> 1) * W;
        k = 0;
        for (int64_t X = 0; X < hw; X++) {
            while (k < last && num[k + 1] < X * den[k + 1]) k++;
            if (edge[X]) continue;
            int64_t p = v[k], d2 = f[p] - p * p + (X - p) * (X - p);
            int64_t r = row_regions[(X + 1) >> 1];
            if (d2 > best_d2[r]) { best_d2[r] = d2; best_point[r] = Y * hw + X; }
        }
    }
    free(below); free(edge); free(up); free(f); free(v); free(num); free(den);
    return 0;
}
