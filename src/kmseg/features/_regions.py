"""Connected regions of a label map (4-connectivity), the merging of small
regions into their neighbours, spatial connectivity and the boundaries
overlay.

The work is compiled (:mod:`kmseg.engine._regions`, C): one scan of the map
into runs joined by union-find, then merging on the region graph. Label maps
of dtypes other than uint8 and uint32 are mapped to uint32 codes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import kmseg.engine._regions as _regions
from kmseg.engine import _deadline
from kmseg.engine._colorfit import MORTON_TABLES

__all__ = ["boundaries", "components", "connect", "merge_small", "moved_from", "moved_pixels"]


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A C-contiguous uint8 or uint32 map with the same equalities as
    ``labels``, and the values to map the codes back (None: a cast does)."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2-D array, got {labels.ndim} dimensions")
    if labels.dtype in (np.uint8, np.uint32):
        return np.ascontiguousarray(labels), None
    if labels.dtype in (np.bool_, np.int8):
        return np.ascontiguousarray(labels).view(np.uint8), None
    if labels.dtype.kind in "iu" and labels.dtype.itemsize <= 4:
        return labels.astype(np.uint32), None  # signed values wrap; equality is kept
    values, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.uint32), values


def _back(out: np.ndarray, like: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    if values is not None:
        return values[out]
    return out.view(like.dtype) if out.dtype.itemsize == like.dtype.itemsize else out.astype(like.dtype)


def components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected regions of equal labels (4-connectivity).

    Parameters
    ----------
    labels : (H, W) integer array

    Returns
    -------
    regions : (H, W) int64
        Region id of every pixel, 0 .. n-1, in the raster order of every
        region's first pixel.
    n : int
        Number of regions.
    """
    codes, _ = _codes(labels)
    regions, sizes = _regions.label(codes)
    return regions, int(sizes.size)


def merge_small(labels: np.ndarray, min_region: int) -> tuple[np.ndarray, int, int]:
    """Give every region smaller than ``min_region`` pixels the label of the
    neighbouring region it shares the longest border with, until none is left
    (a region with no neighbour, i.e. the whole image, stays).

    Regions merge in rounds. In a round every small region picks the
    neighbour with the longest shared border (ties: the larger, then the
    first in raster order) and takes its label if that neighbour stays put
    this round: it is not small, or it is small but larger (by size, then
    raster order) and picked by nobody.

    Parameters
    ----------
    labels : (H, W) integer array
    min_region : int
        Smallest region kept, in pixels.

    Returns
    -------
    labels : (H, W) array, same dtype
        A new array.
    before, after : int
        Number of regions before and after.
    """
    codes, values = _codes(labels)
    _deadline.check()
    out, before, after = _regions.merge(codes, int(min_region), False)
    _deadline.check()
    return _back(out, np.asarray(labels), values), int(before), int(after)


def connect(labels: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Make every label one connected region: each label keeps its largest
    region (ties: the first in raster order) and its other regions are
    merged, in rounds as in :func:`merge_small`, into the neighbour they
    share the longest border with. No label disappears.

    Parameters
    ----------
    labels : (H, W) uint8 array

    Returns
    -------
    labels : (H, W) uint8
        A new array.
    before, after : int
        Number of regions before and after (after: the number of labels).
    """
    labels = np.asarray(labels)
    if labels.dtype != np.uint8:
        raise TypeError(f"labels must be uint8, got {labels.dtype}")
    _deadline.check()
    out, before, after = _regions.merge(np.ascontiguousarray(labels), 0, True)
    _deadline.check()
    return out, int(before), int(after)


def boundaries(labels: np.ndarray) -> np.ndarray:
    """Pixels on a boundary between labels.

    Parameters
    ----------
    labels : (H, W) integer array

    Returns
    -------
    (H, W) bool
        True where the right or lower neighbour has another label.
    """
    codes, _ = _codes(labels)
    return _regions.boundaries(codes)


def moved_pixels(bands: Sequence[tuple[slice, Callable[[], np.ndarray]]], old: np.ndarray, new: np.ndarray,
                 opaque: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The pixels a merge moved to another label, as distinct (colour,
    new label) pairs: one compiled pass over the two label maps, reading
    the colours of the moved pixels only.

    Parameters
    ----------
    bands : sequence of (slice, callable)
        The image in bands of whole rows, in order: each band's slice of the
        flat pixel index and a function giving its (m, 3) uint8 pixels (read
        only for a band where some pixel moved).
    old, new : (H, W) uint8
        The labels before and after merging.
    opaque : (H * W,) bool or None
        The pixels that count (None: all).

    Returns
    -------
    keys : (u,) uint32, ascending
        ``code << 8 | new label`` of every distinct pair (``code``: the
        colour's Morton code, as in :func:`kmseg.engine._colorfit.pixel_codes`).
    counts : (u,) int64
        Pixels of every pair.
    """
    old, new = old.reshape(-1), new.reshape(-1)
    parts = [(part, read, None if opaque is None else opaque[part]) for part, read in bands]
    sizes = [_regions.count_moved(old[part], new[part], mask) for part, _, mask in parts]
    keys = np.empty(sum(sizes), dtype=np.uint32)
    at = 0
    for (part, read, mask), size in zip(parts, sizes):
        if size:
            _regions.moved_keys(read(), old[part], new[part], mask, *MORTON_TABLES, keys[at : at + size])
            at += size
    _deadline.check()
    keys.sort()
    return _regions.sorted_counts(keys)


def moved_from(codes: np.ndarray, keys: np.ndarray, counts: np.ndarray, weights: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Where the pairs of :func:`moved_pixels` came from.

    Parameters
    ----------
    codes : (m,) uint32, ascending
        Colour codes; every key's colour is among them.
    keys, counts : (u,)
        From :func:`moved_pixels`.
    weights : (m,) float64
        Pixels of every colour before the move.

    Returns
    -------
    where : (u,) int64
        Index in ``codes`` of every pair's colour.
    left : (m,) float64
        ``weights`` less the moved pixels (a new array).
    """
    left = np.array(weights, dtype=np.float64)
    where = _regions.moved_where(np.ascontiguousarray(codes, dtype=np.uint32), keys,
                                 np.ascontiguousarray(counts, dtype=np.int64), left)
    return where, left
