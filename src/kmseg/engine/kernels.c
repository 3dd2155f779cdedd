/* The compiled passes of kmseg: pixel histogram and label lookup, the cube
 * levels, k-means++ seeding, nearest centres and the Lloyd passes over the
 * cube tree's items (the filtering algorithm down the tree, Hamerly's bounds,
 * and each item compared only with the centres near its own).
 *
 * Built with the Cython wrapper _kernels.pyx into one extension module
 * (setup.py), which checks every array before a call and releases the GIL
 * during it: callers run independent calls in threads. Every function is
 * single-threaded, allocates only its own scratch, and takes C-contiguous
 * arrays except where strides are passed; none keeps any state between calls. Compiled without floating-point
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

/* Squared distance of row `row` of Y (n, d) to centre j (column j of Ct (d, k)),
 * summed in the order nearest_two sums it: the same bits. */
static inline double sq_to(const double *y, i64 d, const double *Ct, i64 k, i64 j)
{
    if (d == 3) {
        double e0 = y[0] - Ct[j];
        double e1 = y[1] - Ct[k + j];
        double e2 = y[2] - Ct[2 * k + j];
        return e0 * e0 + e1 * e1 + e2 * e2;
    }
    double s = 0.0;
    for (i64 t = 0; t < d; t++) {
        double e = y[t] - Ct[t * k + j];
        s += e * e;
    }
    return s;
}

/* Fold candidate j at squared distance dd into the nearest (b1, l1) and the
 * second nearest (b2) so far: the lowest index wins ties, as in nearest_two,
 * whatever order the candidates come in. */
static inline void fold(double dd, i64 j, double *b1, i64 *l1, double *b2)
{
    if (dd < *b1 || (dd == *b1 && j < *l1)) {
        *b2 = *b1;
        *b1 = dd;
        *l1 = j;
    } else if (dd < *b2) {
        *b2 = dd;
    }
}

/* fold, keeping also the second nearest's index (*l2) and the third nearest
 * distance (*b3): the same nearest and second nearest distance as fold. */
static inline void fold3(double dd, i64 j, double *b1, i64 *l1, double *b2, i64 *l2, double *b3)
{
    if (dd < *b1 || (dd == *b1 && j < *l1)) {
        *b3 = *b2;
        *b2 = *b1;
        *l2 = *l1;
        *b1 = dd;
        *l1 = j;
    } else if (dd < *b2) {
        *b3 = *b2;
        *b2 = dd;
        *l2 = j;
    } else if (dd < *b3) {
        *b3 = dd;
    }
}

/* The centres' geometry for one pass: the distances between centres (cc, k x k),
 * half the distance from each centre to its nearest other (half), and, made when
 * first needed, each centre's NEAR nearest other centres in order of distance
 * (near_j, near_d; ties by index), so that a colour near centre a is compared
 * only with the centres near a (the triangle inequality bounds the rest). */
#define NEAR 32

typedef struct {
    i64 k, d, n_near;
    const double *Ct;
    double *cc, *half, *near_d;
    int32_t *near_j;
    uint8_t *have;
    i64 *mark, stamp;  /* scratch: which centres a list holds */
} Centres;

static int centres_init(Centres *G, const double *Ct, i64 k, i64 d)
{
    G->k = k;
    G->d = d;
    G->Ct = Ct;
    G->n_near = k - 1 < NEAR ? k - 1 : NEAR;
    G->cc = malloc((size_t)(k * k) * sizeof(double));
    G->half = malloc((size_t)k * sizeof(double));
    G->near_d = malloc((size_t)(k * (G->n_near + 1)) * sizeof(double));
    G->near_j = malloc((size_t)(k * (G->n_near + 1)) * sizeof(int32_t));
    G->have = calloc((size_t)k, 1);
    G->mark = calloc((size_t)k, sizeof(i64));
    G->stamp = 0;
    if (!G->cc || !G->half || !G->near_d || !G->near_j || !G->have || !G->mark)
        return -1;
    double *col = malloc((size_t)d * sizeof(double));
    if (!col)
        return -1;
    for (i64 a = 0; a < k; a++) {
        for (i64 t = 0; t < d; t++)
            col[t] = Ct[t * k + a];
        G->cc[a * k + a] = 0.0;
        for (i64 b = a + 1; b < k; b++) {
            double s = sqrt(sq_to(col, d, Ct, k, b));
            G->cc[a * k + b] = s;
            G->cc[b * k + a] = s;
        }
    }
    free(col);
    for (i64 a = 0; a < k; a++) {
        double m = INFINITY;
        for (i64 b = 0; b < k; b++)
            if (b != a)
                m = dmin(m, G->cc[a * k + b]);
        G->half[a] = 0.5 * m;
    }
    return 0;
}

static void centres_free(Centres *G)
{
    free(G->cc); free(G->half); free(G->near_d); free(G->near_j); free(G->have); free(G->mark);
}

/* Centre a's n_near nearest other centres, by insertion (k is at most a few
 * hundred), and in near_d[n_near] the distance of the nearest one not listed. */
static void centres_near(Centres *G, i64 a)
{
    i64 k = G->k, L = G->n_near, n = 0;
    double *nd = G->near_d + a * (L + 1);
    int32_t *nj = G->near_j + a * (L + 1);
    const double *row = G->cc + a * k;
    for (i64 b = 0; b < k; b++) {
        if (b == a)
            continue;
        double v = row[b];
        if (n == L && !(v < nd[L - 1]))
            continue;
        i64 last = n < L ? n++ : L - 1; /* v's slot: nd[p .. last - 1] move up one */
        i64 p = 0, hi = last;           /* p: the first listed centre farther than v (ties stay in index order) */
        while (p < hi) {
            i64 mid = (p + hi) / 2;
            if (v < nd[mid])
                hi = mid;
            else
                p = mid + 1;
        }
        memmove(nd + p + 1, nd + p, (size_t)(last - p) * sizeof(double));
        memmove(nj + p + 1, nj + p, (size_t)(last - p) * sizeof(int32_t));
        nd[p] = v;
        nj[p] = (int32_t)b;
    }
    double beyond = INFINITY;
    if (L < k - 1) {
        G->stamp += 1;
        for (i64 t = 0; t < L; t++)
            G->mark[nj[t]] = G->stamp;
        for (i64 b = 0; b < k; b++)
            if (b != a && G->mark[b] != G->stamp)
                beyond = dmin(beyond, row[b]);
    }
    nd[L] = beyond;
    G->have[a] = 1;
}

/* The flattened cube tree of kmseg._tree.Tree, and the items' arrays. */
typedef struct {
    i64 npts, d;
    const double *p_mean, *p_w, *n_mean, *n_w, *n_wsum, *n_radius;
    const i64 *n_ch0, *n_ch1;
} Tree;

/* Item i: id, its cluster lab, up >= its distance to its centre; two lower
 * bounds (Drake and Hamerly's adaptive bounds with b = 2): lo <= its distance
 * to centre sec (the second nearest when last computed) and lo3 <= its
 * distance to every centre other than lab and sec. Hamerly's single bound
 * loosens by the largest movement of any centre each pass; lo loosens by
 * sec's own movement only, which near convergence is typically several
 * times smaller, so fewer items near a boundary need their distances. */
typedef struct {
    i64 *id, *lab;
    double *up, *lo;
    int32_t *sec;
    double *lo3;
} Items;

/* One pass's shared state: the tree, the items, the centres and the clusters' sums. */
typedef struct {
    const Tree *T;
    Items *I;
    const double *Ct;
    i64 k;
    double slack;
    double *cw, *cs;
    int32_t *cand;   /* (height + 2) x k candidate lists, one per depth */
    double *cdist;   /* (height + 2) x k their squared distances */
} Pass;

/* Item i's lower bounds: exact distance s2 to centre l2 (none: -1) and
 * lower bound s3 on the distance to every centre other than lab and l2. */
static inline void set_lower(Items *I, i64 i, i64 lab, i64 l2, double s2, double s3)
{
    if (l2 < 0) {
        I->sec[i] = (int32_t)lab;
        I->lo[i] = I->lo3[i] = dmin(s2, s3);
    } else {
        I->sec[i] = (int32_t)l2;
        I->lo[i] = s2;
        I->lo3[i] = s3;
    }
}

static inline const double *mean_of(const Tree *T, i64 g)
{
    return g < T->npts ? T->p_mean + g * T->d : T->n_mean + (g - T->npts) * T->d;
}

static inline double radius_of(const Tree *T, i64 g)
{
    return g < T->npts ? 0.0 : T->n_radius[g - T->npts];
}

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

/* The filtering algorithm (Kanungo et al. 2002) on the cube tree: item g is
 * assigned whole when its nearest centre is nearer than any other by more
 * than its diameter, else its children are, each with the candidates that
 * can be nearest to one of g's colours. `cand` (n_cand) holds every centre
 * that can be nearest to a colour of g, ties included; `pb` bounds from below
 * the distance from any colour of g to any centre not in `cand`. Returns the
 * new number of items. */
static i64 descend(Pass *P, i64 g, const int32_t *cand, i64 n_cand, double pb, i64 depth, i64 n_items)
{
    const Tree *T = P->T;
    const double *m = mean_of(T, g);
    double r = radius_of(T, g);
    double *dist = P->cdist + depth * P->k;
    double b1 = INFINITY, b2 = INFINITY, b3 = INFINITY;
    i64 l1 = -1, l2 = -1;
    for (i64 s = 0; s < n_cand; s++) {
        i64 j = cand[s];
        double dd = sq_to(m, T->d, P->Ct, P->k, j);
        dist[s] = dd;
        fold3(dd, j, &b1, &l1, &b2, &l2, &b3);
    }
    double d1 = sqrt(b1), d2 = dmin(sqrt(b2), pb);
    if (g < T->npts || d2 - d1 > 2.0 * r + P->slack) {
        Items *I = P->I;
        I->id[n_items] = g;
        I->lab[n_items] = l1;
        I->up[n_items] = d1;
        set_lower(I, n_items, l1, l2, sqrt(b2), dmin(sqrt(b3), pb));
        add(T, g, l1, 1.0, P->cw, P->cs);
        return n_items + 1;
    }
    /* a colour y of g has |y - m| <= r, so its nearest centre c has
     * |c - m| <= |c - y| + r <= |c1 - y| + r <= d1 + 2r */
    double reach = d1 + 2.0 * r + P->slack;
    reach *= reach;
    int32_t *next = P->cand + (depth + 1) * P->k;
    i64 n_next = 0;
    double pb_next = pb;
    for (i64 s = 0; s < n_cand; s++) {
        if (dist[s] <= reach)
            next[n_next++] = cand[s];
        else
            pb_next = dmin(pb_next, sqrt(dist[s]) - r);
    }
    i64 n = g - T->npts;
    for (i64 c = T->n_ch0[n]; c < T->n_ch1[n]; c++)
        n_items = descend(P, c, next, n_next, pb_next, depth + 1, n_items);
    return n_items;
}

static int pass_init(Pass *P, const Tree *T, Items *I, const double *Ct, i64 k, double slack, i64 height,
                     double *cw, double *cs)
{
    P->T = T;
    P->I = I;
    P->Ct = Ct;
    P->k = k;
    P->slack = slack;
    P->cw = cw;
    P->cs = cs;
    P->cand = malloc((size_t)((height + 2) * k) * sizeof(int32_t));
    P->cdist = malloc((size_t)((height + 2) * k) * sizeof(double));
    return P->cand && P->cdist ? 0 : -1;
}

static void pass_free(Pass *P)
{
    free(P->cand);
    free(P->cdist);
}

/* ----------------------------------------------------------------- items */

#define TREE_ARGS i64 npts, i64 d, const double *p_mean, const double *p_w, const double *n_mean, \
    const double *n_w, const double *n_wsum, const double *n_radius, const i64 *n_ch0, const i64 *n_ch1
#define TREE_INIT {npts, d, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1}
#define ITEMS_ARGS i64 *it_id, i64 *it_lab, double *it_up, double *it_lo, int32_t *it_sec, double *it_lo3
#define ITEMS_INIT {it_id, it_lab, it_up, it_lo, it_sec, it_lo3}

i64 items_init(i64 tops0, i64 tops1, const double *Ct, i64 k, double slack, TREE_ARGS, i64 height, ITEMS_ARGS,
               double *cw, double *cs)
{
    Tree T = TREE_INIT;
    Items I = ITEMS_INIT;
    Pass P;
    memset(cw, 0, (size_t)k * sizeof(double));
    memset(cs, 0, (size_t)(k * d) * sizeof(double));
    if (pass_init(&P, &T, &I, Ct, k, slack, height, cw, cs)) {
        pass_free(&P);
        return -1;
    }
    for (i64 j = 0; j < k; j++)
        P.cand[j] = (int32_t)j;
    i64 n_items = 0;
    for (i64 g = tops0; g < tops1; g++)
        n_items = descend(&P, g, P.cand, k, INFINITY, 0, n_items);
    pass_free(&P);
    return n_items;
}

/* Item g (mean m, at exact distance up from its centre a) against the centres
 * near a, in order of their distance from a: a centre c with |c - a| > up + b
 * is farther than b from m, so the scan stops once b, the second nearest
 * found, is below |c - a| - up. Gives the nearest (the lowest index of the
 * tied ones) and the exact second nearest, as a scan over every centre would. */
static i64 nearest_near(Centres *G, const double *m, i64 a, double up_sq, double slack,
                        double *b1_out, double *b2_out, i64 *l2_out, double *s3_out)
{
    i64 k = G->k, L = G->n_near;
    if (!G->have[a])
        centres_near(G, a);
    const double *nd = G->near_d + a * (L + 1);
    const int32_t *nj = G->near_j + a * (L + 1);
    double up = sqrt(up_sq) + slack;
    double b1 = up_sq, b2 = INFINITY, b3 = INFINITY, s2 = INFINITY;
    double unseen = INFINITY;  /* bound on the distances of the centres not compared */
    i64 l1 = a, l2 = -1;
    i64 t = 0;
    for (; t < L; t++) {
        if (nd[t] > s2 + up)
            break;
        double dd = sq_to(m, G->d, G->Ct, k, nj[t]);
        double old2 = b2;
        fold3(dd, nj[t], &b1, &l1, &b2, &l2, &b3);
        if (b2 != old2)
            s2 = sqrt(b2);
    }
    if (t < L || nd[L] > s2 + up) {
        unseen = nd[t] - up;  /* every centre not compared is at least nd[t] from a */
    } else { /* past the list: the others, in index order */
        const double *row = G->cc + a * k;
        G->stamp += 1;
        for (i64 u = 0; u < L; u++)
            G->mark[nj[u]] = G->stamp;
        for (i64 j = 0; j < k; j++) {
            if (j == a || G->mark[j] == G->stamp)
                continue;
            if (row[j] > s2 + up) {
                unseen = dmin(unseen, row[j] - up);
                continue;
            }
            double dd = sq_to(m, G->d, G->Ct, k, j);
            double old2 = b2;
            fold3(dd, j, &b1, &l1, &b2, &l2, &b3);
            if (b2 != old2)
                s2 = sqrt(b2);
        }
    }
    *b1_out = b1;
    *b2_out = b2;
    *l2_out = l2;
    *s3_out = dmin(sqrt(b3), unseen);
    return l1;
}

i64 items_update(const double *Ct, i64 k, const double *delta, double slack, TREE_ARGS, i64 height, ITEMS_ARGS,
                 i64 n_items, double *cw, double *cs)
{
    Tree T = TREE_INIT;
    Items I = ITEMS_INIT;
    Pass P;
    Centres G;
    memset(&G, 0, sizeof G);
    if (pass_init(&P, &T, &I, Ct, k, slack, height, cw, cs) || centres_init(&G, Ct, k, d)) {
        pass_free(&P);
        centres_free(&G);
        return -1;
    }
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
    i64 dead = 0, first_dead = 0;
    for (i64 i = 0; i < n_items; i++) {
        i64 g = it_id[i];
        i64 lab = it_lab[i];
        i64 sec = it_sec[i];
        double up = it_up[i] + delta[lab];
        double lo3 = it_lo3[i] - (lab == j1 || sec == j1 ? a2 : a1);
        double lo2 = sec == lab ? lo3 : it_lo[i] - delta[sec];
        double r = radius_of(&T, g), r2 = 2.0 * r;
        if (up + r2 + slack < dmin(lo2, lo3)) {
            it_up[i] = up;
            it_lo[i] = lo2;
            it_lo3[i] = lo3;
            continue;
        }
        /* Hamerly's second test, with the exact distance to its own centre, and
         * Elkan's: any other centre c has |m - c| >= |c - a| - up >= 2 half[a] - up */
        const double *m = mean_of(&T, g);
        double up_sq = sq_to(m, d, Ct, k, lab);
        up = sqrt(up_sq);
        double elkan = 2.0 * G.half[lab] - up;
        lo2 = dmax(lo2, elkan);
        lo3 = dmax(lo3, elkan);
        if (up + r2 + slack < dmin(lo2, lo3)) {
            it_up[i] = up;
            it_lo[i] = lo2;
            it_lo3[i] = lo3;
            continue;
        }
        double d1, d2, s3;
        i64 l2;
        i64 nw = nearest_near(&G, m, lab, up_sq, slack, &d1, &d2, &l2, &s3);
        d1 = sqrt(d1);
        d2 = sqrt(d2);
        if (r2 == 0.0 || d2 - d1 > r2 + slack) {
            it_up[i] = d1;
            set_lower(&I, i, nw, l2, d2, s3);
            if (nw != lab) {
                add(&T, g, lab, -1.0, cw, cs);
                add(&T, g, nw, 1.0, cw, cs);
                it_lab[i] = nw;
            }
            continue;
        }
        /* the cube straddles a boundary: open it. The centres that can be nearest
         * to one of its colours are within d1 + 2r of m, so within up + d1 + 2r of
         * centre a; the others are farther than |c - m| - r from every colour. */
        add(&T, g, lab, -1.0, cw, cs);
        it_id[i] = -1;
        if (dead == 0)
            first_dead = i;
        dead += 1;
        double reach = d1 + r2 + slack, pb = INFINITY;
        double reach_sq = reach * reach, around = up + reach;
        const double *row = G.cc + lab * k;
        i64 n_cand = 0;
        for (i64 j = 0; j < k; j++) {
            if (row[j] > around) {
                pb = dmin(pb, row[j] - up - r);
                continue;
            }
            double dd = sq_to(m, d, Ct, k, j);
            if (dd <= reach_sq)
                P.cand[n_cand++] = (int32_t)j;
            else
                pb = dmin(pb, sqrt(dd) - r);
        }
        i64 n = g - npts;
        for (i64 c = n_ch0[n]; c < n_ch1[n]; c++)
            end = descend(&P, c, P.cand, n_cand, pb, 0, end);
    }
    pass_free(&P);
    centres_free(&G);
    if (dead == 0)
        return end;
    i64 out = first_dead; /* the items before it stay where they are */
    for (i64 i = first_dead; i < end; i++) {
        if (it_id[i] >= 0) {
            it_id[out] = it_id[i];
            it_lab[out] = it_lab[i];
            it_up[out] = it_up[i];
            it_lo[out] = it_lo[i];
            it_sec[out] = it_sec[i];
            it_lo3[out] = it_lo3[i];
            out += 1;
        }
    }
    return out;
}

double items_inertia(const double *Ct, i64 k, TREE_ARGS, ITEMS_ARGS, i64 n_items,
                     const double *p_scatter, const double *n_scatter)
{
    (void)n_mean; (void)n_wsum; (void)n_radius; (void)n_ch0; (void)n_ch1; (void)it_up; (void)it_lo; (void)it_sec; (void)it_lo3;
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

static inline double sq_rows(const double *x, const double *y, i64 d)
{
    if (d == 3) { /* the loop below, unrolled: the same sums in the same order */
        double e0 = x[0] - y[0], e1 = x[1] - y[1], e2 = x[2] - y[2];
        return e0 * e0 + e1 * e1 + e2 * e2;
    }
    double s = 0.0;
    for (i64 t = 0; t < d; t++) {
        double e = x[t] - y[t];
        s += e * e;
    }
    return s;
}

typedef struct {
    double key;
    i64 idx;
} Keyed;

static int by_key_desc(const void *pa, const void *pb)
{
    const Keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Link the points idx[0..m) into one list, farthest from their centre first. */
static i64 link_sorted(const i64 *idx, i64 m, const double *closest, Keyed *tmp, i64 *next)
{
    for (i64 i = 0; i < m; i++) {
        tmp[i].key = closest[idx[i]];
        tmp[i].idx = idx[i];
    }
    qsort(tmp, (size_t)m, sizeof(Keyed), by_key_desc);
    for (i64 i = 0; i < m; i++)
        next[tmp[i].idx] = i + 1 < m ? tmp[i + 1].idx : -1;
    return m ? tmp[0].idx : -1;
}

/* Centres c0 .. c1 - 1 of one run of greedy k-means++ (Arthur and
 * Vassilvitskii; scikit-learn's greedy variant), so that a long run can be
 * done a few centres at a time and stopped between calls. A candidate's
 * potential is the current one less what it gains; the points are kept in
 * lists by their nearest centre, farthest first, so that the gain is summed
 * over the points that can move only: a point at distance R from its centre
 * c is no nearer a candidate x than c when |x - c| >= 2R (the triangle
 * inequality), and so are the points after it in c's list.
 * The run's state between calls: closest (n), every point's squared distance
 * to the centres chosen so far; head (k) and next (n), the lists. With
 * c0 == 0 they are made here from centre 0, point `first`. uniforms: this
 * run's (k - 1, trials); C: its (k, d) centres. */
int seed_plusplus_steps(const double *X, i64 n, i64 d, const double *w, i64 first, const double *uniforms,
                        i64 k, i64 trials, i64 c0, i64 c1, double *closest, i64 *head, i64 *next, double *C)
{
    double *cum = malloc((size_t)n * sizeof(double));
    i64 *moved = malloc((size_t)n * sizeof(i64));
    Keyed *tmp = malloc((size_t)n * sizeof(Keyed));
    if (!cum || !moved || !tmp) {
        free(cum); free(moved); free(tmp);
        return -1;
    }
    const double margin = 1.0 + 1e-9;
    if (c0 == 0) {
        const double *x0 = X + first * d;
        for (i64 t = 0; t < d; t++)
            C[t] = x0[t];
        for (i64 i = 0; i < n; i++) {
            closest[i] = sq_rows(X + i * d, x0, d);
            moved[i] = i;
        }
        head[0] = link_sorted(moved, n, closest, tmp, next);
        c0 = 1;
    }
    i64 valid = 0; /* cum[0 .. valid - 1] are still the running sums of closest * w */
    for (i64 c = c0; c < c1 && c < k; c++) {
        double total = valid ? cum[valid - 1] : 0.0;
        for (i64 i = valid; i < n; i++) {
            total += closest[i] * w[i];
            cum[i] = total;
        }
        valid = n;
        double best_pot = INFINITY;
        i64 best_idx = 0;
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
            double gain = 0.0;
            for (i64 j = 0; j < c; j++) {
                double far = sq_rows(C + j * d, xi, d);
                for (i64 i = head[j]; i >= 0 && 4.0 * closest[i] * margin > far; i = next[i]) {
                    double s = sq_rows(X + i * d, xi, d);
                    if (s < closest[i])
                        gain += w[i] * (closest[i] - s);
                }
            }
            double pot = total - gain;
            if (pot < best_pot) {
                best_pot = pot;
                best_idx = idx;
            }
        }
        const double *xb = X + best_idx * d;
        for (i64 t = 0; t < d; t++)
            C[c * d + t] = xb[t];
        i64 n_moved = 0;
        for (i64 j = 0; j < c; j++) {
            double far = sq_rows(C + j * d, xb, d);
            i64 prev = -1;
            for (i64 i = head[j], nx; i >= 0 && 4.0 * closest[i] * margin > far; i = nx) {
                nx = next[i];
                double s = sq_rows(X + i * d, xb, d);
                if (s < closest[i]) { /* unlink i: it joins centre c */
                    closest[i] = s;
                    moved[n_moved++] = i;
                    if (i < valid)
                        valid = i;
                    if (prev < 0)
                        head[j] = nx;
                    else
                        next[prev] = nx;
                } else {
                    prev = i;
                }
            }
        }
        head[c] = link_sorted(moved, n_moved, closest, tmp, next);
    }
    free(cum); free(moved); free(tmp);
    return 0;
}

/* Every centre of `runs` runs at once: uniforms (k - 1, runs, trials),
 * centers (runs, k, d); each run through seed_plusplus_steps. */
int seed_plusplus(const double *X, i64 n, i64 d, const double *w, const i64 *first,
                  const double *uniforms, i64 runs, i64 k, i64 trials, double *centers)
{
    double *closest = malloc((size_t)n * sizeof(double));
    i64 *next = malloc((size_t)n * sizeof(i64));
    i64 *head = malloc((size_t)k * sizeof(i64));
    double *mine = malloc((size_t)((k > 1 ? k - 1 : 1) * (trials > 0 ? trials : 1)) * sizeof(double));
    int failed = !closest || !next || !head || !mine;
    for (i64 r = 0; r < runs && !failed; r++) {
        for (i64 c = 0; c + 1 < k; c++)
            for (i64 tr = 0; tr < trials; tr++)
                mine[c * trials + tr] = uniforms[(c * runs + r) * trials + tr];
        failed = seed_plusplus_steps(X, n, d, w, first[r], mine, k, trials, 0, k, closest, head, next,
                                     centers + r * k * d) != 0;
    }
    free(closest); free(next); free(head); free(mine);
    return failed ? -1 : 0;
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
