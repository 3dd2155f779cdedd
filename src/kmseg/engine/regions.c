/* Connected regions of a label map and the merging of regions into their
 * neighbours (see regions.h). The inputs are checked by _regions.pyx. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regions.h"

struct kmseg_regions {
    int64_t h, w;
    int64_t n_runs, cap;
    int32_t *run_x;      /* first column of every run, row after row */
    int32_t *run_id;     /* provisional label while scanning, then region id */
    int64_t *row_start;  /* h + 1 entries: the first run of every row */
    int64_t n;           /* regions */
    int64_t *size;       /* pixels of every region */
    uint32_t *value;     /* label of every region */
};

static kmseg_regions *regions_new(int64_t h, int64_t w)
{
    kmseg_regions *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->h = h;
    r->w = w;
    r->cap = h + (h * w) / 16 + 1024;  /* grown on demand */
    r->run_x = malloc(r->cap * sizeof *r->run_x);
    r->run_id = malloc(r->cap * sizeof *r->run_id);
    r->row_start = malloc((h + 1) * sizeof *r->row_start);
    if (!r->run_x || !r->run_id || !r->row_start) {
        regions_free(r);
        return NULL;
    }
    return r;
}

void regions_free(kmseg_regions *r)
{
    if (!r)
        return;
    free(r->run_x);
    free(r->run_id);
    free(r->row_start);
    free(r->size);
    free(r->value);
    free(r);
}

/* Room for more runs (and as many provisional labels). */
static int grow(kmseg_regions *r, int32_t **parent)
{
    int64_t cap = r->cap * 2;
    int32_t *x = realloc(r->run_x, cap * sizeof *x);
    if (!x)
        return -1;
    r->run_x = x;
    int32_t *id = realloc(r->run_id, cap * sizeof *id);
    if (!id)
        return -1;
    r->run_id = id;
    int32_t *p = realloc(*parent, cap * sizeof *p);
    if (!p)
        return -1;
    *parent = p;
    r->cap = cap;
    return 0;
}

static inline int32_t find(int32_t *parent, int32_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

/* Join two sets; the smaller root stays root (so every set's root is its
 * first member), and is returned. */
static inline int32_t unite(int32_t *parent, int32_t a, int32_t b)
{
    a = find(parent, a);
    b = find(parent, b);
    if (a < b) {
        parent[b] = a;
        return a;
    }
    parent[a] = b;
    return b;
}

static inline int64_t run_end(const kmseg_regions *r, int64_t k, int64_t row_end)
{
    return k + 1 < row_end ? r->run_x[k + 1] : r->w;
}

/* Provisional labels -> region ids 0 .. n-1 by first run (a set's root is
 * its first provisional label, given to its first run in raster order). */
static int resolve(kmseg_regions *r, int32_t *parent, int64_t n_prov)
{
    int64_t n = 0;
    for (int64_t i = 0; i < n_prov; i++) {
        int32_t p = parent[i];
        parent[i] = p == i ? (int32_t)n++ : parent[p];  /* p < i is already resolved */
    }
    for (int64_t k = 0; k < r->n_runs; k++)
        r->run_id[k] = parent[r->run_id[k]];
    r->n = n;
    r->size = calloc(n ? n : 1, sizeof *r->size);
    r->value = malloc((n ? n : 1) * sizeof *r->value);
    if (!r->size || !r->value)
        return -1;
    for (int64_t y = 0; y < r->h; y++) {
        int64_t e = r->row_start[y + 1];
        for (int64_t k = r->row_start[y]; k < e; k++)
            r->size[r->run_id[k]] += run_end(r, k, e) - r->run_x[k];
    }
    return 0;
}

/* The end of the run of value v that starts at x0: the first x > x0 with
 * row[x] != v, or w. */
static inline int64_t run_end_u32(const uint32_t *row, int64_t x0, int64_t w, uint32_t v)
{
    int64_t x = x0 + 1;
    while (x < w && row[x] == v)
        x++;
    return x;
}

static inline int64_t run_end_u8(const uint8_t *row, int64_t x0, int64_t w, uint8_t v)
{
    int64_t x = x0 + 1;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* eight pixels at a time: the first byte differing from v is the lowest set one */
    const uint64_t vv = 0x0101010101010101ull * v;
    for (; x + 8 <= w; x += 8) {
        uint64_t c;
        memcpy(&c, row + x, 8);
        c ^= vv;
        if (c)
            return x + (__builtin_ctzll(c) >> 3);
    }
#endif
    while (x < w && row[x] == v)
        x++;
    return x;
}

#define DEFINE_SCAN(NAME, T, RUN_END)                                                        \
    kmseg_regions *NAME(const T *labels, int64_t h, int64_t w)                               \
    {                                                                                        \
        kmseg_regions *r = regions_new(h, w);                                                \
        int32_t *parent = NULL;                                                              \
        int64_t n_prov = 0;                                                                  \
        if (!r)                                                                              \
            return NULL;                                                                     \
        parent = malloc(r->cap * sizeof *parent);                                            \
        if (!parent)                                                                         \
            goto fail;                                                                       \
        for (int64_t y = 0; y < h; y++) {                                                    \
            const T *row = labels + y * w, *up = row - w;                                    \
            int64_t p1 = r->n_runs, j = y ? r->row_start[y - 1] : 0;                         \
            r->row_start[y] = p1;                                                            \
            for (int64_t x0 = 0, x1; x0 < w; x0 = x1) {                                      \
                T v = row[x0];                                                               \
                x1 = RUN_END(row, x0, w, v);                                                 \
                int32_t id = -1;                                                             \
                if (y) { /* the runs above that overlap [x0, x1) */                          \
                    while (run_end(r, j, p1) <= x0)                                          \
                        j++;                                                                 \
                    for (int64_t k = j; k < p1 && r->run_x[k] < x1; k++) {                   \
                        if (up[r->run_x[k]] != v)                                            \
                            continue;                                                        \
                        int32_t q = r->run_id[k];                                            \
                        if (id < 0)                                                          \
                            id = q;                                                          \
                        else if (q != id)                                                    \
                            id = unite(parent, id, q);                                       \
                    }                                                                        \
                }                                                                            \
                if (r->n_runs == r->cap && grow(r, &parent))                                 \
                    goto fail;                                                               \
                if (id < 0) {                                                                \
                    id = (int32_t)n_prov;                                                    \
                    parent[n_prov++] = id;                                                   \
                }                                                                            \
                r->run_x[r->n_runs] = (int32_t)x0;                                           \
                r->run_id[r->n_runs++] = id;                                                 \
            }                                                                                \
        }                                                                                    \
        r->row_start[h] = r->n_runs;                                                         \
        if (resolve(r, parent, n_prov))                                                      \
            goto fail;                                                                       \
        for (int64_t y = 0; y < h; y++)                                                      \
            for (int64_t k = r->row_start[y]; k < r->row_start[y + 1]; k++)                  \
                r->value[r->run_id[k]] = labels[y * w + r->run_x[k]];                        \
        free(parent);                                                                        \
        return r;                                                                            \
    fail:                                                                                    \
        free(parent);                                                                        \
        regions_free(r);                                                                     \
        return NULL;                                                                         \
    }

DEFINE_SCAN(regions_scan_u8, uint8_t, run_end_u8)
DEFINE_SCAN(regions_scan_u32, uint32_t, run_end_u32)

int64_t regions_count(const kmseg_regions *r) { return r->n; }

void regions_sizes(const kmseg_regions *r, int64_t *out) { memcpy(out, r->size, r->n * sizeof *out); }

#define DEFINE_PAINT(NAME, T, SRC)                                                           \
    void NAME(const kmseg_regions *r, T *out)                                                \
    {                                                                                        \
        for (int64_t y = 0; y < r->h; y++) {                                                 \
            int64_t e = r->row_start[y + 1];                                                 \
            T *row = out + y * r->w;                                                         \
            for (int64_t k = r->row_start[y]; k < e; k++) {                                  \
                T v = (T)(SRC);                                                              \
                for (int64_t x = r->run_x[k], x1 = run_end(r, k, e); x < x1; x++)            \
                    row[x] = v;                                                              \
            }                                                                                \
        }                                                                                    \
    }

DEFINE_PAINT(regions_ids, int64_t, r->run_id[k])
DEFINE_PAINT(regions_paint_u8, uint8_t, r->value[r->run_id[k]])
DEFINE_PAINT(regions_paint_u32, uint32_t, r->value[r->run_id[k]])

/* ----------------------------------------------------------- adjacency */

/* Every pair of touching runs of different regions, with the number of
 * pixel pairs between them (1 side by side, the overlap one above the
 * other), for the regions marked in `mine`: count mode (nb NULL) adds to
 * deg[a], fill mode writes (b, border) at pos[a]++. */
static inline void run_pairs(const kmseg_regions *r, const uint8_t *mine, int64_t *deg, int64_t *pos, int32_t *nb,
                             uint32_t *border)
{
#define PAIR(a, b, c)                                                                        \
    do {                                                                                     \
        if (!nb) { /* branch-free counting */                                                \
            deg[a] += mine[a];                                                               \
            deg[b] += mine[b];                                                               \
        } else {                                                                             \
            if (mine[a]) {                                                                   \
                nb[pos[a]] = (b);                                                            \
                border[pos[a]++] = (uint32_t)(c);                                            \
            }                                                                                \
            if (mine[b]) {                                                                   \
                nb[pos[b]] = (a);                                                            \
                border[pos[b]++] = (uint32_t)(c);                                            \
            }                                                                                \
        }                                                                                    \
    } while (0)
    const int32_t *id = r->run_id;
    for (int64_t y = 0; y < r->h; y++) {
        int64_t s = r->row_start[y], e = r->row_start[y + 1];
        for (int64_t k = s; k + 1 < e; k++)
            PAIR(id[k], id[k + 1], 1);  /* neighbouring runs have different labels */
        if (!y)
            continue;
        int64_t i = r->row_start[y - 1], pe = s, j = s;
        while (i < pe && j < e) {  /* the two rows' runs partition [0, w): walk them together */
            int64_t ai = run_end(r, i, pe), bj = run_end(r, j, e);
            int32_t a = id[i], b = id[j];
            if (a != b) {
                int64_t lo = r->run_x[i] > r->run_x[j] ? r->run_x[i] : r->run_x[j];
                PAIR(a, b, (ai < bj ? ai : bj) - lo);
            }
            i += ai <= bj;
            j += bj <= ai;
        }
    }
#undef PAIR
}

/* ------------------------------------------------------------- merging */

typedef struct {
    int64_t n, left;      /* regions at the start, groups now */
    int64_t min_region;
    int connect;
    int32_t *parent;      /* groups of regions (union-find; a group's root is its first region) */
    int32_t *next, *tail; /* members of a group: root, next[root], ... tail[root] */
    int64_t *size;        /* pixels of a group (at its root) */
    uint8_t *kept;        /* connect: the group holds the largest region of its label */
    uint32_t *value;      /* label of a group (at its root) */
    int64_t *off;         /* n + 1: region a's neighbours are nb[off[a] .. off[a] + deg[a]) */
    int64_t *deg;
    int32_t *nb;
    uint32_t *border;
} merger;

static inline int to_merge(const merger *g, int32_t root)
{
    return g->connect ? !g->kept[root] : g->size[root] < g->min_region;
}

/* (size, first region) of a before that of b. */
static inline int before(const merger *g, int32_t a, int32_t b)
{
    return g->size[a] < g->size[b] || (g->size[a] == g->size[b] && a < b);
}

/* The neighbour group sharing the longest border with group x (ties: the
 * larger, then the first); acc, mark (all -1) and touched are scratch. */
static int32_t best_neighbour(merger *g, int32_t x, int64_t *acc, int32_t *mark, int32_t *touched)
{
    int64_t t = 0;
    for (int32_t m = x;; m = g->next[m]) {
        for (int64_t e = g->off[m], end = e + g->deg[m]; e < end; e++) {
            int32_t y = find(g->parent, g->nb[e]);
            if (y == x)
                continue;
            if (mark[y] != x) {
                mark[y] = x;
                acc[y] = 0;
                touched[t++] = y;
            }
            acc[y] += g->border[e];
        }
        if (m == g->tail[x])
            break;
    }
    int32_t best = -1;
    for (int64_t i = 0; i < t; i++) {
        int32_t y = touched[i];
        mark[y] = -1;
        if (best < 0 || acc[y] > acc[best] ||
            (acc[y] == acc[best] && (g->size[y] > g->size[best] || (g->size[y] == g->size[best] && y < best))))
            best = y;
    }
    return best;
}

/* Group x has taken a new label: join the touching groups of that label.
 * Its members are x .. last in next order. */
static void join_same(merger *g, int32_t x, int32_t last)
{
    uint32_t v = g->value[x];
    for (int32_t m = x;; m = g->next[m]) {
        for (int64_t e = g->off[m], end = e + g->deg[m]; e < end; e++) {
            int32_t y = find(g->parent, g->nb[e]);
            if (g->value[y] != v)
                continue;
            int32_t root = find(g->parent, x);
            if (y == root)
                continue;
            int32_t a = root < y ? root : y, b = root < y ? y : root;
            g->parent[b] = a;
            g->size[a] += g->size[b];
            if (g->connect)
                g->kept[a] |= g->kept[b];
            g->next[g->tail[a]] = b;
            g->tail[a] = g->tail[b];
            g->left--;
        }
        if (m == last)
            break;
    }
}

/* The neighbour lists of the regions to merge, duplicates summed. */
static int adjacency(merger *g, const kmseg_regions *r, const uint8_t *mine, int32_t *mark)
{
    int64_t n = g->n;
    g->off = malloc((n + 1) * sizeof *g->off);
    g->deg = calloc(n, sizeof *g->deg);
    if (!g->off || !g->deg)
        return -1;
    run_pairs(r, mine, g->deg, NULL, NULL, NULL);
    g->off[0] = 0;
    for (int64_t a = 0; a < n; a++)
        g->off[a + 1] = g->off[a] + g->deg[a];
    int64_t total = g->off[n];
    g->nb = malloc((total ? total : 1) * sizeof *g->nb);
    g->border = malloc((total ? total : 1) * sizeof *g->border);
    int64_t *pos = malloc(n * sizeof *pos);
    if (!g->nb || !g->border || !pos) {
        free(pos);
        return -1;
    }
    memcpy(pos, g->off, n * sizeof *pos);
    run_pairs(r, mine, NULL, pos, g->nb, g->border);
    free(pos);
    /* while a's list is compacted, mark[b] == a says b is at where[b] */
    int64_t *where = malloc(n * sizeof *where);
    if (!where)
        return -1;
    for (int64_t a = 0; a < n; a++) {
        int64_t s = g->off[a], e = s + g->deg[a], out = s;
        for (int64_t i = s; i < e; i++) {
            int32_t b = g->nb[i];
            if (mark[b] == a)
                g->border[where[b]] += g->border[i];
            else {
                mark[b] = (int32_t)a;
                where[b] = out;
                g->nb[out] = b;
                g->border[out++] = g->border[i];
            }
        }
        g->deg[a] = out - s;
    }
    free(where);
    return 0;
}

int64_t regions_merge(kmseg_regions *r, int64_t min_region, int connect)
{
    int64_t n = r->n;
    if (n <= 1)
        return n;
    merger g = {.n = n, .left = n, .min_region = min_region, .connect = connect};
    uint8_t *mine = malloc(n);
    int64_t *acc = malloc(n * sizeof *acc);
    int32_t *mark = malloc(n * sizeof *mark), *touched = malloc(n * sizeof *touched);
    int32_t *work = malloc(n * sizeof *work), *target = malloc(n * sizeof *target);
    int32_t *stamp = malloc(n * sizeof *stamp), *moving = malloc(n * sizeof *moving);
    int32_t *last = malloc(n * sizeof *last);
    uint8_t *cand = malloc(n);
    g.parent = malloc(n * sizeof *g.parent);
    g.next = malloc(n * sizeof *g.next);
    g.tail = malloc(n * sizeof *g.tail);
    g.size = malloc(n * sizeof *g.size);
    g.value = r->value;
    int64_t result = -1;
    if (!mine || !acc || !mark || !touched || !work || !target || !stamp || !moving || !last || !cand ||
        !g.parent || !g.next || !g.tail || !g.size)
        goto done;
    memcpy(g.size, r->size, n * sizeof *g.size);
    if (connect) {
        uint32_t top = 0;
        for (int64_t i = 0; i < n; i++)
            top = r->value[i] > top ? r->value[i] : top;
        int32_t *largest = malloc(((int64_t)top + 1) * sizeof *largest);
        g.kept = calloc(n, 1);
        if (!largest || !g.kept) {
            free(largest);
            goto done;
        }
        for (int64_t v = 0; v <= top; v++)
            largest[v] = -1;
        for (int64_t i = 0; i < n; i++) {
            int32_t *l = &largest[r->value[i]];
            if (*l < 0 || r->size[i] > r->size[*l])
                *l = (int32_t)i;
        }
        for (int64_t v = 0; v <= top; v++)
            if (largest[v] >= 0)
                g.kept[largest[v]] = 1;
        free(largest);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        g.parent[i] = g.next[i] = g.tail[i] = (int32_t)i;
        mark[i] = -1;
        stamp[i] = -1;
        mine[i] = (uint8_t)to_merge(&g, (int32_t)i);
        if (mine[i])
            work[m++] = (int32_t)i;
    }
    if (!m) {
        result = n;
        goto done;
    }
    if (adjacency(&g, r, mine, mark))
        goto done;
    for (int64_t i = 0; i < n; i++)
        mark[i] = -1;
    for (int32_t round = 0;; round++) {
        /* the groups to merge now: roots of groups that were to merge */
        int64_t k = 0;
        for (int64_t i = 0; i < m; i++) {
            int32_t x = work[i];
            if (g.parent[x] == x && to_merge(&g, x))
                work[k++] = x;
        }
        m = k;
        if (!m || g.left == 1)
            break;
        for (int64_t i = 0; i < m; i++)
            target[i] = best_neighbour(&g, work[i], acc, mark, touched);
        /* A group moves when its target stays put this round: the target is
         * not to merge, or comes after it by (size, first region) and is not
         * moving itself; and no group picked it. */
        for (int64_t i = 0; i < m; i++) {
            int32_t x = work[i], t = target[i];
            cand[i] = t >= 0 && (!to_merge(&g, t) || before(&g, x, t));  /* t < 0: no neighbour */
            if (cand[i])
                stamp[t] = round;
        }
        int64_t nm = 0;
        for (int64_t i = 0; i < m; i++) {
            int32_t x = work[i];
            if (cand[i] && stamp[x] != round) {
                g.value[x] = g.value[target[i]];
                moving[nm] = x;
                last[nm++] = g.tail[x];
            }
        }
        for (int64_t i = 0; i < nm; i++)
            join_same(&g, moving[i], last[i]);
    }
    for (int64_t i = 0; i < n; i++)
        g.value[i] = g.value[find(g.parent, (int32_t)i)];
    result = g.left;
done:
    free(mine);
    free(acc);
    free(mark);
    free(touched);
    free(work);
    free(target);
    free(stamp);
    free(moving);
    free(last);
    free(cand);
    free(g.parent);
    free(g.next);
    free(g.tail);
    free(g.size);
    free(g.kept);
    free(g.off);
    free(g.deg);
    free(g.nb);
    free(g.border);
    return result;
}

/* ---------------------------------------------------------- boundaries */

#define DEFINE_BOUNDARIES(NAME, T)                                                           \
    void NAME(const T *labels, int64_t h, int64_t w, uint8_t *out)                           \
    {                                                                                        \
        for (int64_t y = 0; y < h; y++) {                                                    \
            const T *row = labels + y * w;                                                   \
            uint8_t *o = out + y * w;                                                        \
            if (y + 1 < h)                                                                   \
                for (int64_t x = 0; x < w; x++)                                              \
                    o[x] = row[x] != row[x + w];                                             \
            else                                                                             \
                memset(o, 0, w);                                                             \
            for (int64_t x = 0; x + 1 < w; x++)                                              \
                o[x] |= row[x] != row[x + 1];                                                \
        }                                                                                    \
    }

DEFINE_BOUNDARIES(boundaries_u8, uint8_t)
DEFINE_BOUNDARIES(boundaries_u32, uint32_t)

/* ------------------------------------------------ pixels moved by merging */

/* Pixels are compared in blocks of this many: most keep their label, and a
 * block without a change costs a few vector instructions. */
#define MOVED_BLOCK 32

static int64_t count_moved(const uint8_t *old, const uint8_t *new_, const uint8_t *opaque, int64_t n)
{
    int64_t count = 0;
    if (opaque)
        for (int64_t i = 0; i < n; i++)
            count += (old[i] != new_[i]) & (opaque[i] != 0);
    else
        for (int64_t i = 0; i < n; i++)
            count += old[i] != new_[i];
    return count;
}

int64_t moved_keys(const uint8_t *rgb, const uint8_t *old, const uint8_t *new_, const uint8_t *opaque, int64_t n,
                   const uint32_t *mr, const uint32_t *mg, const uint32_t *mb, uint32_t *keys, int64_t cap)
{
    if (cap <= 0)
        return count_moved(old, new_, opaque, n);
    int64_t out = 0;
    for (int64_t i0 = 0; i0 < n; i0 += MOVED_BLOCK) {
        int64_t e = i0 + MOVED_BLOCK < n ? i0 + MOVED_BLOCK : n;
        uint8_t diff = 0;
        for (int64_t i = i0; i < e; i++)
            diff |= old[i] ^ new_[i];
        if (!diff)
            continue;
        if (out + MOVED_BLOCK <= cap) { /* room for the whole block: write every key, keep the moved */
            for (int64_t i = i0; i < e; i++) {
                const uint8_t *p = rgb + 3 * i;
                keys[out] = (mr[p[0]] | mg[p[1]] | mb[p[2]]) << 8 | new_[i];
                out += (old[i] != new_[i]) & (!opaque || opaque[i] != 0);
            }
            continue;
        }
        for (int64_t i = i0; i < e; i++) {
            if (old[i] == new_[i] || (opaque && !opaque[i]))
                continue;
            if (out < cap) {
                const uint8_t *p = rgb + 3 * i;
                keys[out] = (mr[p[0]] | mg[p[1]] | mb[p[2]]) << 8 | new_[i];
            }
            out++;
        }
    }
    return out;
}

int64_t distinct_counts(uint32_t *keys, int64_t n, int64_t *count)
{
    int64_t u = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i + 1;
        while (j < n && keys[j] == keys[i])
            j++;
        keys[u] = keys[i];
        count[u++] = j - i;
        i = j;
    }
    return u;
}

int moved_where(const uint32_t *codes, int64_t m, const uint32_t *keys, const int64_t *count, int64_t u,
                int64_t *where, double *left)
{
    int64_t j = 0;
    for (int64_t i = 0; i < u; i++) {
        uint32_t code = keys[i] >> 8;
        if (j < m && codes[j] < code) { /* gallop, then bisect: the first j with codes[j] >= code */
            int64_t lo = j, step = 1;
            while (j + step < m && codes[j + step] < code) {
                lo = j + step;
                step *= 2;
            }
            int64_t hi = j + step < m ? j + step : m;
            while (hi - lo > 1) {
                int64_t mid = lo + (hi - lo) / 2;
                if (codes[mid] < code)
                    lo = mid;
                else
                    hi = mid;
            }
            j = hi;
        }
        if (j == m || codes[j] != code)
            return -1;
        where[i] = j;
        left[j] -= (double)count[i];
    }
    return 0;
}

double moved_inertia(const double *Y, int64_t m, const int64_t *at, int64_t u, const double *C, int64_t k,
                     const uint8_t *now, const uint8_t *was, const double *weight)
{
    double sum = 0.0;
    for (int64_t i = 0; i < u; i++) {
        if (at[i] < 0 || at[i] >= m || now[i] >= k || was[i] >= k)
            return NAN;
        const double *y = Y + 3 * at[i], *a = C + 3 * now[i], *b = C + 3 * was[i];
        double d0 = y[0] - a[0], d1 = y[1] - a[1], d2 = y[2] - a[2];
        double e0 = y[0] - b[0], e1 = y[1] - b[1], e2 = y[2] - b[2];
        sum += weight[i] * ((d0 * d0 + d1 * d1 + d2 * d2) - (e0 * e0 + e1 * e1 + e2 * e2));
    }
    return sum;
}
