/* Tracing the boundaries of a label map (see chains.h): one scan finds the
 * vertices (the corners where sides start and end), one walk along the
 * rings cuts them into chains and keeps the canonical chains' corners, and
 * Douglas-Peucker simplifies each of those once. Every pass is linear in
 * the size of the map or of its boundary, except the simplification (a
 * chain's length times the depth of its splits). */
#include "chains.h"

#include <stdlib.h>
#include <string.h>

/* Direction d of a side: 0 east (+x), 1 south (+y), 2 west, 3 north; the
 * bit 1 << d of a corner's mask says a boundary edge leaves it that way.
 * A corner's pixels are numbered the same way, 0 NE, 1 SE, 2 SW, 3 NW: a
 * side leaving a corner in direction d has pixel d on its left and pixel
 * (d + 1) % 4 on its right. */
enum { EAST = 1, SOUTH = 2, WEST = 4, NORTH = 8 };

/* A vertex: a corner other than those with no boundary edge or with two in
 * a straight line. */
typedef struct {
    int32_t x, y;
    int32_t down, up;   /* the vertex a south / north side ends at */
    uint8_t mask;       /* boundary edges */
    uint8_t head;       /* sides that start a chain */
    uint8_t turns;      /* bits 2d, 2d + 1: the direction on after a side arriving in direction d */
    uint8_t seen;       /* sides walked */
} vertex;

/* A chain, in chain order. */
typedef struct {
    int64_t at;             /* first point in pts: its own, or (reversed) its twin's */
    int32_t count;          /* points */
    int32_t next, twin;     /* the chain after it around its label; the same sides the other way */
    int32_t v;              /* its first side: start and direction */
    int16_t left, right;
    uint8_t d, reversed;
} chain;

struct chains_trace {
    const int16_t *map;
    int64_t h, w, stride;
    int64_t pixel[4];      /* pixel q of a corner, from the corner's NW pixel */
    int64_t nv, nc, canonical, npoints;
    vertex *vx;
    chain *ch;
    int32_t *pts;          /* (x, y) of the canonical chains' points */
};

static int popcount4(unsigned m) {
    static const uint8_t bits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    return bits[m & 15];
}

static inline unsigned corner_mask(const int16_t *nw, int64_t s) {
    int16_t a = nw[0], b = nw[1], c = nw[s], d = nw[s + 1]; /* NW, NE, SW, SE */
    return (unsigned)(b != d) | (unsigned)(c != d) << 1 | (unsigned)(a != c) << 2 | (unsigned)(a != b) << 3;
}

/* A corner has 0, 2, 3 or 4 boundary edges: one with both a horizontal and
 * a vertical edge is a turn or a junction; the others have none or pass
 * straight through. */
static inline int is_vertex(unsigned m) { return (m & (EAST | WEST)) && (m & (SOUTH | NORTH)); }

/* The vertices among corners (y, 0) .. (y, w): no branch, so the compiler vectorises it. */
static int64_t row_vertices(const int16_t *row, int64_t s, int64_t w) {
    int64_t n = 0;
    for (int64_t x = 0; x <= w; x++) {
        int16_t a = row[x], b = row[x + 1], c = row[x + s], d = row[x + s + 1]; /* NW, NE, SW, SE */
        n += ((b != d) | (a != c)) & ((c != d) | (a != b));
    }
    return n;
}

static inline int16_t pixel_of(const chains_trace *t, const vertex *v, int q) {
    return t->map[(int64_t)v->y * t->stride + v->x + t->pixel[q]];
}

static inline int64_t side_end(const vertex *vx, int64_t v, int d) {
    switch (d) {
    case 0: return v + 1; /* the next vertex in the row: the corners between pass straight through */
    case 1: return vx[v].down;
    case 2: return v - 1;
    default: return vx[v].up;
    }
}

/* The turns at a corner of pixels p (NE, SE, SW, NW). A side arriving in
 * direction d has pixel (d + 3) % 4 on its left; to keep that label on the
 * left, turn left if the pixel ahead-left (d) is not of it, else go straight
 * if the pixel ahead-right (d + 1) is not, else turn right. */
static inline uint8_t corner_turns(const int16_t p[4]) {
    unsigned out = 0;
    for (int d = 0; d < 4; d++) {
        int16_t left = p[(d + 3) & 3];
        int nd = p[d] != left ? (d + 3) & 3 : p[(d + 1) & 3] != left ? d : (d + 1) & 3;
        out |= (unsigned)nd << (2 * d);
    }
    return (uint8_t)out;
}

void chains_free(chains_trace *t) {
    if (!t) return;
    free(t->vx); free(t->ch); free(t->pts);
    free(t);
}

/* A chain as walked, before chains are numbered. */
typedef struct {
    int32_t v, tail_v;       /* first side's start; the side after the last: its start */
    uint8_t d, tail_d, last_d;
    int64_t at, count;       /* points (canonical), else at = -1 */
} walked;

/* Walk the chain from side (v, d) to the next head, marking its sides seen
 * and keeping its corners if canonical. */
static void walk(chains_trace *t, int64_t v, int d, walked *c, int64_t *pt) {
    vertex *vx = t->vx;
    int keep = pixel_of(t, &vx[v], d) < pixel_of(t, &vx[v], (d + 1) & 3);
    c->v = (int32_t)v;
    c->d = (uint8_t)d;
    c->at = keep ? *pt : -1;
    int64_t n = 0;
    int32_t *p = t->pts + 2 * *pt;
    int last;
    do {
        vx[v].seen |= (uint8_t)(1u << d);
        if (keep) { *p++ = vx[v].x; *p++ = vx[v].y; }
        v = side_end(vx, v, d);
        last = d;
        d = vx[v].turns >> (2 * d) & 3;
        n++;
    } while (!(vx[v].head >> d & 1));
    if (keep) { *p++ = vx[v].x; *p++ = vx[v].y; }
    c->tail_v = (int32_t)v;
    c->tail_d = (uint8_t)d;
    c->last_d = (uint8_t)last;
    c->count = keep ? n + 1 : 0;
    *pt += keep ? n + 1 : 0;
}

/* Douglas-Peucker on the n points p[2n] (n >= 2), in place; returns the
 * number kept. keep[n] and stack[3n] are scratch. */
static int64_t simplify(int32_t *p, int64_t n, double tol2, uint8_t *keep, int64_t *stack) {
    memset(keep, 0, (size_t)n);
    keep[0] = keep[n - 1] = 1;
    /* (a, b, forced): a closed polyline (forced 2) splits at its farthest
     * point, and each half (forced 1) once more, whatever the distances. */
    int64_t top = 0;
    stack[top++] = 0; stack[top++] = n - 1;
    stack[top++] = p[0] == p[2 * (n - 1)] && p[1] == p[2 * (n - 1) + 1] ? 2 : 0;
    while (top) {
        int64_t force = stack[--top], b = stack[--top], a = stack[--top];
        if (b - a < 2) continue;
        int64_t ax = p[2 * a], ay = p[2 * a + 1];
        int64_t abx = p[2 * b] - ax, aby = p[2 * b + 1] - ay;
        int64_t best = -1, m = a + 1;
        if (abx == 0 && aby == 0) { /* closed: the farthest from the end */
            for (int64_t i = a + 1; i < b; i++) {
                int64_t rx = p[2 * i] - ax, ry = p[2 * i + 1] - ay, s = rx * rx + ry * ry;
                if (s > best) { best = s; m = i; }
            }
            if (!force && !((double)best > tol2)) continue;
        } else { /* |ab x ap| is the distance times |ab| */
            for (int64_t i = a + 1; i < b; i++) {
                int64_t rx = p[2 * i] - ax, ry = p[2 * i + 1] - ay, s = abx * ry - aby * rx;
                if (s < 0) s = -s;
                if (s > best) { best = s; m = i; }
            }
            if (!force && !((double)best * (double)best > tol2 * (double)(abx * abx + aby * aby))) continue;
        }
        keep[m] = 1;
        int64_t again = force == 2;
        stack[top++] = a; stack[top++] = m; stack[top++] = again;
        stack[top++] = m; stack[top++] = b; stack[top++] = again;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (keep[i]) { p[2 * k] = p[2 * i]; p[2 * k + 1] = p[2 * i + 1]; k++; }
    return k;
}

static int64_t head_id(const vertex *vx, const int32_t *base, int64_t v, int d) {
    return base[v] + popcount4(vx[v].head & ((1u << d) - 1));
}

chains_trace *chains_trace_map(const int16_t *map, int64_t h, int64_t w, double tolerance, int *error) {
    *error = -1;
    if ((h + 1) * (w + 1) > CHAINS_MAX_CORNERS) { *error = -2; return NULL; }
    chains_trace *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    int64_t s = w + 2;
    t->map = map; t->h = h; t->w = w; t->stride = s;
    t->pixel[0] = 1; t->pixel[1] = s + 1; t->pixel[2] = s; t->pixel[3] = 0;

    /* The vertices, in raster order, with the vertical sides' ends. */
    int64_t nv = 0, sides = 0, junction_sides = 0;
    for (int64_t y = 0; y <= h; y++)
        nv += row_vertices(map + y * s, s, w);
    size_t n1 = (size_t)(nv ? nv : 1);
    vertex *vx = t->vx = malloc(n1 * sizeof *vx);
    int32_t *open = malloc((size_t)(w + 1) * sizeof *open); /* the vertex above each column's open south side */
    if (!vx || !open) { free(open); chains_free(t); return NULL; }
    int64_t v = 0;
    for (int64_t y = 0; y <= h; y++) {
        const int16_t *row = map + y * s;
        for (int64_t x = 0; x <= w; x++) {
            unsigned m = corner_mask(row + x, s);
            if (!is_vertex(m)) continue;
            int deg = popcount4(m);
            const int16_t p[4] = {row[x + 1], row[x + s + 1], row[x + s], row[x]};
            vertex *c = &vx[v];
            c->x = (int32_t)x; c->y = (int32_t)y; c->mask = (uint8_t)m;
            c->head = deg >= 3 ? (uint8_t)m : 0;
            c->turns = corner_turns(p);
            c->seen = 0;
            c->down = c->up = -1;
            sides += deg;
            junction_sides += deg >= 3 ? deg : 0;
            if (m & NORTH) { c->up = open[x]; vx[open[x]].down = (int32_t)v; }
            if (m & SOUTH) open[x] = (int32_t)v;
            v++;
        }
    }
    free(open);
    t->nv = nv;

    /* Walk the chains from the junctions, then the rings with none (each
     * met first at its first corner in raster order, which starts it). A
     * ring has at least four sides; half the sides are canonical. */
    int64_t cap = junction_sides + (sides - junction_sides) / 4 + 1;
    walked *ws = malloc((size_t)cap * sizeof *ws);
    t->pts = malloc((size_t)(sides / 2 + cap) * 2 * sizeof *t->pts);
    if (!ws || !t->pts) { free(ws); chains_free(t); return NULL; }
    int64_t nc = 0, pt = 0;
    for (v = 0; v < nv; v++)
        for (int d = 0; d < 4; d++)
            if (vx[v].head >> d & 1) walk(t, v, d, &ws[nc++], &pt);
    for (v = 0; v < nv; v++)
        for (int d = 0; d < 4; d++)
            if ((vx[v].mask & ~vx[v].seen) >> d & 1) {
                vx[v].head |= (uint8_t)(1u << d);
                walk(t, v, d, &ws[nc++], &pt);
            }

    /* Number the chains by their first sides (direction, then corner). */
    int32_t *base = malloc(n1 * sizeof *base);
    int32_t *order = malloc((size_t)(nc ? nc : 1) * sizeof *order);
    chain *ch = t->ch = malloc((size_t)(nc ? nc : 1) * sizeof *ch);
    if (!base || !order || !ch) { free(base); free(order); free(ws); chains_free(t); return NULL; }
    int32_t id = 0;
    for (v = 0; v < nv; v++) { base[v] = id; id += popcount4(vx[v].head); }
    id = 0;
    for (int d = 0; d < 4; d++)
        for (v = 0; v < nv; v++)
            if (vx[v].head >> d & 1) order[head_id(vx, base, v, d)] = id++;
    t->nc = nc;
    for (int64_t k = 0; k < nc; k++) {
        const walked *c = &ws[k];
        chain *o = &ch[order[head_id(vx, base, c->v, c->d)]];
        o->v = c->v;
        o->d = c->d;
        o->left = pixel_of(t, &vx[c->v], c->d);
        o->right = pixel_of(t, &vx[c->v], (c->d + 1) & 3);
        o->next = order[head_id(vx, base, c->tail_v, c->tail_d)];
        o->twin = order[head_id(vx, base, c->tail_v, (c->last_d + 2) & 3)];
        o->at = c->at;
        o->count = (int32_t)c->count;
        o->reversed = 0;
    }
    free(base); free(order); free(ws);

    /* Simplify the canonical chains, each in place; the others take their twins' points. */
    int64_t longest = 0;
    for (int64_t c = 0; c < nc; c++) {
        if (ch[c].at >= 0) t->canonical++;
        if (ch[c].count > longest) longest = ch[c].count;
    }
    if (tolerance > 0 && longest > 2) {
        uint8_t *keep = malloc((size_t)longest);
        int64_t *stack = malloc((size_t)longest * 3 * sizeof *stack);
        if (!keep || !stack) { free(keep); free(stack); chains_free(t); return NULL; }
        double tol2 = tolerance * tolerance;
        for (int64_t c = 0; c < nc; c++)
            if (ch[c].at >= 0) ch[c].count = (int32_t)simplify(t->pts + 2 * ch[c].at, ch[c].count, tol2, keep, stack);
        free(keep); free(stack);
    }
    for (int64_t c = 0; c < nc; c++) {
        if (ch[c].at >= 0) { t->npoints += ch[c].count; continue; }
        const chain *tw = &ch[ch[c].twin];
        ch[c].at = tw->at;
        ch[c].count = tw->count;
        ch[c].reversed = 1;
    }
    *error = 0;
    return t;
}

int64_t chains_canonical(const chains_trace *t) { return t->canonical; }
int64_t chains_points(const chains_trace *t) { return t->npoints; }

void chains_copy_points(const chains_trace *t, int64_t *xy, int64_t *starts) {
    int64_t k = 0, i = 0;
    starts[0] = 0;
    for (int64_t c = 0; c < t->nc; c++) {
        if (t->ch[c].reversed) continue;
        const int32_t *p = t->pts + 2 * t->ch[c].at;
        for (int64_t j = 0; j < 2 * (int64_t)t->ch[c].count; j++) xy[2 * k + j] = p[j];
        k += t->ch[c].count;
        starts[++i] = k;
    }
}

static char *put_int(char *s, int64_t v) {
    char digits[24];
    int n = 0;
    if (v < 0) { *s++ = '-'; v = -v; }
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) *s++ = digits[--n];
    return s;
}

int64_t chains_svg_paths(const chains_trace *t, const int64_t *regions, int64_t n_regions, int64_t n_labels,
                         char **text, int64_t *label_start, int64_t *label_end) {
    int64_t nc = t->nc;
    const chain *ch = t->ch;
    size_t c1 = (size_t)(nc ? nc : 1);
    uint8_t *seen = calloc(c1, 1);
    int32_t *seq = malloc(c1 * sizeof *seq);      /* the painted rings' chains, ring after ring */
    int64_t *ring = malloc((c1 + 1) * sizeof *ring); /* ring r is seq[ring[r]] .. seq[ring[r + 1] - 1] */
    int64_t *region = malloc(c1 * sizeof *region);
    int32_t *sorted = malloc(c1 * sizeof *sorted), *by_label = malloc(c1 * sizeof *by_label);
    int64_t *bucket = calloc((size_t)(n_regions > n_labels ? n_regions : n_labels) + 1, sizeof *bucket);
    char *out = NULL, *s = NULL;
    *text = NULL;
    int64_t nr = 0, ns = 0;
    if (!seen || !seq || !ring || !region || !sorted || !by_label || !bucket) goto done;
    /* The rings: the cycles of next, each from its first chain; only the painted ones. */
    for (int64_t c = 0; c < nc; c++) {
        if (seen[c]) continue;
        int painted = ch[c].left >= 0;
        if (painted) {
            const vertex *v = &t->vx[ch[c].v];
            region[nr] = regions[(int64_t)v->y * t->stride + v->x + t->pixel[ch[c].d]];
            ring[nr++] = ns;
        }
        int64_t j = c;
        do {
            seen[j] = 1;
            if (painted) seq[ns++] = (int32_t)j;
            j = ch[j].next;
        } while (j != c);
    }
    ring[nr] = ns;
    /* Rings by region, then regions by label (both stable): counting sorts. */
    for (int64_t r = 0; r < nr; r++) bucket[region[r] + 1]++;
    for (int64_t i = 0; i < n_regions; i++) bucket[i + 1] += bucket[i];
    for (int64_t r = 0; r < nr; r++) sorted[bucket[region[r]]++] = (int32_t)r;
    memset(bucket, 0, (size_t)(n_labels + 1) * sizeof *bucket);
    for (int64_t r = 0; r < nr; r++) bucket[ch[seq[ring[r]]].left + 1]++;
    for (int64_t i = 0; i < n_labels; i++) bucket[i + 1] += bucket[i];
    for (int64_t i = 0; i < nr; i++) {
        int32_t r = sorted[i];
        by_label[bucket[ch[seq[ring[r]]].left]++] = r;
    }
    /* The text: a point is in at most two rings; a number takes at most a
     * sign, the digits of the largest coordinate and a space. */
    int64_t width = 2;
    for (int64_t m = t->w > t->h ? t->w : t->h; m; m /= 10) width++;
    out = malloc((size_t)(2 * width * (2 * t->npoints + nr) + 20 * nr + 1));
    if (!out) goto done;
    s = out;
    for (int64_t i = 0; i < n_labels; i++) label_start[i] = label_end[i] = 0;
    int64_t open_region = -1;
    int open_label = -1;
    for (int64_t i = 0; i < nr; i++) {
        int32_t r = by_label[i];
        int label = ch[seq[ring[r]]].left;
        if (region[r] != open_region) {
            if (open_region >= 0) { memcpy(s, "\"/>\n", 4); s += 4; }
            if (label != open_label) {
                if (open_label >= 0) label_end[open_label] = s - out;
                label_start[label] = s - out;
                open_label = label;
            }
            memcpy(s, "<path d=\"", 9); s += 9;
            open_region = region[r];
        }
        int64_t px = 0, py = 0;
        int moved = 0;
        for (int64_t k = ring[r]; k < ring[r + 1]; k++) {
            const chain *c = &ch[seq[k]];
            /* every point but the last (the next chain's first), forwards or backwards */
            const int32_t *p = t->pts + 2 * c->at;
            int64_t step = 2, n = c->count - 1;
            if (c->reversed) { p += 2 * n; step = -2; }
            if (k == ring[r]) {
                px = p[0]; py = p[1];
                *s++ = 'M'; s = put_int(s, px); *s++ = ' '; s = put_int(s, py);
                p += step; n--;
            }
            for (; n > 0; n--, p += step) {
                int64_t dx = p[0] - px, dy = p[1] - py;
                if (!moved) { *s++ = 'l'; moved = 1; } else if (dx >= 0) *s++ = ' ';
                s = put_int(s, dx);
                if (dy >= 0) *s++ = ' ';
                s = put_int(s, dy);
                px = p[0]; py = p[1];
            }
        }
        *s++ = 'z';
    }
    if (open_region >= 0) { memcpy(s, "\"/>\n", 4); s += 4; label_end[open_label] = s - out; }
    *text = out;
done:
    free(seen); free(seq); free(ring); free(region); free(sorted); free(by_label); free(bucket);
    return *text ? s - out : -1;
}
