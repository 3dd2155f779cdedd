"""Exact k-means over every pixel of an image, through its colour histogram.

Every distinct colour is one point weighted by its pixel count, which has the
same optimum as clustering the pixels themselves. Colours are keyed by their
Morton code (the bits of R, G and B interleaved), so sorting the codes groups
the colours into nested cubes: the colours sharing the top ``8 - s`` bits of
every channel are contiguous for every ``s``. That hierarchy serves three times:

* restarts (k-means++ and Lloyd) run on the weighted means of coarse cubes,
  where they are cheap;
* the best restart leaves its local optimum by "jumps" (a centre moved
  from where it is least useful into the cluster with the largest error,
  kept when Lloyd then ends lower), also on cubes;
* each exact Lloyd pass walks the hierarchy top-down (Kanungo et al.'s
  filtering idea): a cube whose every colour provably has the same nearest
  centre is assigned whole, using its weight, mean and scatter, which keeps
  the pass and its inertia exact; only cubes near a boundary are opened.

Every pass over colours, cubes and items runs in the compiled engine
(:mod:`kmseg.engine._kernels`). The functions here assume validated input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kmseg.engine import _deadline, _kmeans, _tree
from kmseg._parallel import parallel_map
import kmseg.engine._kernels as _kernels

__all__ = ["codes_to_rgb", "fit_colors", "pixel_codes"]

N_CODES = 1 << 24
_TOP_SHIFT = 5  # coarsest cubes: 3 bits a channel, at most 512 of them
_CUBES_PER_CLUSTER = 80  # restarts want this many cubes per cluster ...
_CANDIDATE_POINTS = 20_000  # ... up to this many: restarts run on the coarsest such cubes
_COARSE_ITER = 12  # coarse Lloyd only ranks the starts; the exact passes finish the job
REFINED = 4  # coarse restarts tried on finer cubes or the exact colours
_TRIAL_ITER = 6  # Lloyd passes that rank the starts on the colours
_TRIAL_POINTS = 20_000  # cubes enough to rank the starts on them instead
_TRIAL_ITER_COARSE = 20
_JUMPS = 6  # tries to move a centre out of the winner's local optimum (see _jumps)
_JUMP_FAILS = 2  # ... and none after this many tries in a row that were not kept
_JUMP_LOSS = 0.02  # ... skipped when their first-order estimate loses this share of the inertia
_JUMP_ITER = 10  # Lloyd passes that judge a try (a kept one goes on to convergence) ...
_JUMP_CHECKS = (2, 4, 6)  # ... a try dropped at these passes when its pace would leave it above (see _judged)
_JUMPS_WIDE = 12  # tries and ...
_JUMP_FAILS_WIDE = 4  # ... fails in a row, with a looser cut-off, up to this many colours x clusters:
_WIDE_JUMP_WORK = 4_000_000
_JUMP_LOSS_WIDE = 0.1  # ... their cut-off on photos, none on flat colour (see _flat)
_FINISH_WORK = 1_500_000  # colours x clusters: below this, several starts are finished (see _finished)
_FINISH_PIXELS = 20  # ... only on flat colour: this many pixels a colour, or ...
_FEW_COLOURS = 1024  # ... at most this many colours (see _flat)
_SNAP_ITER = 20  # Lloyd passes on whole-number centres after rounding, up to _WIDE_JUMP_WORK (see _snap)
_SMALL_REMOVAL_WORK = 65_536  # items x clusters up to which a removal's cost is found for every centre at once
_CHEAP_WORK = 1_000_000  # colours x clusters up to which an exact pass is cheap ...
_CHEAP_TOL = 0.01  # ... and the exact passes go on to this fraction of tol
_CHEAP_FINAL_WORK = 20_000_000  # the same for the last exact passes, which only lower the inertia
_MID_SHRINK = 0.5  # exact passes to tol start with Lloyd on the cube levels of at most this share of the colours ...
_MID_TOL = 0.3  # ... to this fraction of tol (see _through_finer_cubes) ...
_MID_MIN_K = 24  # ... from this many clusters: at 12 MP K=16 the step took 20% of the time for 0.02% lower error


def _spread_bits() -> np.ndarray:
    v = np.arange(256, dtype=np.uint32)
    out = np.zeros(256, dtype=np.uint32)
    for i in range(8):
        out |= ((v >> i) & 1) << (3 * i)
    return out


_SPREAD = _spread_bits()
_MORTON_R, _MORTON_G, _MORTON_B = _SPREAD << 2, _SPREAD << 1, _SPREAD
#: What each channel's value contributes to a Morton code (R, G, B).
MORTON_TABLES = (_MORTON_R, _MORTON_G, _MORTON_B)


def _unmorton_tables() -> np.ndarray:
    tables = np.zeros((3, 256), dtype=np.uint32)
    v = np.arange(256, dtype=np.uint32)
    for byte in range(3):
        for bit in range(8):
            pos = 8 * byte + bit  # bit position in the Morton code
            channel = 2 - pos % 3  # 0 = R, 1 = G, 2 = B
            plain_bit = 8 * (2 - channel) + pos // 3
            tables[byte] |= ((v >> bit) & 1) << plain_bit
    return tables


_UNMORTON = _unmorton_tables()


# Pixels handled per step in whole-image passes: bounds the temporaries.
_PIXEL_CHUNK = 1 << 20


# What R and G together contribute (index R * 256 + G): one lookup for both bytes.
_MORTON_RG = (_MORTON_R[:, None] | _MORTON_G[None, :]).reshape(-1)


def pixel_codes(rgb: np.ndarray) -> np.ndarray:
    """Morton codes of the pixels of an (..., 3) uint8 array, flattened to (n,) uint32."""
    flat = rgb.reshape(-1, 3)
    codes = np.empty(flat.shape[0], dtype=np.uint32)
    for s in range(0, flat.shape[0], _PIXEL_CHUNK):
        part = flat[s : s + _PIXEL_CHUNK]
        rg = part[:, 0].astype(np.uint16)
        rg <<= 8
        rg |= part[:, 1]
        out = codes[s : s + _PIXEL_CHUNK]
        out[:] = _MORTON_RG[rg]  # indexing, not np.take: take converts the small indices first, 3x slower
        out |= _MORTON_B[part[:, 2]]
    return codes


def codes_to_rgb(codes: np.ndarray) -> np.ndarray:
    """The (m, 3) uint8 colours of Morton codes."""
    out = np.empty((codes.size, 3), dtype=np.uint8)
    _kernels.morton_to_rgb(np.ascontiguousarray(codes, dtype=np.uint32), _UNMORTON, out)
    return out


@dataclass
class _Level:
    """Cubes of one size: ``child[i]:child[i+1]`` are the indices of cube i's
    children in the next finer level (or its points, for the finest level);
    ``first_point`` gives the same for the points."""

    child: np.ndarray
    first_point: np.ndarray
    weight: np.ndarray
    wsum: np.ndarray  # weight times mean, (n, d)
    mean: np.ndarray
    scatter: np.ndarray  # sum of w * |y - mean|^2 over the cube's points
    radius: np.ndarray  # bound on |y - mean| over the cube's points

    @property
    def size(self) -> int:
        return self.weight.size


def _starts(ids: np.ndarray) -> np.ndarray:
    """Start of every run of equal values in a sorted array, plus its length."""
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    return np.concatenate(([0], change, [ids.size])).astype(np.intp)


class _Levels(list):
    """The cube levels of :func:`_build_levels`, keeping their prepared
    :class:`_tree.Tree` once made: the restarts, trials and exact passes that
    all run on the colours share one tree instead of each building it."""

    tree: _tree.Tree | None = None


def _build_levels(codes: np.ndarray, Y: np.ndarray, w: np.ndarray) -> list[_Level]:
    """Level 0 is the colours themselves; level s holds the cubes of side
    2**s, up to the top cubes."""
    m = codes.size
    zero = np.broadcast_to(0.0, (m,))  # colours have no scatter and no radius
    single = np.arange(m + 1, dtype=np.intp)
    levels: list[_Level] = _Levels([_Level(None, single, w, None, Y, zero, zero)])  # type: ignore[arg-type]
    keys, mean, weight = codes >> 3, np.ascontiguousarray(Y, dtype=np.float64), w
    scatter = radius = np.zeros(m)
    first = None
    for _ in range(_TOP_SHIFT):
        child, weight, wsum, mean, scatter, radius, keys = _kernels.cube_level(keys, mean, weight, scatter, radius)
        first = child if first is None else first[child]
        levels.append(_Level(child, first, weight, wsum, mean, scatter, radius))
    return levels


def prepare(stats: list[_Level] | _tree.Tree) -> _tree.Tree:
    """``stats`` as the compiled passes want it (a ``_tree.Tree``; the
    levels of :func:`_build_levels` build theirs once)."""
    if isinstance(stats, _tree.Tree):
        return stats
    if isinstance(stats, _Levels):
        if stats.tree is None:
            stats.tree = _tree.Tree(stats)
        return stats.tree
    return _tree.Tree(stats)


def _refine(stats: list[_Level] | _tree.Tree, Y: np.ndarray, C: np.ndarray, max_iter: int,
            tol_abs: float, items: _tree.Items | None = None,
            need_inertia: bool = True) -> tuple[np.ndarray, _tree.Items, float, int, bool]:
    """:func:`kmseg.engine._kmeans.refine` over ``stats`` (levels, or a prepared tree)."""
    return _kmeans.refine(prepare(stats), Y, C, max_iter, tol_abs, items, need_inertia)


def _candidates(levels: list[_Level], k: int, n_init: int, max_iter: int,
                rng: np.random.Generator) -> np.ndarray:
    """k-means++ and Lloyd, ``n_init`` times, on the coarsest level that has
    comfortably more cubes than clusters (the Lloyd passes open no cube:
    they are the points). Returns (n_init, k, d) centres, best (lowest
    coarse inertia) first."""
    want = max(min(_CUBES_PER_CLUSTER * k, _CANDIDATE_POINTS), 256)
    chosen = 1 if levels[0].size > 200_000 else 0
    for level in range(len(levels) - 1, -1, -1):
        if levels[level].size >= want:
            chosen = level
            break
    X, W = levels[chosen].mean, levels[chosen].weight
    tol_abs = 1e-4 * _kmeans.weighted_variance(X, W)
    starts = _kmeans.seed_plusplus(X, W, k, n_init, rng)
    iters = min(max_iter, _COARSE_ITER)
    stats = prepare(coarse_stats(levels, chosen))
    runs = parallel_map(lambda C0: _refine(stats, X, C0, iters, tol_abs), list(starts))
    order = np.argsort([run[2] for run in runs], kind="stable")
    return np.stack([runs[i][0] for i in order])


def fit_colors(
    codes: np.ndarray,
    Y: np.ndarray,
    w: np.ndarray,
    k: int,
    max_iter: int,
    tol: float,
    n_init: int,
    rng: np.random.Generator,
    integer_centers: bool = False,
) -> tuple[np.ndarray, np.ndarray, float, int, bool]:
    """k-means on weighted distinct colours, exact over every pixel.

    The best few of the coarse restarts are refined on the exact colours and
    the lowest exact inertia wins.

    Parameters
    ----------
    codes : (m,) uint32
        Sorted Morton codes of the distinct colours.
    Y : (m, d) float64
        The colours in the working colour space, in the order of ``codes``.
    w : (m,) float64
        Pixel count of every colour.
    k : int
        Clusters, with 2 <= k < m.
    integer_centers : bool
        Finish by rounding the centres to whole numbers (the 8-bit palette
        users get, in RGB) and re-assigning the colours to the rounded
        centres, which can only lower the error of the picture.

    Returns
    -------
    centers : (k, d) float64
    labels : (m,) uint8
        Cluster of every distinct colour (nearest centre).
    inertia : float
        Sum over all pixels of the squared distance to their centre.
    n_iter : int
        Exact Lloyd iterations of the winning run.
    converged : bool
    """
    levels = _build_levels(codes, Y, w)
    _deadline.check()
    starts = _candidates(levels, k, n_init, max_iter, rng)
    tol_abs = tol * variance(levels)
    finished = _finished(Y.shape[0], k, len(starts), w.sum())
    # the usual way first, then each of the best starts alone
    groups = _distinct_groups(starts, finished)
    best = None
    for group in groups:
        C, items, inertia, n_iter, converged = best_of(levels, Y, group, max_iter, tol_abs,
                                                       need_inertia=not integer_centers or finished > 1)
        if integer_centers:
            C, inertia = _snap(items, C, inertia, _SNAP_ITER if Y.shape[0] * k <= _WIDE_JUMP_WORK else 0)
        if best is None or inertia < best[2]:
            best = (C, items, inertia, n_iter, converged)
    assert best is not None
    C, items, inertia, n_iter, converged = best
    if finished > 1 and not integer_centers and n_iter < max_iter:
        # A single start stops at tol a little short of Lloyd's fixed point; here
        # passes are cheap: go on to it, so each centre is its cluster's mean.
        C, items, inertia, more, converged = _refine(levels, Y, C, max_iter - n_iter, 0.0, items)
        n_iter += more
    return C, items.point_labels(Y.shape[0]), inertia, n_iter, converged


def _distinct_groups(starts: np.ndarray, finished: int) -> list[np.ndarray]:
    """The groups :func:`fit_colors` finishes: the best ``REFINED`` starts
    together, then each of the best ``finished - 1`` alone, without repeats.
    Restarts often meet at the same centres (always, on a few colours); a
    repeat would only be taken down the same deterministic path to the same
    end, and could not win (a later group wins only when strictly lower). A
    repeat in the first group would lose its trial to its first copy."""
    first = _unique_rows(starts[:REFINED])
    alone = _unique_rows(starts[: finished - 1])
    if len(first) == 1:  # the first group is starts[0] alone: not again
        alone = alone[1:]
    return [starts[first]] + [starts[i : i + 1] for i in alone]


def _unique_rows(starts: np.ndarray) -> list[int]:
    """Indices of the first copy of each distinct start (same bytes), in order."""
    seen: set[bytes] = set()
    keep = []
    for i, start in enumerate(starts):
        key = start.tobytes()
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def _finished(m: int, k: int, n_starts: int, pixels: float) -> int:
    """How many of the best coarse starts are each taken to the end (trial,
    jumps, exact passes and, for a palette, whole numbers), the lowest final
    error winning: the usual way (the best of ``REFINED`` starts after a
    short trial is finished), plus as many single starts as ``_FINISH_WORK``
    colours x clusters allow, so a small histogram (flat-colour artwork, a
    small K) is searched more widely. Only on :func:`_flat` colour, where
    the extra starts find lower palettes: photos (2-15 pixels a colour) gained
    at most 0.03% from them, at up to 4x the time at K=8, and a tiny photo,
    nearly a colour a pixel, would pay for each start as for a pass over its
    pixels (so at most one start for each pixel a colour, even on flat
    colour). Returns 1 (the usual way alone) up to ``n_starts + 1``."""
    if not _flat(m, pixels):
        return 1
    by_pixels = int(pixels) // max(1, m)
    return int(min(n_starts + 1, max(1, _FINISH_WORK // max(1, m * k)), max(1, by_pixels)))


def _flat(m: int, pixels: float) -> bool:
    """Whether a histogram of ``m`` colours over ``pixels`` pixels is flat
    colour (artwork, a palette image) rather than a photo: at least
    ``_FINISH_PIXELS`` pixels a colour, or at most ``_FEW_COLOURS``
    colours. Photos have 2-15 pixels a colour; generated flat-colour
    pictures hundreds."""
    return m <= _FEW_COLOURS or pixels >= _FINISH_PIXELS * m


def variance(levels: list[_Level]) -> float:
    """``_kmeans.weighted_variance`` of the colours, from the top cubes'
    scatter (parallel axis theorem): no pass over the colours."""
    top = levels[-1]
    if top.scatter is None or len(levels) == 1:
        return _kmeans.weighted_variance(top.mean, top.weight)
    total = top.weight.sum()
    mean = top.weight @ top.mean / total
    spread = float(top.scatter.sum() + top.weight @ ((top.mean - mean) ** 2).sum(axis=1))
    return spread / total / top.mean.shape[1]


def coarse_stats(levels: list[_Level], level: int) -> list[_Level]:
    """The levels from ``level`` up, its cubes made points: never opened
    (radius 0), their scatter kept, so inertia stays exact for the cubes.
    Level 0 (the colours, which have no radius) is ``levels`` itself."""
    if level == 0:
        return levels
    base = levels[level]
    return [replace(base, radius=np.zeros(base.size))] + levels[level + 1 :]


def _trial_level(levels: list[_Level]) -> int:
    """The coarsest level with at least ``_TRIAL_POINTS`` cubes (0: the colours)."""
    for level in range(len(levels) - 1, 0, -1):
        if levels[level].size >= _TRIAL_POINTS:
            return level
    return 0


def best_of(levels: list[_Level], Y: np.ndarray, starts, max_iter: int, tol_abs: float,
            need_inertia: bool = True) -> tuple[np.ndarray, _tree.Items, float, int, bool]:
    """Tell the promising starts apart with Lloyd passes on cubes a little
    coarser than the colours (on the colours for small histograms), improve
    the best with :func:`_jumps` there, and run it on the exact colours to
    convergence. Returns what :func:`_refine` does; the iterations count the
    winner's passes on the cubes (its trial, the passes after it and those
    of the jumps it kept) and on the colours. Without ``need_inertia`` the
    inertia may be None (see :func:`_refine`)."""
    level = _trial_level(levels)
    k = len(starts[0])
    # Lloyd on k-means' slow slides moves the centres less than tol a pass
    # long before it stops improving; where an exact pass is cheap, go on
    # to tol / 100 (near the fixed point) on the colours.
    exact_tol = tol_abs * _CHEAP_TOL if Y.shape[0] * k <= _CHEAP_WORK else tol_abs
    if level:
        trial = prepare(coarse_stats(levels, level))
        trial_iter = min(_TRIAL_ITER_COARSE, max_iter)
        fine_tol = tol_abs
    else:
        trial = prepare(levels)
        trial_iter = min(_TRIAL_ITER, max_iter)
        fine_tol = exact_tol
    points = Y if not level else levels[level].mean
    best = None
    for run in parallel_map(lambda C: _refine(trial, points, C, trial_iter, tol_abs), list(starts)):
        if best is None or run[2] < best[2]:
            best = run
    assert best is not None
    C, items, inertia, n_iter, converged = best
    if n_iter < max_iter and (not converged or fine_tol < tol_abs):  # the winner goes on to convergence
        C, items, inertia, more, converged = _refine(trial, points, C, max_iter - n_iter, fine_tol, items)
        n_iter += more
    C, items, inertia, n_iter, converged = _jumps(trial, points, (C, items, inertia, n_iter, converged),
                                                  max_iter, fine_tol, wide=Y.shape[0] * k <= _WIDE_JUMP_WORK,
                                                  flat=_flat(Y.shape[0], float(levels[0].weight.sum())))
    if level:  # the winner's centres on the colours, from scratch
        final_tol = tol_abs * _CHEAP_TOL if Y.shape[0] * k <= _CHEAP_FINAL_WORK else tol_abs
        if final_tol >= tol_abs and k >= _MID_MIN_K:
            C, more = _through_finer_cubes(levels, level, C, max(0, max_iter - n_iter), tol_abs)
            n_iter += more
        tree = prepare(levels)
        C, items, inertia, more, converged = _refine(tree, Y, C, max(0, max_iter - n_iter), final_tol,
                                                     need_inertia=need_inertia)
        n_iter += more
    return C, items, inertia, n_iter, converged


def _through_finer_cubes(levels: list[_Level], level: int, C: np.ndarray, max_iter: int,
                         tol_abs: float) -> tuple[np.ndarray, int]:
    """Lloyd from ``C`` on each level of cubes finer than ``level`` that is
    much smaller than the colours (``_MID_SHRINK``), to ``_MID_TOL`` x
    ``tol_abs``, before the exact passes: a pass there costs a fraction of
    an exact one, and Lloyd's slow slide to its fixed point happens there,
    so the exact passes that follow are fewer and end lower. Returns the
    centres and the passes run."""
    n_iter = 0
    for mid in range(level - 1, 0, -1):
        if levels[mid].size > _MID_SHRINK * levels[0].size or n_iter >= max_iter:
            break
        C, _, _, more, _ = _refine(coarse_stats(levels, mid), levels[mid].mean, C, max_iter - n_iter,
                                   tol_abs * _MID_TOL, need_inertia=False)
        n_iter += more
    return C, n_iter


def _cheapest_removal(mean: np.ndarray, w: np.ndarray, lab: np.ndarray, own: np.ndarray,
                      lower: np.ndarray, C: np.ndarray) -> tuple[int, float]:
    """The centre whose removal costs least (its items going to their second
    nearest centre), and that cost. The items' lower bounds bound every
    centre's cost from below, so only the centres that could still win are
    costed exactly, lowest bound first. ``own``: the items' squared
    distances to their centres. The distances are compiled: BLAS's threads
    would spin against the passes' threads."""
    k = C.shape[0]
    if mean.shape[0] * k <= _SMALL_REMOVAL_WORK:
        # few items (flat colour, tiny images): every cost at once; the loop
        # below paid a compiled call and a copy of the centres for each one
        sq = ((mean[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)
        sq[np.arange(mean.shape[0]), lab] = np.inf
        costs = np.bincount(lab, weights=w * (sq.min(axis=1) - own), minlength=k) if k > 1 else np.zeros(k)
        j = int(np.argmin(costs))
        return j, float(costs[j])
    bound = np.bincount(lab, weights=w * np.maximum(np.maximum(lower, 0.0) ** 2 - own, 0.0), minlength=k)
    members = np.argsort(lab, kind="stable")
    first = np.concatenate(([0], np.cumsum(np.bincount(lab, minlength=k))))
    best, best_cost = -1, np.inf
    for j in np.argsort(bound, kind="stable"):
        if bound[j] >= best_cost:
            break
        idx = members[first[j] : first[j + 1]]
        P, others = mean[idx], np.delete(C, j, axis=0)
        nearest = np.empty(idx.size)
        _kernels.nearest_centres(P, np.ascontiguousarray(others.T), np.empty(idx.size, dtype=np.uint8), nearest)
        cost = float(np.einsum("i,i->", w[idx], nearest - own[idx])) if idx.size else 0.0
        if cost < best_cost:
            best, best_cost = int(j), cost
    return best, best_cost


def _jumps(stats: list[_Level] | _tree.Tree, points: np.ndarray, run: tuple, max_iter: int,
           tol_abs: float, wide: bool = False, flat: bool = False) -> tuple[np.ndarray, _tree.Items, float, int, bool]:
    """Escape the local optimum Lloyd stopped in, by jumps (Fritzke's
    k-means-u*, Ismkhan's I-k-means-+): the least useful centre (the one
    whose removal would cost least) moves into the cluster with the largest
    error, the two split it along its main axis, and Lloyd runs to
    convergence again; the result is kept only when its inertia is lower.
    At most ``_JUMPS`` tries; none once the first-order estimate of a jump
    (the split's gain for a Gaussian cluster, 2/pi of its variance along
    the axis, minus the removal cost) loses more than ``_JUMP_LOSS`` of the
    inertia, which Lloyd rarely makes up for (typical at small K), or
    after ``_JUMP_FAILS`` tries in a row that were not kept. ``run``: what
    :func:`_refine` returned for ``stats``; returns the same for the best
    run, its iterations those of ``run`` plus the kept tries'. ``wide`` (a
    small histogram, where a try is cheap): ``_JUMPS_WIDE`` tries and
    ``_JUMP_FAILS_WIDE`` fails in a row, each try judged after
    ``_JUMP_ITER`` Lloyd passes at most (a kept one goes on to
    convergence; see :func:`_judged`), with the looser cut-off
    ``_JUMP_LOSS_WIDE``, or none where the picture is ``flat`` colour (many
    pixels a colour). On photos the tries kept had first-order estimates
    down to -8% of the inertia, all at K >= 16; at K=8 the first try's
    estimate is -11% to -20% and no try was kept."""
    C, items, inertia, n_iter, converged = run
    k = C.shape[0]
    tried: set[tuple[int, int]] = set()
    failed = 0
    wide_loss = np.inf if flat else _JUMP_LOSS_WIDE
    tries, fails, loss = (_JUMPS_WIDE, _JUMP_FAILS_WIDE, wide_loss) if wide else (_JUMPS, _JUMP_FAILS, _JUMP_LOSS)
    judge = _JUMP_ITER if wide else max_iter
    state = None
    for _ in range(tries):
        if n_iter >= max_iter or failed >= fails:
            break
        if state is None:  # a try not kept leaves the centres and their items as they were
            mean, w, scatter, lab, lower = items.parts()
            diff = mean - C[lab]
            own = np.einsum("ij,ij->i", diff, diff)
            error = np.bincount(lab, weights=w * own + scatter, minlength=k)
            state = (mean, w, lab, error, *_cheapest_removal(mean, w, lab, own, lower, C))
        mean, w, lab, error, j, removal = state
        order = [int(s) for s in np.argsort(-error, kind="stable") if s != j and (j, int(s)) not in tried]
        if not order:
            break
        s = order[0]
        tried.add((j, s))
        mine = lab == s
        X, W = mean[mine], w[mine]
        mu = np.einsum("i,ij->j", W, X) / W.sum()
        cov = np.einsum("i,ij,ik->jk", W, X - mu, X - mu) / W.sum()
        var, axes = np.linalg.eigh(cov)
        if var[-1] <= 0 or (2.0 / np.pi) * W.sum() * var[-1] - removal < -loss * inertia:
            break
        offset = np.sqrt(2.0 / np.pi * var[-1]) * axes[:, -1]  # the 2-means centres of a Gaussian
        C_new = C.copy()
        C_new[s], C_new[j] = mu + offset, mu - offset
        budget = min(judge, max_iter - n_iter)
        if wide:
            C_try, items_try, inertia_try, more, converged_try = _judged(stats, points, C_new, budget, tol_abs, inertia)
        else:
            C_try, items_try, inertia_try, more, converged_try = _refine(stats, points, C_new, budget, tol_abs)
        if inertia_try < inertia:
            if not converged_try and n_iter + more < max_iter:  # a kept try goes on to convergence
                C_try, items_try, inertia_try, rest, converged_try = _refine(stats, points, C_try,
                                                                           max_iter - n_iter - more, tol_abs,
                                                                           items_try)
                more += rest
            C, items, inertia, converged = C_try, items_try, inertia_try, converged_try
            n_iter += more
            state = None
            tried.clear()
            failed = 0
        else:
            failed += 1
    return C, items, inertia, n_iter, converged


def _judged(stats: list[_Level] | _tree.Tree, points: np.ndarray, C: np.ndarray, budget: int, tol_abs: float,
            inertia: float) -> tuple[np.ndarray, _tree.Items, float, int, bool]:
    """Lloyd from a wide jump's centres ``C`` for at most ``budget``
    passes, or until below ``inertia``, what :func:`_refine` returns. Most
    tries fail, and a failing try is visibly on its way to failing: at the
    passes of ``_JUMP_CHECKS`` the try stops when the pace of its inertia
    since the last check, kept up for the passes left, would still leave it
    above ``inertia``. Lloyd's gains shrink pass by pass, so that pace is
    optimistic and a try that would end below is not stopped; the passes
    run are those of one :func:`_refine` call, so a try that is kept ends
    where it would have."""
    items, done, last = None, 0, None
    for check in (*_JUMP_CHECKS, budget):
        if check <= done:
            continue
        C, items, got, more, converged = _refine(stats, points, C, min(check, budget) - done, tol_abs, items)
        done += more
        if converged or done >= budget or got < inertia:
            break
        if last is not None and got - (last[1] - got) / (done - last[0]) * (budget - done) >= inertia:
            break
        last = (done, got)
    return C, items, got, done, converged


def _snap(items: _tree.Items, C: np.ndarray, inertia: float | None, passes: int = 0) -> tuple[np.ndarray, float]:
    """Round the centres to whole numbers and re-assign the items to them,
    then go on with Lloyd on whole numbers (the rounded mean of a cluster is
    its best whole-number centre, so each pass can only lower the error)
    while the centres change, at most ``passes`` passes (``_SNAP_ITER`` for
    small histograms, where the palette's rounding is a large share of the
    error; a photo gains little from them). A pass that
    would merge two centres or empty a cluster is not made; when the first
    would, the float centres and their ``inertia`` (computed here when None)
    are returned."""
    R = np.clip(np.rint(C), 0, 255)
    if _repeats(R):
        return C, items.inertia(C) if inertia is None else inertia
    delta = np.sqrt(((R - C) ** 2).sum(axis=1))
    items.update(R, delta)
    if (items.weight <= 0).any():
        items.update(C, delta)  # back to the float centres' assignment
        return C, items.inertia(C) if inertia is None else inertia
    best = items.inertia(R)
    for _ in range(passes):
        R_new = np.clip(np.rint(items.sums / items.weight[:, None]), 0, 255)
        if (R_new == R).all() or _repeats(R_new):
            break
        delta = np.sqrt(((R_new - R) ** 2).sum(axis=1))
        items.update(R_new, delta)
        got = items.inertia(R_new) if (items.weight > 0).all() else np.inf
        if got >= best:
            items.update(R, delta)
            break
        R, best = R_new, got
    return R, best


def _repeats(R: np.ndarray) -> bool:
    """Whether two of the whole-number centres ``R`` (k, d), 0-255, are equal
    (one key a centre: ``np.unique(R, axis=0)`` sorts row views, far slower)."""
    key = R[:, 0].astype(np.int64)
    for j in range(1, R.shape[1]):
        key = key * 256 + R[:, j].astype(np.int64)
    return np.unique(key).size < R.shape[0]
