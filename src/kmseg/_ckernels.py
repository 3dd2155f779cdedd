"""The compiled passes in C (``_ckernels.c``), called through ctypes.

The same functions, arguments and results as :mod:`kmseg._kernels` (Numba),
bit for bit: the C is the Numba code line for line, compiled without
floating-point contraction. The library is built when kmseg is installed
(``hatch_build.py``, with the machine's C compiler) and loads in a
millisecond, where Numba's start-up costs a few tenths of a second in every
process. ctypes releases the GIL during each call, so calls run in threads
as Numba's ``nogil`` functions do.

Importing this module raises ImportError when the library is missing (no C
compiler at install) or was built from another version of ``_ckernels.c``;
:mod:`kmseg._jit` then uses Numba.
"""

from __future__ import annotations

import ctypes
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The shared library's file name, beside this module (written by hatch_build.py).
LIBRARY = "libkmseg-kernels.so"
_SOURCE = Path(__file__).with_name("_ckernels.c")

_P, _I, _D = ctypes.c_void_p, ctypes.c_int64, ctypes.c_double
_TREE = [_I, _I] + [_P] * 8  # npts, d, p_mean, p_w, n_mean, n_w, n_wsum, n_radius, n_ch0, n_ch1
_ITEMS = [_P] * 4  # id, lab, up, lo
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "histogram": (None, [_P, _I, _I, _I, _P, _P, _P, _P, _P, _P]),
    "label_pixels": (None, [_P, _I, _I, _I, _P, _P, _P, _P, _P]),
    "items_init": (_I, [_I, _I, _P, _I, _D, *_TREE, *_ITEMS, _P, _P, _P, _P]),
    "items_update": (_I, [_P, _I, _P, _D, *_TREE, *_ITEMS, _I, _P, _P, _P, _P]),
    "items_inertia": (_D, [_P, _I, *_TREE, *_ITEMS, _I, _P, _P]),
    "items_labels": (None, [_I, _P, _P, _I, _P, _P, _P]),
    "nearest_centres": (ctypes.c_int, [_P, _I, _I, _P, _I, _P, _P]),
    "seed_plusplus": (ctypes.c_int, [_P, _I, _I, _P, _P, _P, _I, _I, _I, _P]),
    "count_runs": (_I, [_P, _I]),
    "cube_level": (None, [_P, _I, _I, _P, _P, _P, _P, _I, _P, _P, _P, _P, _P, _P, _P]),
    "morton_to_rgb": (None, [_P, _I, _P, _P]),
    "count_nonzero": (_I, [_P, _I]),
    "nonzero_counts": (None, [_P, _I, _P, _P]),
}


def source_digest(source: bytes) -> str:
    """The digest of ``_ckernels.c`` that the build compiles into the library
    (``hatch_build.py`` computes it the same way)."""
    return hashlib.sha256(source).hexdigest()[:16]


def _load(path: Path) -> ctypes.CDLL:
    """The library at ``path``, its functions typed; ImportError when it
    cannot be loaded or was built from another ``_ckernels.c``."""
    try:
        lib = ctypes.CDLL(str(path))
        digest = lib.source_digest
        digest.restype, digest.argtypes = ctypes.c_char_p, []
        if digest().decode() != source_digest(_SOURCE.read_bytes()):
            raise ImportError(f"{path.name} was built from another _ckernels.c: reinstall kmseg")
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
    except (OSError, AttributeError) as exc:  # missing, unloadable, or without a function
        raise ImportError(f"kmseg's C passes are not usable: {exc}") from None
    return lib


_lib = _load(Path(__file__).with_name(LIBRARY))


def _ptr(a: np.ndarray, dtype: Any, write: bool = False) -> int:
    """Address of ``a``'s data, checked: a wrong array here would be a wrong
    memory access in C, not an exception."""
    if a.dtype != dtype or not a.flags.c_contiguous or (write and not a.flags.writeable):
        raise TypeError(f"compiled pass wants a contiguous {'writable ' if write else ''}{np.dtype(dtype)} "
                        f"array, got {a.dtype} {a.shape} {a.strides}")
    return a.ctypes.data


def _f64(a: np.ndarray) -> int:
    return _ptr(a, np.float64)


@dataclass(frozen=True)
class TreeHandle:
    """A Tree's arrays (npts, p_mean, p_w, n_mean, n_w, n_wsum, n_radius,
    n_ch0, n_ch1), checked once and kept alive, with their addresses as the
    C functions take them (``args``: npts, d, then the addresses)."""

    arrays: tuple
    args: tuple
    n_nodes: int


@dataclass(frozen=True)
class ItemsHandle:
    """An Items' arrays (id, lab, up, lo), checked once and kept alive, and
    their addresses (``args``)."""

    arrays: tuple
    args: tuple
    capacity: int


def tree_handle(arrays: tuple) -> TreeHandle:
    """What the item passes take for a Tree's ``arrays``: made once per Tree,
    so that a Lloyd pass does not take a dozen addresses again."""
    npts, p_mean = arrays[0], arrays[1]
    if p_mean.ndim != 2 or p_mean.shape[0] != npts or arrays[3].shape[1:] != p_mean.shape[1:]:
        raise ValueError("compiled pass: the tree's arrays do not agree")
    args = (npts, p_mean.shape[1], *(_f64(a) for a in arrays[1:7]), *(_ptr(a, np.int64) for a in arrays[7:]))
    return TreeHandle(arrays, args, arrays[3].shape[0])


def items_handle(arrays: tuple) -> ItemsHandle:
    """What the item passes take for an Items' ``arrays`` (made once per Items)."""
    capacity = min(a.shape[0] for a in arrays)
    args = (_ptr(arrays[0], np.int64, True), _ptr(arrays[1], np.int64, True),
            _ptr(arrays[2], np.float64, True), _ptr(arrays[3], np.float64, True))
    return ItemsHandle(arrays, args, capacity)


def _check(Ct: np.ndarray, tree: TreeHandle, items: ItemsHandle, n_items: int) -> None:
    if Ct.shape[0] != tree.args[1] or Ct.shape[1] == 0 or n_items > items.capacity:
        raise ValueError("compiled pass: the centres, the tree and the items do not agree")


def _scratch(Ct: np.ndarray, cw: np.ndarray, cs: np.ndarray, buf: np.ndarray) -> None:
    k, d = Ct.shape[1], Ct.shape[0]
    if cw.shape != (k,) or cs.shape != (k, d) or buf.shape[0] < k:
        raise ValueError("compiled pass: the clusters' arrays do not agree with the centres")


def _pixels(flat: np.ndarray) -> tuple[int, int, int, int]:
    if flat.dtype != np.uint8 or flat.ndim != 2 or flat.shape[1] != 3 or min(flat.strides) < 0:
        raise TypeError(f"compiled pass wants (n, 3) uint8 pixels, got {flat.dtype} {flat.shape}")
    return flat.ctypes.data, flat.shape[0], flat.strides[0], flat.strides[1]


def _tables(*tables: np.ndarray) -> list[int]:
    if any(t.shape != (256,) for t in tables):
        raise ValueError("compiled pass: a Morton table has 256 entries")
    return [_ptr(t, np.uint32) for t in tables]


# ------------------------------------------------------------------ pixels


def histogram(flat, opaque, spread_r, spread_g, spread_b, counts, seen) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.histogram`."""
    if (opaque.size and opaque.shape != (flat.shape[0],)) or counts.shape != (1 << 24,) or seen.size not in (0, 1 << 24):
        raise ValueError("histogram: one mask entry per pixel, one count per colour code")
    _lib.histogram(*_pixels(flat), _ptr(opaque, np.bool_) if opaque.size else None,
                   *_tables(spread_r, spread_g, spread_b), _ptr(counts, np.uint32, True),
                   _ptr(seen, np.uint32, True) if seen.size else None)


def label_pixels(flat, spread_r, spread_g, spread_b, lut, out) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.label_pixels`."""
    data, n, s0, s1 = _pixels(flat)
    if out.shape[0] != n or lut.shape != (1 << 24,):
        raise ValueError("label_pixels: one label per pixel, one table entry per colour code")
    _lib.label_pixels(data, n, s0, s1, *_tables(spread_r, spread_g, spread_b), _ptr(lut, np.uint8),
                      _ptr(out, np.uint8, True))


# ------------------------------------------------------------------- items


def items_init(tops0, tops1, Ct, slack, tree, items, cw, cs, stack, buf) -> int:  # noqa: ANN001
    """As :func:`kmseg._kernels.items_init`."""
    _check(Ct, tree, items, 0)
    _scratch(Ct, cw, cs, buf)
    return _lib.items_init(tops0, tops1, _f64(Ct), Ct.shape[1], slack, *tree.args, *items.args,
                           _ptr(cw, np.float64, True), _ptr(cs, np.float64, True), _ptr(stack, np.int64, True),
                           _ptr(buf, np.float64, True))


def items_update(Ct, delta, slack, tree, items, n_items, cw, cs, stack, buf) -> int:  # noqa: ANN001
    """As :func:`kmseg._kernels.items_update`."""
    _check(Ct, tree, items, n_items)
    _scratch(Ct, cw, cs, buf)
    if delta.shape != (Ct.shape[1],):
        raise ValueError("compiled pass: one movement per centre")
    return _lib.items_update(_f64(Ct), Ct.shape[1], _f64(delta), slack, *tree.args, *items.args,
                             n_items, _ptr(cw, np.float64, True), _ptr(cs, np.float64, True),
                             _ptr(stack, np.int64, True), _ptr(buf, np.float64, True))


def items_inertia(Ct, tree, items, n_items, p_scatter, n_scatter) -> float:  # noqa: ANN001
    """As :func:`kmseg._kernels.items_inertia`."""
    _check(Ct, tree, items, n_items)
    if p_scatter.shape[0] != tree.args[0] or n_scatter.shape[0] != tree.n_nodes:
        raise ValueError("compiled pass: scatter arrays do not agree with the tree")
    return _lib.items_inertia(_f64(Ct), Ct.shape[1], *tree.args, *items.args, n_items,
                              _f64(p_scatter), _f64(n_scatter))


def items_labels(npts, items, n_items, n_pt0, n_pt1, out) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.items_labels`."""
    if out.shape[0] < npts or n_pt0.shape != n_pt1.shape or n_items > items.capacity:
        raise ValueError("compiled pass: one label per point")
    _lib.items_labels(npts, *items.args[:2], n_items, _ptr(n_pt0, np.int64), _ptr(n_pt1, np.int64),
                      _ptr(out, np.uint8, True))


# ------------------------------------------------------ centres and seeding


def nearest_centres(X, Ct, labels, min_sq) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.nearest_centres`."""
    X = np.ascontiguousarray(X, dtype=np.float64)  # exact for float32, as Numba's promotion
    if (labels.shape[0] != X.shape[0] or min_sq.shape[0] != X.shape[0] or Ct.shape[0] != X.shape[1]
            or Ct.shape[1] == 0):
        raise ValueError("nearest_centres: shapes do not agree")
    if _lib.nearest_centres(_f64(X), X.shape[0], X.shape[1], _f64(Ct), Ct.shape[1], _ptr(labels, np.uint8, True),
                            _ptr(min_sq, np.float64, True)):
        raise MemoryError("nearest_centres")


def seed_plusplus(X, w, first, uniforms, centers) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.seed_plusplus`."""
    runs, k, d = centers.shape
    first = np.ascontiguousarray(first, dtype=np.int64)
    if X.shape[1] != d or w.shape != (X.shape[0],) or X.shape[0] == 0 or uniforms.shape[:2] != (k - 1, runs) or first.shape[0] != runs:
        raise ValueError("seed_plusplus: shapes do not agree")
    if _lib.seed_plusplus(_f64(X), X.shape[0], d, _f64(w), _ptr(first, np.int64), _f64(uniforms), runs, k,
                          uniforms.shape[2], _ptr(centers, np.float64, True)):
        raise MemoryError("seed_plusplus")


# ------------------------------------------------------------- cube levels


def cube_level(keys, mean, w, scatter, radius) -> tuple:  # noqa: ANN001
    """As :func:`kmseg._kernels.cube_level` (``keys`` uint32)."""
    mean, w, scatter, radius = (np.ascontiguousarray(a, dtype=np.float64) for a in (mean, w, scatter, radius))
    m, d = mean.shape
    if m == 0 or keys.shape != (m,) or any(a.shape != (m,) for a in (w, scatter, radius)):
        raise ValueError("cube_level: one key, weight, scatter and radius per mean, at least one")
    pk = _ptr(keys, np.uint32)
    n = _lib.count_runs(pk, m)
    child = np.empty(n + 1, dtype=np.int64)
    weight, wsum, cmean = np.zeros(n), np.zeros((n, d)), np.empty((n, d))
    cscatter, cradius, out_keys = np.zeros(n), np.zeros(n), np.empty(n, dtype=np.uint32)
    _lib.cube_level(pk, m, d, _f64(mean), _f64(w), _f64(scatter), _f64(radius), n, child.ctypes.data,
                    weight.ctypes.data, wsum.ctypes.data, cmean.ctypes.data, cscatter.ctypes.data,
                    cradius.ctypes.data, out_keys.ctypes.data)
    return child, weight, wsum, cmean, cscatter, cradius, out_keys


def morton_to_rgb(codes, unmorton, out) -> None:  # noqa: ANN001
    """As :func:`kmseg._kernels.morton_to_rgb`."""
    if unmorton.shape != (3, 256) or out.shape != (codes.shape[0], 3):
        raise ValueError("morton_to_rgb: shapes do not agree")
    _lib.morton_to_rgb(_ptr(codes, np.uint32), codes.shape[0], _ptr(unmorton, np.uint32), _ptr(out, np.uint8, True))


def nonzero_counts(counts) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """As :func:`kmseg._kernels.nonzero_counts`."""
    pc = _ptr(counts, np.uint32)
    m = _lib.count_nonzero(pc, counts.shape[0])
    idx, val = np.empty(m, dtype=np.uint32), np.empty(m)
    _lib.nonzero_counts(pc, counts.shape[0], idx.ctypes.data, val.ctypes.data)
    return idx, val
