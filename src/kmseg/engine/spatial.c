/* Spatial k-means passes over a pixel grid: see spatial.h. */
#include "spatial.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t i64;

/* A centre that may be nearest to some pixel of a tile, with the squared
 * spatial distance from the tile's bounding box to it: a lower bound of
 * its full distance to every pixel of the tile. */
typedef struct {
    double lb;
    int32_t c;
} candidate;

static int by_bound(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->lb != y->lb)
        return x->lb < y->lb ? -1 : 1;
    return (x->c > y->c) - (x->c < y->c);
}

/* Squared distance from pixel p = i * w + j to centre c. */
static inline double dist2(const spatial_grid *g, i64 p, i64 i, i64 j, const double *c)
{
    const double *col = g->colors + 3 * p;
    double e0 = col[0] - c[0], e1 = col[1] - c[1], e2 = col[2] - c[2];
    double ex = g->xs[j] - c[3], ey = g->ys[i] - c[4];
    return e0 * e0 + e1 * e1 + e2 * e2 + ex * ex + ey * ey;
}

typedef struct {
    i64 i0, i1, j0, j1; /* rows i0 .. i1-1, columns j0 .. j1-1 */
} tile;

static inline tile tile_at(const spatial_grid *g, i64 t)
{
    i64 ntx = (g->w + g->ts - 1) / g->ts;
    tile r;
    r.i0 = (t / ntx) * g->ts;
    r.j0 = (t % ntx) * g->ts;
    r.i1 = r.i0 + g->ts < g->h ? r.i0 + g->ts : g->h;
    r.j1 = r.j0 + g->ts < g->w ? r.j0 + g->ts : g->w;
    return r;
}

static inline i64 tile_count(const spatial_grid *g)
{
    return ((g->h + g->ts - 1) / g->ts) * ((g->w + g->ts - 1) / g->ts);
}

/* Squared spatial distance from the tile's bounding box to centre c. The
 * box's edges are pixel positions, so (rounding being monotone) it is at
 * most the computed spatial part of dist2 for every pixel of the tile. */
static inline double box_bound(const spatial_grid *g, const tile *t, const double *c)
{
    double xlo = g->xs[t->j0], xhi = g->xs[t->j1 - 1], ylo = g->ys[t->i0], yhi = g->ys[t->i1 - 1];
    double dx = c[3] < xlo ? xlo - c[3] : (c[3] > xhi ? c[3] - xhi : 0.0);
    double dy = c[4] < ylo ? ylo - c[4] : (c[4] > yhi ? c[4] - yhi : 0.0);
    return dx * dx + dy * dy;
}

/* The centres bucketed by the tile their position falls in (the pixel
 * column and row found by comparisons, so the bucketing is exact), to find
 * the centres within a distance of a tile without a look at all k. */
typedef struct {
    i64 ntx, nty;
    int32_t *start; /* ntx * nty + 1 */
    int32_t *ids;   /* k */
    int32_t *cell;  /* k */
} centre_index;

/* Index of the last of the n increasing values v[] at most x (0 if none). */
static inline i64 last_at_most(const double *v, i64 n, double x)
{
    i64 lo = 0, hi = n; /* v[0 .. lo-1] <= x < v[hi ..] */
    while (lo < hi) {
        i64 mid = (lo + hi) / 2;
        if (v[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? lo - 1 : 0;
}

static int index_init(centre_index *ix, const spatial_grid *g, i64 k)
{
    ix->ntx = (g->w + g->ts - 1) / g->ts;
    ix->nty = (g->h + g->ts - 1) / g->ts;
    ix->start = malloc((size_t)(ix->ntx * ix->nty + 1) * sizeof(int32_t));
    ix->ids = malloc((size_t)k * sizeof(int32_t));
    ix->cell = malloc((size_t)k * sizeof(int32_t));
    return ix->start && ix->ids && ix->cell ? 0 : -1;
}

static void index_free(centre_index *ix)
{
    free(ix->start); free(ix->ids); free(ix->cell);
}

static void index_build(centre_index *ix, const spatial_grid *g, const double *C, i64 k)
{
    i64 nc = ix->ntx * ix->nty;
    memset(ix->start, 0, (size_t)(nc + 1) * sizeof(int32_t));
    for (i64 c = 0; c < k; c++) {
        i64 tx = last_at_most(g->xs, g->w, C[5 * c + 3]) / g->ts;
        i64 ty = last_at_most(g->ys, g->h, C[5 * c + 4]) / g->ts;
        ix->cell[c] = (int32_t)(ty * ix->ntx + tx);
        ix->start[ix->cell[c] + 1]++;
    }
    for (i64 q = 0; q < nc; q++)
        ix->start[q + 1] += ix->start[q];
    for (i64 c = 0; c < k; c++) /* counting sort: ids in increasing order within a cell */
        ix->ids[ix->start[ix->cell[c]]++] = (int32_t)c;
    for (i64 q = nc; q > 0; q--)
        ix->start[q] = ix->start[q - 1];
    ix->start[0] = 0;
}

/* The tile range holding every centre whose squared spatial distance to
 * the tile's box is at most reach (a margin covers rounding). */
static void index_range(const centre_index *ix, const spatial_grid *g, const tile *t, double reach, i64 *tx0,
                        i64 *tx1, i64 *ty0, i64 *ty1)
{
    if (!(reach < INFINITY)) {
        *tx0 = *ty0 = 0;
        *tx1 = ix->ntx - 1;
        *ty1 = ix->nty - 1;
        return;
    }
    double r = sqrt(reach) * (1.0 + 1e-9) + 1e-300;
    *tx0 = last_at_most(g->xs, g->w, g->xs[t->j0] - r) / g->ts;
    *tx1 = last_at_most(g->xs, g->w, g->xs[t->j1 - 1] + r) / g->ts;
    *ty0 = last_at_most(g->ys, g->h, g->ys[t->i0] - r) / g->ts;
    *ty1 = last_at_most(g->ys, g->h, g->ys[t->i1 - 1] + r) / g->ts;
}

/* The centre nearest to the tile's middle pixel, by a scan of all k. */
static int32_t middle_guess(const spatial_grid *g, const tile *t, const double *C, i64 k)
{
    i64 i = (t->i0 + t->i1) / 2, j = (t->j0 + t->j1) / 2;
    double best = INFINITY;
    int32_t bi = 0;
    for (i64 c = 0; c < k; c++) {
        double d = dist2(g, i * g->w + j, i, j, C + 5 * c);
        if (d < best) {
            best = d;
            bi = (int32_t)c;
        }
    }
    return bi;
}

/* Nearest centre of the n pixels pts of tile t, starting from centre
 * guess[q] for pts[q]. Writes label[pts[q]] and best[pts[q]] (squared
 * distance) and, when second is not NULL, second[pts[q]]: a lower bound of
 * the squared distance to every other centre. cands: room for k. */
static void tile_nearest(const spatial_grid *g, const tile *t, const double *C, const centre_index *ix,
                         candidate *cands, const i64 *pts, i64 n, const int32_t *guess, int32_t *label,
                         double *best, double *second)
{
    double reach = 0.0; /* no pixel's nearest centre is farther than this */
    for (i64 q = 0; q < n; q++) {
        i64 p = pts[q];
        double d = dist2(g, p, p / g->w, p % g->w, C + 5 * guess[q]);
        best[p] = d;
        if (d > reach)
            reach = d;
    }
    i64 m = 0, tx0, tx1, ty0, ty1;
    index_range(ix, g, t, reach, &tx0, &tx1, &ty0, &ty1);
    for (i64 ty = ty0; ty <= ty1; ty++)
        for (i64 tx = tx0; tx <= tx1; tx++) {
            i64 cell = ty * ix->ntx + tx;
            for (i64 q = ix->start[cell]; q < ix->start[cell + 1]; q++) {
                int32_t c = ix->ids[q];
                double lb = box_bound(g, t, C + 5 * c);
                if (lb <= reach) {
                    cands[m].lb = lb;
                    cands[m].c = c;
                    m++;
                }
            }
        }
    qsort(cands, (size_t)m, sizeof(candidate), by_bound);
    for (i64 q = 0; q < n; q++) {
        i64 p = pts[q], i = p / g->w, j = p % g->w;
        double b = best[p], s = INFINITY, stop = reach; /* the centres not listed are farther */
        int32_t bi = guess[q];
        for (i64 r = 0; r < m; r++) {
            if (cands[r].lb > b) {
                stop = cands[r].lb;
                break;
            }
            int32_t c = cands[r].c;
            if (c == bi)
                continue;
            double d = dist2(g, p, i, j, C + 5 * c);
            if (d < b || (d == b && c < bi)) {
                s = b;
                b = d;
                bi = c;
            } else if (d < s) {
                s = d;
            }
        }
        label[p] = bi;
        best[p] = b;
        if (second)
            second[p] = s < stop ? s : stop;
    }
}

int spatial_assign(const spatial_grid *g, const double *C, i64 k, const uint8_t *mask, uint8_t *labels,
                   double *inertia)
{
    i64 side = g->ts, cap = side * side;
    candidate *cands = malloc((size_t)k * sizeof(candidate));
    i64 *pts = malloc((size_t)cap * sizeof(i64));
    int32_t *guess = malloc((size_t)cap * sizeof(int32_t));
    int32_t *lab = malloc((size_t)(g->h * g->w) * sizeof(int32_t));
    double *best = malloc((size_t)(g->h * g->w) * sizeof(double));
    centre_index ix;
    if (index_init(&ix, g, k) || !cands || !pts || !guess || !lab || !best) {
        free(cands); free(pts); free(guess); free(lab); free(best); index_free(&ix);
        return -1;
    }
    index_build(&ix, g, C, k);
    double total = 0.0;
    for (i64 ti = 0, nt = tile_count(g); ti < nt; ti++) {
        tile t = tile_at(g, ti);
        int32_t first = middle_guess(g, &t, C, k);
        i64 n = 0;
        for (i64 i = t.i0; i < t.i1; i++)
            for (i64 j = t.j0; j < t.j1; j++) {
                pts[n] = i * g->w + j;
                guess[n++] = first;
            }
        tile_nearest(g, &t, C, &ix, cands, pts, n, guess, lab, best, NULL);
    }
    for (i64 p = 0, np = g->h * g->w; p < np; p++) {
        labels[p] = (uint8_t)lab[p];
        if (!mask || mask[p])
            total += best[p];
    }
    *inertia = total;
    free(cands); free(pts); free(guess); free(lab); free(best); index_free(&ix);
    return 0;
}

double spatial_inertia(const spatial_grid *g, const double *C, const uint8_t *labels, const uint8_t *mask)
{
    double total = 0.0;
    for (i64 i = 0, p = 0; i < g->h; i++)
        for (i64 j = 0; j < g->w; j++, p++)
            if (!mask || mask[p])
                total += dist2(g, p, i, j, C + 5 * labels[p]);
    return total;
}

/* ------------------------------------------------------------- seeding */

static inline double weight_of(const double *w, i64 p)
{
    return w ? w[p] : 1.0;
}

static void copy_point(const spatial_grid *g, i64 p, double *c)
{
    memcpy(c, g->colors + 3 * p, 3 * sizeof(double));
    c[3] = g->xs[p % g->w];
    c[4] = g->ys[p / g->w];
}

/* The pixel where the running sum of weight * D passes r (the last pixel of
 * positive weight * D if rounding lets r reach the total). */
static i64 draw(const spatial_grid *g, const double *w, const double *D, const double *tile_sum, i64 nt,
                double r)
{
    double acc = 0.0;
    i64 last = -1, last_tile = -1;
    for (i64 ti = 0; ti < nt; ti++) {
        if (tile_sum[ti] <= 0.0)
            continue;
        last_tile = ti;
        if (acc + tile_sum[ti] <= r) {
            acc += tile_sum[ti];
            continue;
        }
        tile t = tile_at(g, ti);
        for (i64 i = t.i0; i < t.i1; i++)
            for (i64 j = t.j0; j < t.j1; j++) {
                i64 p = i * g->w + j;
                double v = weight_of(w, p) * D[p];
                if (v > 0.0) {
                    acc += v;
                    last = p;
                    if (acc > r)
                        return p;
                }
            }
    }
    if (last < 0 && last_tile >= 0) {
        tile t = tile_at(g, last_tile);
        for (i64 i = t.i0; i < t.i1; i++)
            for (i64 j = t.j0; j < t.j1; j++)
                if (weight_of(w, i * g->w + j) * D[i * g->w + j] > 0.0)
                    last = i * g->w + j;
    }
    return last;
}

/* Sum (into *sum) and largest D of the tile's pixels of positive weight,
 * with D lowered to the distance to centre c first when c is not NULL. */
static void tile_potential(const spatial_grid *g, const tile *t, const double *w, double *D, const double *c,
                           int lower, double *sum, double *max)
{
    double s = 0.0, mx = 0.0;
    for (i64 i = t->i0; i < t->i1; i++)
        for (i64 j = t->j0; j < t->j1; j++) {
            i64 p = i * g->w + j;
            double wp = weight_of(w, p);
            if (wp <= 0.0)
                continue;
            double d = D[p];
            if (c) {
                double e = dist2(g, p, i, j, c);
                if (e < d) {
                    d = e;
                    if (lower)
                        D[p] = e;
                }
            }
            s += wp * d;
            if (d > mx)
                mx = d;
        }
    *sum = s;
    *max = mx;
}

int spatial_seed(const spatial_grid *g, const double *w, i64 first, const double *uniforms, i64 k, i64 trials,
                 double *C)
{
    i64 np = g->h * g->w, nt = tile_count(g);
    double *D = malloc((size_t)np * sizeof(double));
    double *tile_sum = malloc((size_t)nt * sizeof(double));
    double *tile_max = malloc((size_t)nt * sizeof(double));
    if (!D || !tile_sum || !tile_max) {
        free(D); free(tile_sum); free(tile_max);
        return -1;
    }
    copy_point(g, first, C);
    for (i64 i = 0; i < g->h; i++)
        for (i64 j = 0; j < g->w; j++)
            D[i * g->w + j] = dist2(g, i * g->w + j, i, j, C);
    double total = 0.0;
    for (i64 ti = 0; ti < nt; ti++) {
        tile t = tile_at(g, ti);
        tile_potential(g, &t, w, D, NULL, 0, &tile_sum[ti], &tile_max[ti]);
        total += tile_sum[ti];
    }
    double cand[5], best_c[5];
    for (i64 c = 1; c < k; c++) {
        double best_pot = INFINITY;
        for (i64 r = 0; r < trials; r++) {
            i64 p = draw(g, w, D, tile_sum, nt, uniforms[(c - 1) * trials + r] * total);
            if (p < 0) { /* every pixel sits on a centre: repeat one */
                p = first;
            }
            copy_point(g, p, cand);
            double pot = 0.0;
            for (i64 ti = 0; ti < nt; ti++) {
                tile t = tile_at(g, ti);
                if (box_bound(g, &t, cand) >= tile_max[ti]) {
                    pot += tile_sum[ti]; /* no pixel of the tile is nearer to cand */
                } else {
                    double s, mx;
                    tile_potential(g, &t, w, D, cand, 0, &s, &mx);
                    pot += s;
                }
            }
            if (pot < best_pot) {
                best_pot = pot;
                memcpy(best_c, cand, sizeof cand);
            }
        }
        memcpy(C + 5 * c, best_c, sizeof best_c);
        total = 0.0;
        for (i64 ti = 0; ti < nt; ti++) {
            tile t = tile_at(g, ti);
            if (box_bound(g, &t, best_c) < tile_max[ti])
                tile_potential(g, &t, w, D, best_c, 1, &tile_sum[ti], &tile_max[ti]);
            total += tile_sum[ti];
        }
    }
    free(D); free(tile_sum); free(tile_max);
    return 0;
}

/* --------------------------------------------------------------- Lloyd */

typedef struct {
    const spatial_grid *g;
    const double *w;
    i64 k, np;
    int32_t *label; /* -1: not assigned yet */
    double *upper;  /* upper bound of the distance to the own centre */
    double *lower;  /* lower bound of the distance to every other centre */
    double *best, *second;
    candidate *cands;
    i64 *pts;
    int32_t *guess;
    centre_index ix; /* of the centres last assigned to */
} lloyd_state;

/* Assign every pixel whose bounds do not rule out a change. */
static void reassign(lloyd_state *st, const double *C)
{
    const spatial_grid *g = st->g;
    index_build(&st->ix, g, C, st->k);
    for (i64 ti = 0, nt = tile_count(g); ti < nt; ti++) {
        tile t = tile_at(g, ti);
        i64 n = 0;
        int32_t first = -1;
        for (i64 i = t.i0; i < t.i1; i++)
            for (i64 j = t.j0; j < t.j1; j++) {
                i64 p = i * g->w + j;
                if (weight_of(st->w, p) <= 0.0)
                    continue;
                int32_t own = st->label[p];
                if (own >= 0) {
                    if (st->upper[p] < st->lower[p])
                        continue;
                    st->upper[p] = sqrt(dist2(g, p, i, j, C + 5 * own));
                    if (st->upper[p] < st->lower[p])
                        continue;
                } else {
                    if (first < 0)
                        first = middle_guess(g, &t, C, st->k);
                    own = first;
                }
                st->pts[n] = p;
                st->guess[n++] = own;
            }
        if (n == 0)
            continue;
        tile_nearest(g, &t, C, &st->ix, st->cands, st->pts, n, st->guess, st->label, st->best, st->second);
        for (i64 q = 0; q < n; q++) {
            i64 p = st->pts[q];
            st->upper[p] = sqrt(st->best[p]);
            st->lower[p] = sqrt(st->second[p]);
        }
    }
}

/* Re-seed empty clusters on the pixels farthest from their nearest centre;
 * returns whether any centre moved. All labels are reset. */
static int repair(lloyd_state *st, double *C, const double *weight)
{
    const spatial_grid *g = st->g;
    int moved = 0;
    for (i64 p = 0; p < st->np; p++)
        st->label[p] = -1;
    reassign(st, C); /* exact nearest distances in st->best */
    for (i64 c = 0; c < st->k; c++) {
        if (weight[c] > 0.0)
            continue;
        i64 far = -1;
        double fd = 0.0;
        for (i64 p = 0; p < st->np; p++)
            if (weight_of(st->w, p) > 0.0 && st->best[p] > fd) {
                fd = st->best[p];
                far = p;
            }
        if (far < 0)
            break;
        copy_point(g, far, C + 5 * c);
        st->best[far] = 0.0;
        moved = 1;
    }
    for (i64 p = 0; p < st->np; p++)
        st->label[p] = -1;
    return moved;
}

int spatial_lloyd(const spatial_grid *g, const double *w, double *C, i64 k, i64 max_iter, double tol_abs,
                  double still, i64 *n_iter, int *converged, double *inertia)
{
    lloyd_state st;
    i64 cap = g->ts * g->ts;
    st.g = g;
    st.w = w;
    st.k = k;
    st.np = g->h * g->w;
    st.label = malloc((size_t)st.np * sizeof(int32_t));
    st.upper = malloc((size_t)st.np * sizeof(double));
    st.lower = malloc((size_t)st.np * sizeof(double));
    st.best = malloc((size_t)st.np * sizeof(double));
    st.second = malloc((size_t)st.np * sizeof(double));
    st.cands = malloc((size_t)k * sizeof(candidate));
    st.pts = malloc((size_t)cap * sizeof(i64));
    st.guess = malloc((size_t)cap * sizeof(int32_t));
    double *sums = malloc((size_t)k * 5 * sizeof(double));
    double *weight = malloc((size_t)k * sizeof(double));
    double *delta = malloc((size_t)k * sizeof(double));
    double *prev = malloc((size_t)k * 5 * sizeof(double));
    int ok = !index_init(&st.ix, g, k) && st.label && st.upper && st.lower && st.best && st.second
             && st.cands && st.pts && st.guess && sums && weight && delta && prev;
    if (ok) {
        for (i64 p = 0; p < st.np; p++)
            st.label[p] = -1;
        reassign(&st, C);
        *converged = 0;
        *n_iter = 0;
        for (i64 it = 1; it <= max_iter; it++) {
            *n_iter = it;
            memset(sums, 0, (size_t)k * 5 * sizeof(double));
            memset(weight, 0, (size_t)k * sizeof(double));
            for (i64 i = 0, p = 0; i < g->h; i++)
                for (i64 j = 0; j < g->w; j++, p++) {
                    double wp = weight_of(w, p);
                    if (wp <= 0.0)
                        continue;
                    double *s = sums + 5 * st.label[p];
                    const double *col = g->colors + 3 * p;
                    s[0] += wp * col[0];
                    s[1] += wp * col[1];
                    s[2] += wp * col[2];
                    s[3] += wp * g->xs[j];
                    s[4] += wp * g->ys[i];
                    weight[st.label[p]] += wp;
                }
            memcpy(prev, C, (size_t)k * 5 * sizeof(double));
            for (i64 c = 0; c < k; c++)
                if (weight[c] > 0.0)
                    for (int d = 0; d < 5; d++)
                        C[5 * c + d] = sums[5 * c + d] / weight[c];
            int empty = 0;
            for (i64 c = 0; c < k; c++)
                empty |= weight[c] <= 0.0;
            if (empty && repair(&st, C, weight)) {
                reassign(&st, C);
                continue;
            }
            double moved = 0.0, max1 = 0.0;
            for (i64 c = 0; c < k; c++) {
                double s2 = 0.0;
                for (int d = 0; d < 5; d++) {
                    double e = C[5 * c + d] - prev[5 * c + d];
                    s2 += e * e;
                }
                delta[c] = sqrt(s2);
                moved += delta[c] * delta[c];
                if (delta[c] > max1)
                    max1 = delta[c];
            }
            /* Bounds follow the centres, with a margin for rounding. A
             * pixel's lower bound l covers the other centres; one that was
             * farther than l + max1 is still farther than l, so only the
             * movement of the centres that could reach the tile within
             * l + max1 counts. */
            for (i64 ti = 0, nt = tile_count(g); ti < nt; ti++) {
                tile t = tile_at(g, ti);
                double lmax = -INFINITY;
                for (i64 i = t.i0; i < t.i1; i++)
                    for (i64 j = t.j0; j < t.j1; j++) {
                        i64 p = i * g->w + j;
                        if (st.label[p] >= 0 && st.lower[p] > lmax)
                            lmax = st.lower[p];
                    }
                if (lmax == -INFINITY)
                    continue;
                double local = 0.0;
                if (lmax > 0.0) {
                    double reach = (lmax + max1) * (1.0 + 1e-12);
                    i64 tx0, tx1, ty0, ty1;
                    reach *= reach;
                    index_range(&st.ix, g, &t, reach, &tx0, &tx1, &ty0, &ty1); /* st.ix: of prev */
                    for (i64 ty = ty0; ty <= ty1; ty++)
                        for (i64 tx = tx0; tx <= tx1; tx++) {
                            i64 cell = ty * st.ix.ntx + tx;
                            for (i64 q = st.ix.start[cell]; q < st.ix.start[cell + 1]; q++) {
                                int32_t c = st.ix.ids[q];
                                if (delta[c] > local && box_bound(g, &t, prev + 5 * c) <= reach)
                                    local = delta[c];
                            }
                        }
                }
                for (i64 i = t.i0; i < t.i1; i++)
                    for (i64 j = t.j0; j < t.j1; j++) {
                        i64 p = i * g->w + j;
                        int32_t own = st.label[p];
                        if (own < 0)
                            continue;
                        st.upper[p] = (st.upper[p] + delta[own]) * (1.0 + 1e-12);
                        st.lower[p] = (st.lower[p] - local) * (1.0 - 1e-12);
                    }
            }
            reassign(&st, C);
            if (moved <= (tol_abs > still ? tol_abs : still)) {
                *converged = 1;
                break;
            }
        }
        double total = 0.0;
        for (i64 i = 0, p = 0; i < g->h; i++)
            for (i64 j = 0; j < g->w; j++, p++) {
                double wp = weight_of(w, p);
                if (wp > 0.0)
                    total += wp * dist2(g, p, i, j, C + 5 * st.label[p]);
            }
        *inertia = total;
    }
    free(st.label); free(st.upper); free(st.lower); free(st.best); free(st.second);
    free(st.cands); free(st.pts); free(st.guess); free(sums); free(weight); free(delta); free(prev);
    index_free(&st.ix);
    return ok ? 0 : -1;
}
