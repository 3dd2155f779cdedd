"""The NumPy implementation of SVG tracing (kmseg.features._vector) before
it was compiled into kmseg.engine.trace_boundaries (engine/chains.c), kept
as the oracle of tests/test_chains.py: the same sides, chains, simplification
and path text, written with array operations; the walk along permutations,
which was compiled before the rest, is plain Python here."""

from __future__ import annotations

import numpy as np

from regions_reference import components


def svg_paths(labels: np.ndarray, opaque: np.ndarray | None, tolerance: float) -> dict[int, list[str]]:
    """Path data of every painted region, by label (a checked map of at least one pixel)."""
    sides, chains = trace(labels, opaque)
    points, starts = _simplify(sides, chains, tolerance)
    return _assemble(sides, chains, points, starts, sides.padded)


def outlines(labels: np.ndarray, opaque: np.ndarray | None, tolerance: float) -> list[np.ndarray]:
    """Every shared boundary once, simplified: (n, 2) int64 (x, y) polylines in chain order."""
    points, starts = _simplify(*trace(labels, opaque), tolerance)
    return [points[a:b] for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()) if b > a]


def walk_chains(nxt: np.ndarray, head: np.ndarray, key: np.ndarray):
    """The cycles of the permutation ``nxt`` cut into chains at ``head`` (a
    cycle with none starts at its element of smallest ``key``): heads, every
    element's chain, the elements chain after chain, the chains' bounds."""
    nxt_l, key_l = nxt.tolist(), key.tolist()
    head = np.array(head, dtype=bool)
    n = len(nxt_l)
    seen = [False] * n
    for i in range(n):  # every cycle, found from its smallest element
        if seen[i]:
            continue
        cycle, j = [], i
        while not seen[j]:
            seen[j] = True
            cycle.append(j)
            j = nxt_l[j]
        if not head[cycle].any():
            head[min(cycle, key=lambda e: (key_l[e], e))] = True
    head_l = head.tolist()
    chain = [-1] * n
    order, bounds = [], [0]
    for c, i in enumerate(np.flatnonzero(head).tolist()):
        j = i
        while True:
            chain[j] = c
            order.append(j)
            j = nxt_l[j]
            if head_l[j]:
                break
        bounds.append(len(order))
    return (head, np.array(chain, dtype=np.int64), np.array(order, dtype=np.int64),
            np.array(bounds, dtype=np.int64))


# Direction of a directed edge: 0 east (+x), 1 south (+y), 2 west, 3 north.
# The corner's four pixels are numbered the same way: 0 NE, 1 SE, 2 SW, 3 NW;
# an edge leaving a corner in direction d has pixel d on its left and pixel
# d+1 on its right.
_QY = np.array([0, 1, 1, 0])  # padded-map offsets of a corner's pixels
_QX = np.array([1, 1, 0, 0])


class _Sides:
    """Directed sides: the straight runs of pixel edges between two labels
    that end where the boundary turns or meets another, each walked in both
    directions with the label on its left, and the next side around it.

    Equal labels on either side of a pixel edge are one region, so labels
    suffice for the walk: a corner's pixel ahead-left shares an edge with
    the pixel on the left, and the pixel ahead-right shares one with the
    pixel ahead-left.
    """

    def __init__(self, padded: np.ndarray) -> None:
        self.padded = padded
        h, w = padded.shape[0] - 2, padded.shape[1] - 2
        self.stride = stride = w + 1  # corner (y, x) has id y * (w + 1) + x
        # Boundary edges, framed by a row or column of False: east[y, x + 1]
        # is the edge from corner (y, x) to (y, x + 1), south[y + 1, x] the
        # edge from corner (y, x) to (y + 1, x).
        east = np.zeros((h + 1, w + 2), dtype=bool)
        np.not_equal(padded[:-1, 1:-1], padded[1:, 1:-1], out=east[:, 1:-1])
        south = np.zeros((h + 2, w + 1), dtype=bool)
        np.not_equal(padded[1:-1, :-1], padded[1:-1, 1:], out=south[1:-1])
        ey, ex = np.divmod(np.flatnonzero(east), w + 2)  # flatnonzero: 5x faster than nonzero
        sy, sx = np.divmod(np.flatnonzero(south), w + 1)
        e_start = ey * stride + ex - 1
        s_start = (sy - 1) * stride + sx
        self.vertical_edges = s_start  # sorted; the region search reads them
        # Straight runs of edges, cut where an edge of the other direction
        # meets them (there the boundary turns or branches).
        e_begin = np.ones(e_start.size, dtype=bool)
        e_begin[1:] = e_start[1:] != e_start[:-1] + 1
        e_begin |= south[ey, ex - 1] | south[ey + 1, ex - 1]
        e_stop = np.roll(e_begin, -1)
        h_first, h_end = e_start[e_begin], e_start[e_stop] + 1
        order = np.argsort(sx * (h + 2) + sy, kind="stable")  # the south edges column by column
        sy, sx, col = sy[order], sx[order], s_start[order]
        s_begin = np.ones(col.size, dtype=bool)
        s_begin[1:] = col[1:] != col[:-1] + stride
        s_begin |= east[sy - 1, sx] | east[sy - 1, sx + 1]
        s_stop = np.roll(s_begin, -1)
        v_first, v_end = col[s_begin], col[s_stop] + stride
        order = np.argsort(v_first, kind="stable")
        v_first, v_end = v_first[order], v_end[order]
        e_order = np.argsort(h_end, kind="stable")
        n_order = np.argsort(v_end, kind="stable")
        # One group per direction (east, south, west, north), each sorted by start corner.
        self.group_start = [h_first, v_first, h_end[e_order], v_end[n_order]]
        group_end = [h_end, v_end, h_first[e_order], v_first[n_order]]
        sizes = [g.size for g in self.group_start]
        self.offsets = np.cumsum([0] + sizes)
        self.v = np.concatenate(self.group_start)
        self.end = np.concatenate(group_end)
        self.d = np.repeat(np.arange(4, dtype=np.int64), sizes)
        self.left = self._pixel(self.v, self.d)
        self.right = self._pixel(self.v, (self.d + 1) % 4)
        # Junctions: corners with three or four boundary edges.
        y, x = np.divmod(self.v, stride)
        degree = (east[y, x].astype(np.int8) + east[y, x + 1] + south[y, x] + south[y + 1, x])
        self.junction_side = degree >= 3
        self.next = self._next()

    def _pixel(self, v: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Label of pixel q (0 NE, 1 SE, 2 SW, 3 NW) of corners v (-1 outside)."""
        # Pixel (y, x) of the padded map is at y * (w + 2) + x = corner id + y.
        return self.padded.ravel()[v + v // self.stride + _QY[q] * (self.stride + 1) + _QX[q]]

    def find(self, v: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Index of the side leaving corner v in direction d (which exists)."""
        out = np.empty(v.size, dtype=np.int64)
        for g in range(4):
            sel = d == g
            out[sel] = self.offsets[g] + np.searchsorted(self.group_start[g], v[sel])
        return out

    def _next(self) -> np.ndarray:
        # Keep the label on the left: turn left if the pixel ahead-left is
        # not of it, else go straight if the pixel ahead-right is not, else
        # turn right.
        ahead_left = self._pixel(self.end, self.d)
        ahead_right = self._pixel(self.end, (self.d + 1) % 4)
        turn = np.where(ahead_left != self.left, 3, np.where(ahead_right != self.left, 0, 1))
        return self.find(self.end, (self.d + turn) % 4)


class _Chains:
    """The directed sides cut into chains (between junctions), in walking
    order.

    Attributes
    ----------
    order : (S,) int64
        Side indices, chain after chain, each chain in walking order.
    bounds : (C + 1,) int64
        Chain c is ``order[bounds[c]:bounds[c + 1]]``.
    """

    def __init__(self, sides: _Sides) -> None:
        # Chains start at junctions; a ring with no junction starts at its
        # smallest corner (the same one for the region on either side).
        _, self.chain, self.order, self.bounds = walk_chains(sides.next, sides.junction_side, sides.v)
        self.count = self.bounds.size - 1
        nxt = sides.next
        firsts = self.order[self.bounds[:-1]]
        lasts = self.order[self.bounds[1:] - 1]
        self.left = sides.left[firsts]
        self.right = sides.right[firsts]
        self.first_corner = sides.v[firsts]
        # The chain that follows around the same region, and the chain
        # walking the same sides the other way.
        self.next = self.chain[nxt[lasts]]
        self.twin = self.chain[sides.find(sides.end[lasts], (sides.d[lasts] + 2) % 4)]


def _simplify(sides: _Sides, chains: _Chains, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Simplified corners of the chains that have the lower label on their
    left (the other direction uses them reversed).

    Returns
    -------
    points : (N, 2) int64
        (x, y) corners, chain after chain.
    starts : (C + 1,) int64
        Chain c's points are ``points[starts[c]:starts[c + 1]]``; empty for
        the reversed chains.
    """
    canonical = chains.left < chains.right
    lengths = np.diff(chains.bounds)
    order = chains.order[np.repeat(canonical, lengths)]
    can_ids = np.flatnonzero(canonical)
    n_sides = lengths[can_ids]
    # Each chain's corners: its sides' first corners, then its end.
    ends_at = np.cumsum(n_sides + 1) - 1
    is_end = np.zeros(order.size + can_ids.size, dtype=bool)
    is_end[ends_at] = True
    corners = np.empty(is_end.size, dtype=np.int64)
    corners[is_end] = sides.end[chains.order[chains.bounds[can_ids + 1] - 1]]
    corners[~is_end] = sides.v[order]
    y, x = np.divmod(corners, sides.stride)
    pts = np.stack([x, y], axis=1)
    first_at = ends_at - n_sides
    counts = n_sides + 1
    if tolerance > 0 and pts.size:
        mask = _douglas_peucker(pts, first_at, ends_at, tolerance)
        pts = pts[mask]
        counts = np.add.reduceat(mask, first_at)
    per_chain = np.zeros(chains.count, dtype=np.int64)
    per_chain[can_ids] = counts
    return pts, np.concatenate(([0], np.cumsum(per_chain)))


def _douglas_peucker(pts: np.ndarray, first: np.ndarray, last: np.ndarray, tolerance: float) -> np.ndarray:
    """Points kept by Douglas-Peucker on every polyline pts[first:last+1] at
    once, one round per level of the recursion. A closed polyline (first
    point = last) keeps its farthest point and the farthest from each half,
    so that it keeps an area."""
    keep = np.zeros(len(pts), dtype=bool)
    keep[first] = True
    keep[last] = True
    p = pts.astype(np.int64)
    tol2 = tolerance * tolerance
    a, b = first.astype(np.int64), last.astype(np.int64)
    force = np.all(p[a] == p[b], axis=1)
    rounds = 0
    while a.size:
        inner = b - a - 1
        live = inner > 0
        a, b, inner, force = a[live], b[live], inner[live], force[live]
        if not a.size:
            break
        starts = np.cumsum(inner) - inner
        seg = np.repeat(np.arange(a.size), inner)
        idx = np.arange(seg.size) + np.repeat(a + 1 - starts, inner)
        pa = p[a]
        ab = p[b] - pa
        rel = p[idx] - pa[seg]
        # Integer arithmetic: |ab x rel| is the distance times |ab|, the same
        # factor along a segment; a closed one measures from its end instead.
        score = np.abs(ab[seg, 0] * rel[:, 1] - ab[seg, 1] * rel[:, 0])
        closed = (ab == 0).all(axis=1)
        if closed.any():
            score = np.where(closed[seg], (rel * rel).sum(axis=1), score)
        best = np.maximum.reduceat(score, starts)
        at_max = np.flatnonzero(score == best[seg])
        at_seg = seg[at_max]
        first_of_seg = np.ones(at_max.size, dtype=bool)
        first_of_seg[1:] = at_seg[1:] != at_seg[:-1]
        farthest = idx[at_max[first_of_seg]]  # one per segment, in segment order
        length2 = (ab * ab).sum(axis=1)
        best_f = best.astype(np.float64)
        far = np.where(closed, best_f > tol2, best_f * best_f > tol2 * length2)
        split = far | force
        m = farthest[split]
        keep[m] = True
        rounds += 1
        # Force the two halves of a closed polyline once more, then stop forcing.
        again = force[split] & (rounds == 1)
        a = np.concatenate((a[split], m))
        b = np.concatenate((m, b[split]))
        force = np.concatenate((again, again))
    return keep


def trace(labels: np.ndarray, opaque: np.ndarray | None = None) -> tuple[_Sides, _Chains]:
    """The shared boundaries of a label map, cut into chains (assumes a
    checked (H, W) integer map with at least one pixel)."""
    h, w = labels.shape
    padded = np.full((h + 2, w + 2), -1, dtype=np.int16)
    padded[1:-1, 1:-1] = labels
    if opaque is not None:
        padded[1:-1, 1:-1][~opaque] = -1
    sides = _Sides(padded)
    return sides, _Chains(sides)


def _rings(sides: _Sides, chains: _Chains, points: np.ndarray, starts: np.ndarray, padded: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of every painted ring, each ring's first point, and each ring's region and label."""
    n = chains.count
    # The rings: cycles of chains.next, each from its smallest chain, in
    # the order of those; only the painted ones.
    _, ring, order, _ = walk_chains(chains.next, np.zeros(n, dtype=bool), np.arange(n))
    seq = order[chains.left[order] >= 0]
    if not seq.size:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2), dtype=np.int64), empty, empty, empty
    # Every chain's points but its last (the next chain's first), from the
    # simplified copy: forwards, or the twin's backwards.
    forward = chains.left[seq] < chains.right[seq]
    source = np.where(forward, seq, chains.twin[seq])
    first, stop = starts[source], starts[source + 1]
    count = stop - first - 1
    base = np.where(forward, first, stop - 1)
    step = np.where(forward, 1, -1)
    offsets = np.cumsum(count) - count
    k = np.repeat(np.arange(seq.size), count)
    ring_points = points[base[k] + step[k] * (np.arange(k.size) - offsets[k])]
    ring_of_point = ring[seq][k]
    new_ring = np.ones(k.size, dtype=bool)
    new_ring[1:] = ring_of_point[1:] != ring_of_point[:-1]
    ring_first = np.flatnonzero(new_ring)
    # The region of each ring: the region of the pixel on its left.
    ring_seq = ring[seq]
    head = seq[np.flatnonzero(np.concatenate(([True], ring_seq[1:] != ring_seq[:-1])))]
    corner = chains.first_corner[head]
    q = sides.d[chains.order[chains.bounds[head]]]
    y, x = np.divmod(corner, sides.stride)
    region = _pixel_regions(sides, (y + _QY[q]) * padded.shape[1] + x + _QX[q])
    return ring_points, ring_first, region, chains.left[head].astype(np.int64)


def _assemble(sides: _Sides, chains: _Chains, points: np.ndarray, starts: np.ndarray,
              padded: np.ndarray) -> dict[int, list[str]]:
    """Path data of every painted region, by label; in each label the
    regions in the order of their first pixel, each its outer ring and holes."""
    ring_points, ring_first, region, ring_label = _rings(sides, chains, points, starts, padded)
    if not ring_first.size:
        return {}
    k = ring_points.shape[0]
    new_ring = np.zeros(k, dtype=bool)
    new_ring[ring_first] = True
    # Relative moves inside each ring, as text cut out of one joined string.
    inside = ~new_ring[1:]
    moves = (ring_points[1:] - ring_points[:-1])[inside].ravel()
    moves_per_ring = 2 * np.diff(np.append(ring_first, k)) - 2
    text = " ".join(map(str, moves.tolist())).replace(" -", "-")
    digits = np.searchsorted(10 ** np.arange(1, 19, dtype=np.int64), np.abs(moves), "right") + 1
    length = digits + (moves < 0)
    gap = (moves >= 0).astype(np.int64)  # the space before a number (none before a minus)
    begin = np.concatenate(([0], np.cumsum(length[:-1] + gap[1:])))
    end = begin + length
    last = np.cumsum(moves_per_ring) - 1
    lo = np.concatenate(([0], last[:-1] + 1))
    starts_at, ends_at = begin[np.minimum(lo, moves.size - 1)].tolist(), end[last].tolist()
    has_moves = (moves_per_ring > 0).tolist()
    xy = ring_points[ring_first].tolist()
    data = [f"M{x} {y}l{text[b:e]}z" if m else f"M{x} {y}z"
            for (x, y), b, e, m in zip(xy, starts_at, ends_at, has_moves)]
    # Each region's rings joined (most regions have one), then the regions grouped by label.
    by_region = np.argsort(region, kind="stable")
    sorted_region = region[by_region]
    first = np.flatnonzero(np.r_[True, sorted_region[1:] != sorted_region[:-1]])
    end = np.r_[first[1:], by_region.size]
    ordered = [data[i] for i in by_region.tolist()]
    region_data = [ordered[a] for a in first.tolist()]
    for i, a, b in zip(*(c.tolist() for c in (np.flatnonzero(end - first > 1), first[end - first > 1],
                                               end[end - first > 1]))):
        region_data[i] = "".join(ordered[a:b])
    region_label = ring_label[by_region[first]]
    by_label = np.argsort(region_label, kind="stable")
    cuts = np.flatnonzero(np.r_[True, region_label[by_label][1:] != region_label[by_label][:-1]])
    paths: dict[int, list[str]] = {}
    for a, b in zip(cuts.tolist(), np.r_[cuts[1:], by_label.size].tolist()):
        paths[int(region_label[by_label[a]])] = [region_data[i] for i in by_label[a:b].tolist()]
    return paths


def _pixel_regions(sides: _Sides, pixels: np.ndarray) -> np.ndarray:
    """Region of some painted pixels (raveled indices in the padded map):
    equal for two pixels exactly when they are 4-connected through their label
    (the labelling of :func:`regions_reference.components`)."""
    regions, _ = components(sides.padded)
    return regions.ravel()[pixels]
