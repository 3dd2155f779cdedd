"""Compiled loops (Numba) for the passes NumPy would spend its time on.

The per-pixel passes (colour histogram, label lookup), the cube levels of
the distinct colours, k-means++ seeding, nearest centres, and the bounded
Lloyd iterations over "items" (cubes that lie wholly in one cluster, and
single colours) of :mod:`kmseg._colorfit`, whose Python side is
:mod:`kmseg._tree`. The same functions as the C library
(:mod:`kmseg._ckernels`, ``_ckernels.c``), line for line and bit for bit:
this module is used where that library was not built (no C compiler when
kmseg was installed). Every function is compiled on first use and cached on
disk (``cache=True``), so only the first process pays for compilation.

Every function is single-threaded and releases the GIL (``nogil``): callers
run independent calls in threads (:func:`kmseg._jit.parallel_map`), so results
never depend on the number of threads. All take validated, contiguous arrays.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

# ----------------------------------------------------------------- pixels


@nb.njit(**_JIT)
def histogram(flat, opaque, spread_r, spread_g, spread_b, counts, seen):  # pragma: no cover - compiled
    """Count the (opaque) pixels of every Morton code; ``seen`` (when not
    empty) counts every pixel, transparent ones included."""
    use_mask = opaque.shape[0] > 0
    mark = seen.shape[0] > 0
    for i in range(flat.shape[0]):
        c = spread_r[flat[i, 0]] | spread_g[flat[i, 1]] | spread_b[flat[i, 2]]
        if mark:
            seen[c] += 1
        if not use_mask or opaque[i]:
            counts[c] += 1


@nb.njit(**_JIT)
def label_pixels(flat, spread_r, spread_g, spread_b, lut, out):  # pragma: no cover - compiled
    """``out[i] = lut[morton(flat[i])]`` for every pixel. Callers split the
    pixels between threads (no Numba ``parallel``: its OpenMP team per
    calling thread would oversubscribe the cores and spin after each call)."""
    for i in range(flat.shape[0]):
        out[i] = lut[spread_r[flat[i, 0]] | spread_g[flat[i, 1]] | spread_b[flat[i, 2]]]


# ---------------------------------------------------------------- helpers


@nb.njit(**_JIT)
def _nearest_two(Y, row, Ct, buf):  # pragma: no cover - compiled
    """Nearest centre of ``Y[row]`` (centres as columns of ``Ct``), and the
    squared distances to the nearest and the second nearest. ``buf`` is
    scratch of length k. Written so that the loops over the centres vectorise."""
    k = Ct.shape[1]
    b1 = np.inf
    if Ct.shape[0] == 3:
        y0, y1, y2 = Y[row, 0], Y[row, 1], Y[row, 2]
        c0, c1, c2 = Ct[0], Ct[1], Ct[2]
        for j in range(k):
            e0 = y0 - c0[j]
            e1 = y1 - c1[j]
            e2 = y2 - c2[j]
            d = e0 * e0 + e1 * e1 + e2 * e2
            buf[j] = d
            b1 = min(b1, d)
    else:
        buf[:] = 0.0
        for t in range(Ct.shape[0]):
            yt = Y[row, t]
            ct = Ct[t]
            for j in range(k):
                e = yt - ct[j]
                buf[j] += e * e
        for j in range(k):
            b1 = min(b1, buf[j])
    lab = 0
    while buf[lab] != b1:
        lab += 1
    buf[lab] = np.inf
    b2 = np.inf
    for j in range(k):
        b2 = min(b2, buf[j])
    return lab, b1, b2


@nb.njit(**_JIT)
def _dist(Y, row, Ct, j):  # pragma: no cover - compiled
    d = 0.0
    for t in range(Ct.shape[0]):
        e = Y[row, t] - Ct[t, j]
        d += e * e
    return np.sqrt(d)


@nb.njit(**_JIT)
def _add(g, lab, sign, npts, p_mean, p_w, n_w, n_wsum, cw, cs):  # pragma: no cover - compiled
    """Add (sign 1) or remove (sign -1) item ``g``'s weight and weighted sum
    to or from cluster ``lab``."""
    if g < npts:
        w = p_w[g]
        cw[lab] += sign * w
        for t in range(cs.shape[1]):
            cs[lab, t] += sign * w * p_mean[g, t]
    else:
        n = g - npts
        cw[lab] += sign * n_w[n]
        for t in range(cs.shape[1]):
            cs[lab, t] += sign * n_wsum[n, t]


@nb.njit(**_JIT)
def _descend(first, last, Ct, slack, tree, items, n_items, cw, cs, stack, buf):  # pragma: no cover - compiled
    """Assign the items ``first..last-1`` (global ids) top-down: a cube whose
    colours provably share their nearest centre becomes one item, other
    cubes are opened. New items go from ``n_items`` on; returns the new count."""
    npts, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1 = tree
    it_id, it_lab, it_up, it_lo = items
    for start in range(first, last):
        stack[0] = start
        sp = 1
        while sp > 0:
            sp -= 1
            g = stack[sp]
            if g < npts:
                lab, d1, d2 = _nearest_two(p_mean, g, Ct, buf)
                r = 0.0
            else:
                n = g - npts
                lab, d1, d2 = _nearest_two(n_mean, n, Ct, buf)
                r = n_radius[n]
            d1 = np.sqrt(d1)
            d2 = np.sqrt(d2)
            if g < npts or d2 - d1 > 2.0 * r + slack:
                it_id[n_items] = g
                it_lab[n_items] = lab
                it_up[n_items] = d1
                it_lo[n_items] = d2
                n_items += 1
                _add(g, lab, 1.0, npts, p_mean, p_w, n_w, n_wsum, cw, cs)
            else:
                for c in range(n_ch0[g - npts], n_ch1[g - npts]):
                    stack[sp] = c
                    sp += 1
    return n_items


# ------------------------------------------------------------------ items


@nb.njit(**_JIT)
def items_init(tops0, tops1, Ct, slack, tree, items, cw, cs, stack, buf):  # pragma: no cover - compiled
    """Items for centres ``C`` from the top cubes (global ids ``tops0..tops1-1``)."""
    cw[:] = 0.0
    cs[:] = 0.0
    return _descend(tops0, tops1, Ct, slack, tree, items, 0, cw, cs, stack, buf)


@nb.njit(**_JIT)
def items_update(Ct, delta, slack, tree, items, n_items, cw, cs, stack, buf):  # pragma: no cover - compiled
    """Re-assign the items after the centres moved to ``C`` by ``delta``
    (Hamerly's bounds: most items are kept without a distance); cubes near
    a boundary are opened. Returns the new number of items."""
    npts, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1 = tree
    it_id, it_lab, it_up, it_lo = items
    k = Ct.shape[1]
    j1 = 0
    for j in range(k):
        if delta[j] > delta[j1]:
            j1 = j
    a1 = delta[j1]
    a2 = 0.0
    for j in range(k):
        if j != j1 and delta[j] > a2:
            a2 = delta[j]
    end = n_items
    dead = 0
    for i in range(n_items):
        g = it_id[i]
        lab = it_lab[i]
        up = it_up[i] + delta[lab]
        lo = it_lo[i] - (a2 if lab == j1 else a1)
        if g < npts:
            r2 = 0.0
        else:
            r2 = 2.0 * n_radius[g - npts]
        if up + r2 + slack < lo:
            it_up[i] = up
            it_lo[i] = lo
            continue
        # Hamerly's second test: the exact distance to its own centre
        if g < npts:
            up = _dist(p_mean, g, Ct, lab)
        else:
            up = _dist(n_mean, g - npts, Ct, lab)
        if up + r2 + slack < lo:
            it_up[i] = up
            it_lo[i] = lo
            continue
        if g < npts:
            new, d1, d2 = _nearest_two(p_mean, g, Ct, buf)
        else:
            new, d1, d2 = _nearest_two(n_mean, g - npts, Ct, buf)
        d1 = np.sqrt(d1)
        d2 = np.sqrt(d2)
        if r2 == 0.0 or d2 - d1 > r2 + slack:
            it_up[i] = d1
            it_lo[i] = d2
            if new != lab:
                _add(g, lab, -1.0, npts, p_mean, p_w, n_w, n_wsum, cw, cs)
                _add(g, new, 1.0, npts, p_mean, p_w, n_w, n_wsum, cw, cs)
                it_lab[i] = new
        else:  # the cube straddles a boundary: open it
            _add(g, lab, -1.0, npts, p_mean, p_w, n_w, n_wsum, cw, cs)
            it_id[i] = -1
            dead += 1
            n = g - npts
            end = _descend(n_ch0[n], n_ch1[n], Ct, slack, tree, items, end, cw, cs, stack, buf)
    if dead == 0:
        return end
    out = 0
    for i in range(end):
        if it_id[i] >= 0:
            it_id[out] = it_id[i]
            it_lab[out] = it_lab[i]
            it_up[out] = it_up[i]
            it_lo[out] = it_lo[i]
            out += 1
    return out


@nb.njit(**_JIT)
def items_inertia(Ct, tree, items, n_items, p_scatter, n_scatter):  # pragma: no cover - compiled
    """Sum over the items of their scatter plus weight times squared distance
    of their mean to their centre: the exact inertia of the points."""
    npts, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1 = tree
    it_id, it_lab, it_up, it_lo = items
    total = 0.0
    for i in range(n_items):
        g = it_id[i]
        if g < npts:
            d = _dist(p_mean, g, Ct, it_lab[i])
            total += p_scatter[g] + p_w[g] * d * d
        else:
            d = _dist(n_mean, g - npts, Ct, it_lab[i])
            total += n_scatter[g - npts] + n_w[g - npts] * d * d
    return total


@nb.njit(**_JIT)
def items_labels(npts, items, n_items, n_pt0, n_pt1, out):  # pragma: no cover - compiled
    """Every point's cluster, from the items."""
    it_id, it_lab, it_up, it_lo = items
    for i in range(n_items):
        g = it_id[i]
        if g < npts:
            out[g] = it_lab[i]
        else:
            for p in range(n_pt0[g - npts], n_pt1[g - npts]):
                out[p] = it_lab[i]


def tree_handle(arrays: tuple) -> tuple:
    """What the item passes take for a Tree's arrays: the arrays themselves
    (the C library's twin takes their addresses once)."""
    return arrays


def items_handle(arrays: tuple) -> tuple:
    """What the item passes take for an Items' arrays: the arrays themselves."""
    return arrays


# ------------------------------------------------------- nearest centres


@nb.njit(**_JIT)
def nearest_centres(X, Ct, labels, min_sq):  # pragma: no cover - compiled
    """Nearest centre (columns of ``Ct``) of every row of ``X`` and its squared distance."""
    buf = np.empty(Ct.shape[1])
    for i in range(X.shape[0]):
        lab, d1, _ = _nearest_two(X, i, Ct, buf)
        labels[i] = lab
        min_sq[i] = d1


# ------------------------------------------------------ k-means++ seeding


@nb.njit(**_JIT)
def seed_plusplus(X, w, first, uniforms, centers):  # pragma: no cover - compiled
    """Greedy k-means++ for every restart r from point ``first[r]``: each new
    centre is the best of ``uniforms.shape[2]`` candidates drawn with
    probability proportional to weight times squared distance, using the
    given uniform numbers (so the random stream is NumPy's)."""
    n, d = X.shape
    runs, k = centers.shape[0], centers.shape[1]
    trials = uniforms.shape[2]
    closest = np.empty(n)
    cum = np.empty(n)
    cand_d = np.empty((trials, n))
    for r in range(runs):
        for t in range(d):
            centers[r, 0, t] = X[first[r], t]
        for i in range(n):
            s = 0.0
            for t in range(d):
                e = X[i, t] - X[first[r], t]
                s += e * e
            closest[i] = s
        for c in range(1, k):
            total = 0.0
            for i in range(n):
                total += closest[i] * w[i]
                cum[i] = total
            best_pot = np.inf
            best_t = 0
            best_idx = 0
            for tr in range(trials):
                target = uniforms[c - 1, r, tr] * total
                lo, hi = 0, n  # first index with cum > target
                while lo < hi:
                    mid = (lo + hi) // 2
                    if cum[mid] <= target:
                        lo = mid + 1
                    else:
                        hi = mid
                idx = min(lo, n - 1)
                pot = 0.0
                for i in range(n):
                    s = 0.0
                    for t in range(d):
                        e = X[i, t] - X[idx, t]
                        s += e * e
                    s = min(s, closest[i])
                    cand_d[tr, i] = s
                    pot += w[i] * s
                if pot < best_pot:
                    best_pot = pot
                    best_t = tr
                    best_idx = idx
            closest[:] = cand_d[best_t]
            for t in range(d):
                centers[r, c, t] = X[best_idx, t]


# ------------------------------------------------------------- cube levels


@nb.njit(**_JIT)
def cube_level(keys, mean, w, scatter, radius):  # pragma: no cover - compiled
    """Group sorted ``keys`` into runs: the next level's cubes. Returns their
    child boundaries (n+1), weight, weighted sum, mean, scatter (parallel
    axis theorem: exact, no cancellation) and radius (a bound on the
    distance of any point of the cube to its mean), and their keys >> 3."""
    m, d = mean.shape
    n = 1
    for i in range(1, m):
        if keys[i] != keys[i - 1]:
            n += 1
    child = np.empty(n + 1, dtype=np.int64)
    out_keys = np.empty(n, dtype=keys.dtype)
    c = 0
    child[0] = 0
    for i in range(1, m):
        if keys[i] != keys[i - 1]:
            out_keys[c] = keys[i - 1] >> 3
            c += 1
            child[c] = i
    out_keys[c] = keys[m - 1] >> 3
    child[n] = m
    weight = np.zeros(n)
    wsum = np.zeros((n, d))
    cmean = np.empty((n, d))
    cscatter = np.zeros(n)
    cradius = np.zeros(n)
    for j in range(n):
        for i in range(child[j], child[j + 1]):
            weight[j] += w[i]
            for t in range(d):
                wsum[j, t] += w[i] * mean[i, t]
        for t in range(d):
            cmean[j, t] = wsum[j, t] / weight[j]
        for i in range(child[j], child[j + 1]):
            s = 0.0
            for t in range(d):
                e = mean[i, t] - cmean[j, t]
                s += e * e
            cscatter[j] += scatter[i] + w[i] * s
            cradius[j] = max(cradius[j], np.sqrt(s) + radius[i])
    return child, weight, wsum, cmean, cscatter, cradius, out_keys


@nb.njit(**_JIT)
def morton_to_rgb(codes, unmorton, out):  # pragma: no cover - compiled
    """The (n, 3) uint8 colours of Morton codes (``unmorton``: the (3, 256)
    tables of ``kmseg._colorfit``)."""
    for i in range(codes.shape[0]):
        c = codes[i]
        plain = unmorton[0, c & 255] | unmorton[1, (c >> 8) & 255] | unmorton[2, c >> 16]
        out[i, 0] = plain >> 16
        out[i, 1] = (plain >> 8) & 255
        out[i, 2] = plain & 255


@nb.njit(**_JIT)
def nonzero_counts(counts):  # pragma: no cover - compiled
    """Indices (uint32) of the non-zero entries of ``counts``, and those entries as float64."""
    n = 0
    for i in range(counts.shape[0]):
        if counts[i]:
            n += 1
    idx = np.empty(n, dtype=np.uint32)
    val = np.empty(n)
    n = 0
    for i in range(counts.shape[0]):
        if counts[i]:
            idx[n] = i
            val[n] = counts[i]
            n += 1
    return idx, val
