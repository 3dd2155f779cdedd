"""The NumPy implementation of kmseg.features._regions before it was compiled, kept
as the oracle of tests/test_regions.py (the same merging rule, written with
array operations rather than a region graph)."""

from __future__ import annotations

import numpy as np


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected regions numbered by first pixel: (H, W) int64 ids and n."""
    h, w = labels.shape
    if labels.size == 0:
        return np.zeros((h, w), dtype=np.int64), 0
    start = np.ones((h, w), dtype=bool)
    start[:, 1:] = labels[:, 1:] != labels[:, :-1]
    run = np.cumsum(start.ravel()).reshape(h, w) - 1  # run id of every pixel
    n_runs = int(run[-1, -1]) + 1
    same = labels[1:] == labels[:-1]
    a, b = run[:-1][same], run[1:][same]
    parent = np.arange(n_runs, dtype=np.int64)
    while a.size:  # hook larger roots under smaller ones, then pointer jumping
        ra, rb = parent[a], parent[b]
        open_ = ra != rb
        a, b, ra, rb = a[open_], b[open_], ra[open_], rb[open_]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while not np.array_equal(parent[parent], parent):
            parent = parent[parent]
    _, root_ids = np.unique(parent, return_inverse=True)
    return root_ids.reshape(-1)[run], int(root_ids.max()) + 1


def merge_small(labels: np.ndarray, min_region: int) -> tuple[np.ndarray, int, int]:
    """Rounds: every small region picks the neighbour with the longest border
    (ties: larger, then lower id) and moves when that target stays put."""
    labels = labels.copy()
    regions, n = components(labels)
    before = n
    while True:
        sizes = np.bincount(regions.ravel(), minlength=n)
        small = sizes < min_region
        if not small.any() or n == 1:
            return labels, before, n
        parts_a, parts_b = [], []
        for x, y in ((regions[:, :-1], regions[:, 1:]), (regions[:-1], regions[1:])):
            diff = x != y
            parts_a += [x[diff], y[diff]]
            parts_b += [y[diff], x[diff]]
        a, b = np.concatenate(parts_a), np.concatenate(parts_b)
        keep = small[a]
        pairs, border = np.unique(a[keep] * n + b[keep], return_counts=True)
        a, b = pairs // n, pairs % n
        order = np.lexsort((b, -sizes[b], -border, a))
        first = np.concatenate(([True], a[order][1:] != a[order][:-1]))
        src, target = a[order][first], b[order][first]
        cand = ~small[target] | (sizes[src] * n + src < sizes[target] * n + target)
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
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edge[:-1] |= labels[1:] != labels[:-1]
    return edge
