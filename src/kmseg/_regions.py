"""Connected regions of a label map (4-connectivity) and the merging of
small regions into their neighbours, in NumPy.

Components are found on horizontal runs: every run of one label in a row is
a node, runs of the same label touching vertically are joined by
union-find with vectorised hooking and pointer jumping.
"""

from __future__ import annotations

import numpy as np

__all__ = ["boundaries", "components", "merge_small"]


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected regions of equal labels (4-connectivity).

    Parameters
    ----------
    labels : (H, W) integer array

    Returns
    -------
    regions : (H, W) int64
        Region id of every pixel, 0 .. n-1.
    n : int
        Number of regions.
    """
    h, w = labels.shape
    if labels.size == 0:
        return np.zeros((h, w), dtype=np.int64), 0
    start = np.ones((h, w), dtype=bool)
    start[:, 1:] = labels[:, 1:] != labels[:, :-1]
    run = np.cumsum(start.ravel()).reshape(h, w) - 1  # run id of every pixel
    n_runs = int(run[-1, -1]) + 1
    same = labels[1:] == labels[:-1]
    a, b = run[:-1][same], run[1:][same]
    if a.size:
        pairs = np.unique(a * n_runs + b)
        a, b = pairs // n_runs, pairs % n_runs
    parent = _union(n_runs, a, b)
    _, root_ids = np.unique(parent, return_inverse=True)
    regions = root_ids.reshape(-1)[run]
    return regions, int(root_ids.max()) + 1


def _union(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Root (smallest member) of every node's set after joining edges a-b."""
    parent = np.arange(n, dtype=np.int64)
    while a.size:
        ra, rb = parent[a], parent[b]
        open_ = ra != rb
        a, b, ra, rb = a[open_], b[open_], ra[open_], rb[open_]
        if not a.size:
            break
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:  # pointer jumping until every node points at its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent


def _neighbour_pairs(regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every 4-neighbour pixel pair in different regions."""
    parts_a, parts_b = [], []
    for x, y in ((regions[:, :-1], regions[:, 1:]), (regions[:-1], regions[1:])):
        diff = x != y
        parts_a += [x[diff], y[diff]]
        parts_b += [y[diff], x[diff]]
    return np.concatenate(parts_a), np.concatenate(parts_b)


def merge_small(labels: np.ndarray, min_region: int) -> tuple[np.ndarray, int, int]:
    """Give every region smaller than ``min_region`` pixels the label of the
    neighbouring region it shares the longest border with, until none is left
    (a region with no neighbour, i.e. the whole image, stays).

    Returns
    -------
    labels : (H, W) array, same dtype
    before, after : int
        Number of regions before and after.
    """
    labels = labels.copy()
    regions, n = components(labels)
    before = n
    while True:
        sizes = np.bincount(regions.ravel(), minlength=n)
        small = sizes < min_region
        if not small.any() or n == 1:
            return labels, before, n
        a, b = _neighbour_pairs(regions)
        keep = small[a]
        pairs, border = np.unique(a[keep] * n + b[keep], return_counts=True)
        a, b = pairs // n, pairs % n
        # Longest shared border first; ties to the larger, then lower-numbered, neighbour.
        order = np.lexsort((b, -sizes[b], -border, a))
        first = np.concatenate(([True], a[order][1:] != a[order][:-1]))
        src, target = a[order][first], b[order][first]
        # A small region may move when its target stays put this round: the
        # target is large, or small but "bigger" (size, id) and not moving.
        key_src = sizes[src] * n + src
        key_tgt = sizes[target] * n + target
        cand = ~small[target] | (key_src < key_tgt)
        is_target = np.zeros(n, dtype=bool)
        is_target[target[cand]] = True
        move = cand & ~is_target[src]
        region_label = np.empty(n, dtype=labels.dtype)
        region_label[regions.ravel()] = labels.ravel()
        new_label = region_label.copy()
        new_label[src[move]] = region_label[target[move]]
        labels = new_label[regions]
        regions, n = components(labels)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose right or lower neighbour has another label."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:-1] |= labels[1:] != labels[:-1]
    return edge
