/* The compiled passes of kmseg: pixel histogram and label lookup, the cube
 * levels, k-means++ seeding, nearest centres and the Lloyd passes over the
 * cube tree's items (Hamerly's bounds).
 *
 * Built with the Cython wrapper _kernels.pyx into one extension module
 * (setup.py), which checks every array before a call and releases the GIL
 * during it: callers run independent calls in threads. Every function is
 * single-threaded, allocates only its own scratch, and takes C-contiguous
 * arrays except where strides are passed. Compiled without floating-point
 * contraction (no FMA) and without fast-math, so that every sum rounds the
 * same way with every compiler: a seed gives the same bits everywhere.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

typedef int64_t i64;

/* ---------------------------------------------------------------- pixels */

#define MORTON(p) (sr[(p)[0]] | sg[(p)[s1]] | sb[(p)[2 * s1]])

void histogram(const uint8_t *flat, i64 n, i64 s0, i64 s1, const uint8_t *opaque,
               const uint32_t *sr, const uint32_t *sg, const uint32_t *sb,
               uint32_t *counts, uint32_t *seen)
{
    for (i64 i = 0; i < n; i++) {
        const uint8_t *p = flat + i * s0;
        uint32_t c = MORTON(p);
        if (seen)
            seen[c] += 1;
        if (!opaque || opaque[i])
            counts[c] += 1;
    }
}

void label_pixels(const uint8_t *flat, i64 n, i64 s0, i64 s1,
                  const uint32_t *sr, const uint32_t *sg, const uint32_t *sb,
                  const uint8_t *lut, uint8_t *out)
{
    for (i64 i = 0; i < n; i++) {
        const uint8_t *p = flat + i * s0;
        out[i] = lut[MORTON(p)];
    }
}

/* --------------------------------------------------------------- helpers */

static inline double dmin(double a, double b) { return b < a ? b : a; }
static inline double dmax(double a, double b) { return b > a ? b : a; }

/* Nearest centre of row `row` of Y (n, d); centres are the columns of Ct
 * (d, k). Squared distances to the nearest and second nearest in *b1, *b2. */
static i64 nearest_two(const double *Y, i64 row, i64 d, const double *Ct, i64 k,
                       double *buf, double *b1_out, double *b2_out)
{
    double b1 = INFINITY;
    const double *y = Y + row * d;
    if (d == 3) {
        double y0 = y[0], y1 = y[1], y2 = y[2];
        const double *c0 = Ct, *c1 = Ct + k, *c2 = Ct + 2 * k;
        for (i64 j = 0; j < k; j++) {
            double e0 = y0 - c0[j];
            double e1 = y1 - c1[j];
            double e2 = y2 - c2[j];
            double dd = e0 * e0 + e1 * e1 + e2 * e2;
            buf[j] = dd;
            b1 = dmin(b1, dd);
        }
    } else {
        for (i64 j = 0; j < k; j++)
            buf[j] = 0.0;
        for (i64 t = 0; t < d; t++) {
            double yt = y[t];
            const double *ct = Ct + t * k;
            for (i64 j = 0; j < k; j++) {
                double e = yt - ct[j];
                buf[j] += e * e;
            }
        }
        for (i64 j = 0; j < k; j++)
            b1 = dmin(b1, buf[j]);
    }
    i64 lab = 0;
    while (buf[lab] != b1)
        lab++;
    buf[lab] = INFINITY;
    double b2 = INFINITY;
    for (i64 j = 0; j < k; j++)
        b2 = dmin(b2, buf[j]);
    *b1_out = b1;
    *b2_out = b2;
    return lab;
}

static double dist(const double *Y, i64 row, i64 d, const double *Ct, i64 k, i64 j)
{
    double s = 0.0;
    for (i64 t = 0; t < d; t++) {
        double e = Y[row * d + t] - Ct[t * k + j];
        s += e * e;
    }
    return sqrt(s);
}

/* The flattened cube tree of kmseg._tree.Tree, and the items' arrays. */
typedef struct {
    i64 npts, d;
    const double *p_mean, *p_w, *n_mean, *n_w, *n_wsum, *n_radius;
    const i64 *n_ch0, *n_ch1;
} Tree;

typedef struct {
    i64 *id, *lab;
    double *up, *lo;
} Items;

static void add(const Tree *T, i64 g, i64 lab, double sign, double *cw, double *cs)
{
    i64 d = T->d;
    if (g < T->npts) {
        double w = T->p_w[g];
        cw[lab] += sign * w;
        for (i64 t = 0; t < d; t++)
            cs[lab * d + t] += sign * w * T->p_mean[g * d + t];
    } else {
        i64 n = g - T->npts;
        cw[lab] += sign * T->n_w[n];
        for (i64 t = 0; t < d; t++)
            cs[lab * d + t] += sign * T->n_wsum[n * d + t];
    }
}

static i64 descend(i64 first, i64 last, const double *Ct, i64 k, double slack, const Tree *T,
                   Items *I, i64 n_items, double *cw, double *cs, i64 *stack, double *buf)
{
    i64 npts = T->npts;
    for (i64 start = first; start < last; start++) {
        stack[0] = start;
        i64 sp = 1;
        while (sp > 0) {
            sp -= 1;
            i64 g = stack[sp];
            i64 lab;
            double d1, d2, r;
            if (g < npts) {
                lab = nearest_two(T->p_mean, g, T->d, Ct, k, buf, &d1, &d2);
                r = 0.0;
            } else {
                i64 n = g - npts;
                lab = nearest_two(T->n_mean, n, T->d, Ct, k, buf, &d1, &d2);
                r = T->n_radius[n];
            }
            d1 = sqrt(d1);
            d2 = sqrt(d2);
            if (g < npts || d2 - d1 > 2.0 * r + slack) {
                I->id[n_items] = g;
                I->lab[n_items] = lab;
                I->up[n_items] = d1;
                I->lo[n_items] = d2;
                n_items += 1;
                add(T, g, lab, 1.0, cw, cs);
            } else {
                for (i64 c = T->n_ch0[g - npts]; c < T->n_ch1[g - npts]; c++)
                    stack[sp++] = c;
            }
        }
    }
    return n_items;
}

/* ----------------------------------------------------------------- items */

#define TREE_ARGS i64 npts, i64 d, const double *p_mean, const double *p_w, const double *n_mean, \
    const double *n_w, const double *n_wsum, const double *n_radius, const i64 *n_ch0, const i64 *n_ch1
#define TREE_INIT {npts, d, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1}
#define ITEMS_ARGS i64 *it_id, i64 *it_lab, double *it_up, double *it_lo
#define ITEMS_INIT {it_id, it_lab, it_up, it_lo}

i64 items_init(i64 tops0, i64 tops1, const double *Ct, i64 k, double slack, TREE_ARGS, ITEMS_ARGS,
               double *cw, double *cs, i64 *stack, double *buf)
{
    Tree T = TREE_INIT;
    Items I = ITEMS_INIT;
    memset(cw, 0, (size_t)k * sizeof(double));
    memset(cs, 0, (size_t)(k * d) * sizeof(double));
    return descend(tops0, tops1, Ct, k, slack, &T, &I, 0, cw, cs, stack, buf);
}

i64 items_update(const double *Ct, i64 k, const double *delta, double slack, TREE_ARGS, ITEMS_ARGS,
                 i64 n_items, double *cw, double *cs, i64 *stack, double *buf)
{
    Tree T = TREE_INIT;
    Items I = ITEMS_INIT;
    i64 j1 = 0;
    for (i64 j = 0; j < k; j++)
        if (delta[j] > delta[j1])
            j1 = j;
    double a1 = delta[j1];
    double a2 = 0.0;
    for (i64 j = 0; j < k; j++)
        if (j != j1 && delta[j] > a2)
            a2 = delta[j];
    i64 end = n_items;
    i64 dead = 0;
    for (i64 i = 0; i < n_items; i++) {
        i64 g = it_id[i];
        i64 lab = it_lab[i];
        double up = it_up[i] + delta[lab];
        double lo = it_lo[i] - (lab == j1 ? a2 : a1);
        double r2 = g < npts ? 0.0 : 2.0 * n_radius[g - npts];
        if (up + r2 + slack < lo) {
            it_up[i] = up;
            it_lo[i] = lo;
            continue;
        }
        /* Hamerly's second test: the exact distance to its own centre */
        if (g < npts)
            up = dist(p_mean, g, d, Ct, k, lab);
        else
            up = dist(n_mean, g - npts, d, Ct, k, lab);
        if (up + r2 + slack < lo) {
            it_up[i] = up;
            it_lo[i] = lo;
            continue;
        }
        i64 nw;
        double d1, d2;
        if (g < npts)
            nw = nearest_two(p_mean, g, d, Ct, k, buf, &d1, &d2);
        else
            nw = nearest_two(n_mean, g - npts, d, Ct, k, buf, &d1, &d2);
        d1 = sqrt(d1);
        d2 = sqrt(d2);
        if (r2 == 0.0 || d2 - d1 > r2 + slack) {
            it_up[i] = d1;
            it_lo[i] = d2;
            if (nw != lab) {
                add(&T, g, lab, -1.0, cw, cs);
                add(&T, g, nw, 1.0, cw, cs);
                it_lab[i] = nw;
            }
        } else { /* the cube straddles a boundary: open it */
            add(&T, g, lab, -1.0, cw, cs);
            it_id[i] = -1;
            dead += 1;
            i64 n = g - npts;
            end = descend(n_ch0[n], n_ch1[n], Ct, k, slack, &T, &I, end, cw, cs, stack, buf);
        }
    }
    if (dead == 0)
        return end;
    i64 out = 0;
    for (i64 i = 0; i < end; i++) {
        if (it_id[i] >= 0) {
            it_id[out] = it_id[i];
            it_lab[out] = it_lab[i];
            it_up[out] = it_up[i];
            it_lo[out] = it_lo[i];
            out += 1;
        }
    }
    return out;
}

double items_inertia(const double *Ct, i64 k, TREE_ARGS, ITEMS_ARGS, i64 n_items,
                     const double *p_scatter, const double *n_scatter)
{
    (void)n_mean; (void)n_wsum; (void)n_radius; (void)n_ch0; (void)n_ch1; (void)it_up; (void)it_lo;
    double total = 0.0;
    for (i64 i = 0; i < n_items; i++) {
        i64 g = it_id[i];
        if (g < npts) {
            double dd = dist(p_mean, g, d, Ct, k, it_lab[i]);
            total += p_scatter[g] + p_w[g] * dd * dd;
        } else {
            double dd = dist(n_mean, g - npts, d, Ct, k, it_lab[i]);
            total += n_scatter[g - npts] + n_w[g - npts] * dd * dd;
        }
    }
    return total;
}

void items_labels(i64 npts, const i64 *it_id, const i64 *it_lab, i64 n_items,
                  const i64 *n_pt0, const i64 *n_pt1, uint8_t *out)
{
    for (i64 i = 0; i < n_items; i++) {
        i64 g = it_id[i];
        if (g < npts)
            out[g] = (uint8_t)it_lab[i];
        else
            for (i64 p = n_pt0[g - npts]; p < n_pt1[g - npts]; p++)
                out[p] = (uint8_t)it_lab[i];
    }
}

/* ------------------------------------------------------- nearest centres */

int nearest_centres(const double *X, i64 n, i64 d, const double *Ct, i64 k, uint8_t *labels, double *min_sq)
{
    double *buf = malloc((size_t)k * sizeof(double));
    if (!buf)
        return -1;
    for (i64 i = 0; i < n; i++) {
        double d1, d2;
        labels[i] = (uint8_t)nearest_two(X, i, d, Ct, k, buf, &d1, &d2);
        min_sq[i] = d1;
    }
    free(buf);
    return 0;
}

/* ------------------------------------------------------ k-means++ seeding */

/* Centres c0 .. c1 - 1 of one greedy k-means++ run, so that a long run can be
   done a few centres at a time (and stopped between calls). closest (n):
   every point's squared distance to the centres chosen so far, updated here
   (with c0 == 0 it is made from centre 0, point `first`). uniforms: this
   run's (k - 1, trials); centers: its (k, d). */
int seed_plusplus_steps(const double *X, i64 n, i64 d, const double *w, i64 first, const double *uniforms,
                        i64 k, i64 trials, i64 c0, i64 c1, double *closest, double *centers)
{
    double *cum = malloc((size_t)n * sizeof(double));
    double *cand_d = malloc((size_t)(trials * n) * sizeof(double));
    if (!cum || !cand_d) {
        free(cum); free(cand_d);
        return -1;
    }
    if (c0 == 0) {
        const double *x0 = X + first * d;
        for (i64 t = 0; t < d; t++)
            centers[t] = x0[t];
        for (i64 i = 0; i < n; i++) {
            double s = 0.0;
            for (i64 t = 0; t < d; t++) {
                double e = X[i * d + t] - x0[t];
                s += e * e;
            }
            closest[i] = s;
        }
        c0 = 1;
    }
    for (i64 c = c0; c < c1 && c < k; c++) {
        double total = 0.0;
        for (i64 i = 0; i < n; i++) {
            total += closest[i] * w[i];
            cum[i] = total;
        }
        double best_pot = INFINITY;
        i64 best_t = 0, best_idx = 0;
        for (i64 tr = 0; tr < trials; tr++) {
            double target = uniforms[(c - 1) * trials + tr] * total;
            i64 lo = 0, hi = n; /* first index with cum > target */
            while (lo < hi) {
                i64 mid = (lo + hi) / 2;
                if (cum[mid] <= target)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            i64 idx = lo < n - 1 ? lo : n - 1;
            const double *xi = X + idx * d;
            double *cd = cand_d + tr * n;
            double pot = 0.0;
            for (i64 i = 0; i < n; i++) {
                double s = 0.0;
                for (i64 t = 0; t < d; t++) {
                    double e = X[i * d + t] - xi[t];
                    s += e * e;
                }
                s = dmin(s, closest[i]);
                cd[i] = s;
                pot += w[i] * s;
            }
            if (pot < best_pot) {
                best_pot = pot;
                best_t = tr;
                best_idx = idx;
            }
        }
        memcpy(closest, cand_d + best_t * n, (size_t)n * sizeof(double));
        for (i64 t = 0; t < d; t++)
            centers[c * d + t] = X[best_idx * d + t];
    }
    free(cum); free(cand_d);
    return 0;
}

int seed_plusplus(const double *X, i64 n, i64 d, const double *w, const i64 *first,
                  const double *uniforms, i64 runs, i64 k, i64 trials, double *centers)
{
    double *closest = malloc((size_t)n * sizeof(double));
    double *mine = malloc((size_t)((k > 1 ? k - 1 : 1) * trials) * sizeof(double));
    if (!closest || !mine) {
        free(closest); free(mine);
        return -1;
    }
    int failed = 0;
    for (i64 r = 0; r < runs && !failed; r++) {
        for (i64 c = 1; c < k; c++)  /* this run's uniforms, (k - 1, trials) */
            memcpy(mine + (c - 1) * trials, uniforms + ((c - 1) * runs + r) * trials,
                   (size_t)trials * sizeof(double));
        failed = seed_plusplus_steps(X, n, d, w, first[r], mine, k, trials, 0, k, closest, centers + r * k * d);
    }
    free(closest); free(mine);
    return failed;
}

/* ------------------------------------------------------------- cube levels */

i64 count_runs(const uint32_t *keys, i64 m)
{
    i64 n = 1;
    for (i64 i = 1; i < m; i++)
        if (keys[i] != keys[i - 1])
            n += 1;
    return n;
}

/* Outputs are zeroed by the caller (weight, wsum, scatter, radius). */
void cube_level(const uint32_t *keys, i64 m, i64 d, const double *mean, const double *w,
                const double *scatter, const double *radius, i64 n, i64 *child, double *weight,
                double *wsum, double *cmean, double *cscatter, double *cradius, uint32_t *out_keys)
{
    i64 c = 0;
    child[0] = 0;
    for (i64 i = 1; i < m; i++) {
        if (keys[i] != keys[i - 1]) {
            out_keys[c] = keys[i - 1] >> 3;
            c += 1;
            child[c] = i;
        }
    }
    out_keys[c] = keys[m - 1] >> 3;
    child[n] = m;
    for (i64 j = 0; j < n; j++) {
        for (i64 i = child[j]; i < child[j + 1]; i++) {
            weight[j] += w[i];
            for (i64 t = 0; t < d; t++)
                wsum[j * d + t] += w[i] * mean[i * d + t];
        }
        for (i64 t = 0; t < d; t++)
            cmean[j * d + t] = wsum[j * d + t] / weight[j];
        for (i64 i = child[j]; i < child[j + 1]; i++) {
            double s = 0.0;
            for (i64 t = 0; t < d; t++) {
                double e = mean[i * d + t] - cmean[j * d + t];
                s += e * e;
            }
            cscatter[j] += scatter[i] + w[i] * s;
            cradius[j] = dmax(cradius[j], sqrt(s) + radius[i]);
        }
    }
}

void morton_to_rgb(const uint32_t *codes, i64 n, const uint32_t *unmorton, uint8_t *out)
{
    for (i64 i = 0; i < n; i++) {
        uint32_t c = codes[i];
        uint32_t plain = unmorton[c & 255] | unmorton[256 + ((c >> 8) & 255)] | unmorton[512 + ((c >> 16) & 255)];
        out[3 * i] = (uint8_t)(plain >> 16);
        out[3 * i + 1] = (uint8_t)((plain >> 8) & 255);
        out[3 * i + 2] = (uint8_t)(plain & 255);
    }
}

i64 count_nonzero(const uint32_t *counts, i64 n)
{
    i64 m = 0;
    for (i64 i = 0; i < n; i++)
        m += counts[i] != 0;
    return m;
}

void nonzero_counts(const uint32_t *counts, i64 n, uint32_t *idx, double *val)
{
    i64 m = 0;
    for (i64 i = 0; i < n; i++) {
        if (counts[i]) {
            idx[m] = (uint32_t)i;
            val[m] = counts[i];
            m += 1;
        }
    }
}
