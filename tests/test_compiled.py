"""The compiled passes against plain computations, and C against Numba.

Each pass is checked, in both implementations (the C library
kmseg._ckernels and Numba's kmseg._kernels), against a direct NumPy
computation or brute force on the same data; whole segmentations must come
out bit for bit the same from both; test_segment.py runs the whole of
segment() on the compiled and NumPy paths. The C library is built by the
install: outside CI its tests skip when it is missing (saying why), under
CI=true that is a failure.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
import sys

import numpy as np
import pytest
from imagetools import sample_image

from kmseg import _colorfit, _jit, _kernels, _kmeans, _tree

IN_CI = os.environ.get("CI") == "true"


def c_library():
    """kmseg._ckernels, or a skip (a failure under CI) saying why it is missing."""
    try:
        from kmseg import _ckernels
    except ImportError as exc:
        if IN_CI:
            pytest.fail(f"the C passes must be built under CI: {exc}")
        pytest.skip(f"the C passes are not built here (outside CI): {exc}")
    return _ckernels


@pytest.fixture(params=["c", "numba"])
def passes(request, monkeypatch):
    """Each implementation of the compiled passes in turn, also as what
    kmseg._jit hands out (KMSEG_KERNELS)."""
    module = c_library() if request.param == "c" else _kernels
    monkeypatch.setenv("KMSEG_KERNELS", request.param)
    assert _jit.compiled() is module
    return module


def noisy_photo(scale: int = 1, sigma: float = 3.0, seed: int = 0) -> np.ndarray:
    img = sample_image("flower.jpg")[::2, ::2]
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1).astype(float)
    img += np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def histogram_of(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = _colorfit.pixel_codes(img)
    distinct, counts = np.unique(codes, return_counts=True)
    return distinct, _colorfit.codes_to_rgb(distinct).astype(np.float64), counts.astype(np.float64)


def test_histogram_and_label_lookup_match_numpy(passes):
    _kernels = passes
    img = noisy_photo()
    flat = img.reshape(-1, 3)
    opaque = np.random.default_rng(1).random(flat.shape[0]) > 0.3
    counts = np.zeros(_colorfit.N_CODES, dtype=np.uint32)
    seen = np.zeros(_colorfit.N_CODES, dtype=np.uint32)
    _kernels.histogram(flat, opaque, *_colorfit.MORTON_TABLES, counts, seen)
    codes = _colorfit.pixel_codes(img)
    assert np.array_equal(counts, np.bincount(codes[opaque], minlength=_colorfit.N_CODES))
    assert np.array_equal(seen, np.bincount(codes, minlength=_colorfit.N_CODES))
    distinct, weights = _kernels.nonzero_counts(seen)
    expect, n = np.unique(codes, return_counts=True)
    assert np.array_equal(distinct, expect) and np.array_equal(weights, n)
    assert np.array_equal(_colorfit.codes_to_rgb(distinct, _kernels), np.unique(flat, axis=0)[
        np.argsort(_colorfit.pixel_codes(np.unique(flat, axis=0)), kind="stable")])
    lut = np.random.default_rng(2).integers(0, 256, _colorfit.N_CODES).astype(np.uint8)
    out = np.empty(flat.shape[0], dtype=np.uint8)
    _kernels.label_pixels(flat, *_colorfit.MORTON_TABLES, lut, out)
    assert np.array_equal(out, lut[codes])
    rgba = np.dstack([img, np.zeros(img.shape[:2], np.uint8)])  # strided pixels: every 4th byte skipped
    part = rgba[..., :3].reshape(-1, 3)[100:]
    out = np.empty(part.shape[0], dtype=np.uint8)
    _kernels.label_pixels(part, *_colorfit.MORTON_TABLES, lut, out)
    assert np.array_equal(out, lut[codes[100:]])


def test_cube_levels_match_the_numpy_build(passes, monkeypatch):
    distinct, Y, w = histogram_of(noisy_photo())
    monkeypatch.setenv("KMSEG_JIT", "0")
    plain = _colorfit._build_levels(distinct, Y, w)
    monkeypatch.setenv("KMSEG_JIT", "1")
    compiled = _colorfit._build_levels(distinct, Y, w)
    assert len(plain) == len(compiled) == _colorfit._TOP_SHIFT + 1
    for a, b in zip(plain[1:], compiled[1:]):
        assert np.array_equal(a.child, b.child) and np.array_equal(a.first_point, b.first_point)
        np.testing.assert_allclose(b.weight, a.weight)
        np.testing.assert_allclose(b.mean, a.mean, rtol=1e-12)
        np.testing.assert_allclose(b.scatter, a.scatter, rtol=1e-7, atol=1e-6)
        np.testing.assert_allclose(b.radius, a.radius, rtol=1e-9, atol=1e-9)
    # The radius bounds every colour's distance to its cube's mean.
    top = compiled[-1]
    owner = np.repeat(np.arange(top.size), np.diff(top.first_point))
    assert np.all(np.sqrt(((Y - top.mean[owner]) ** 2).sum(axis=1)) <= top.radius[owner] + 1e-9)


@pytest.mark.parametrize("k", [2, 7, 33])
def test_items_assign_every_colour_to_its_nearest_centre(k, passes, monkeypatch):
    monkeypatch.setenv("KMSEG_JIT", "1")
    distinct, Y, w = histogram_of(noisy_photo(seed=k))
    levels = _colorfit._build_levels(distinct, Y, w)
    tree = _tree.Tree(levels, passes)
    rng = np.random.default_rng(k)
    C = Y[rng.choice(Y.shape[0], k, replace=False)] + rng.normal(0, 2, (k, 3))
    items = tree.items(C)
    for step in range(4):  # the first assignment, then updates after the centres moved
        labels = items.point_labels(Y.shape[0])
        d = ((Y[:, None, :] - C[None]) ** 2).sum(axis=2)
        own = d[np.arange(Y.shape[0]), labels]
        assert np.all(own <= d.min(axis=1) + 1e-9)
        assert items.inertia(C) == pytest.approx(float(w @ own), rel=1e-9)
        np.testing.assert_allclose(items.weight, np.bincount(labels, weights=w, minlength=k), atol=1e-6)
        sums = np.stack([np.bincount(labels, weights=w * Y[:, j], minlength=k) for j in range(3)], axis=1)
        np.testing.assert_allclose(items.sums, sums, rtol=1e-9, atol=1e-6)
        new = C + rng.normal(0, 4.0 / (step + 1), C.shape)
        items.update(new, np.sqrt(((new - C) ** 2).sum(axis=1)))
        C = new


def test_seeding_matches_numpy(passes):
    rng = np.random.default_rng(5)
    X = rng.normal(0, 30, (3000, 3)) + rng.integers(0, 4, 3000)[:, None] * 60.0
    w = rng.integers(1, 20, 3000).astype(np.float64)
    x_sq = np.einsum("ij,ij->i", X, X)
    plain = _kmeans.seed_plusplus(X, w, 6, 3, np.random.default_rng(9), x_sq)
    compiled = _kmeans.seed_plusplus(X, w, 6, 3, np.random.default_rng(9), x_sq, passes)
    np.testing.assert_array_equal(plain, compiled)  # same random stream, same choices


def test_the_switch(passes, monkeypatch):
    # The C library runs every size; Numba's start-up pays only for large problems.
    monkeypatch.setenv("KMSEG_JIT", "auto")
    small = _jit.kernels(_jit.COMPILED_FROM_POINTS - 1)
    assert small is (passes if passes.__name__ == "kmseg._ckernels" else None)
    assert _jit.kernels(_jit.COMPILED_FROM_POINTS) is passes
    monkeypatch.setenv("KMSEG_JIT", "0")
    assert _jit.kernels(10**9) is None
    monkeypatch.setenv("KMSEG_JIT", "1")
    assert _jit.kernels(1) is passes


def test_the_c_library_is_preferred(monkeypatch):
    c = c_library()
    monkeypatch.delenv("KMSEG_KERNELS", raising=False)
    assert _jit.compiled() is c and _jit.compiled("auto") is c and _jit.compiled("numba") is _kernels


@pytest.mark.parametrize("case", ["rgb", "lab", "alpha", "spatial", "large k", "few colours"])
def test_c_and_numba_give_the_same_bits(case, monkeypatch):
    # The C is the Numba code line for line, compiled without FMA: same sums, same rounding, same result.
    import kmseg

    c_library()
    monkeypatch.setenv("KMSEG_JIT", "1")
    img = noisy_photo(scale=2, sigma=4.0, seed=len(case))
    args: dict = {"k": 12, "seed": 7}
    if case == "lab":
        args["color_space"] = "lab"
    elif case == "alpha":
        img = np.dstack([img, np.where(np.random.default_rng(1).random(img.shape[:2]) > 0.2, 255, 0)]).astype(np.uint8)
    elif case == "spatial":
        args.update(spatial_weight=1.0, fit_size=96)
    elif case == "large k":
        args["k"] = 150
    elif case == "few colours":
        img = (img // 64) * 64  # 64 colours at most
        args["k"] = 40
    runs = {}
    for name in ("c", "numba"):
        monkeypatch.setenv("KMSEG_KERNELS", name)
        runs[name] = kmseg.segment(img, **args)
    a, b = runs["c"], runs["numba"]
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.palette, b.palette)
    assert np.array_equal(a.centers, b.centers)
    assert a.inertia == b.inertia and a.n_iter == b.n_iter


@pytest.mark.parametrize("kernels", ["auto", "numba"])
def test_a_small_image_never_imports_numba(kernels):
    # Importing Numba costs tenths of a second: the cold-start budget of small images. The C
    # library loads in a millisecond and takes them all.
    if kernels == "auto":
        c_library()
    code = ("import sys, numpy as np, kmseg\n"
            "img = np.random.default_rng(0).integers(0, 256, (120, 160, 3)).astype(np.uint8)\n"
            "kmseg.segment(img, 8, seed=0)\n"
            "print([m for m in ('numba', 'kmseg._kernels', 'kmseg._ckernels') if m in sys.modules])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "KMSEG_JIT": "auto", "KMSEG_KERNELS": kernels})
    assert out.stdout.strip() == ("['kmseg._ckernels']" if kernels == "auto" else "[]")


def test_compiled_and_numpy_segmentations_agree_closely(monkeypatch):
    import kmseg

    img = noisy_photo(scale=2, sigma=4.0)
    runs = {}
    for mode in ("0", "1"):
        monkeypatch.setenv("KMSEG_JIT", mode)
        runs[mode] = kmseg.segment(img, 12, seed=4)
    assert runs["1"].k == runs["0"].k == 12
    assert runs["1"].inertia == pytest.approx(runs["0"].inertia, rel=5e-3)
    again = kmseg.segment(img, 12, seed=4)  # still KMSEG_JIT=1
    assert np.array_equal(again.labels, runs["1"].labels) and np.array_equal(again.palette, runs["1"].palette)


def test_warm_up_compiles_everything_a_large_image_needs(tmp_path):
    # make's install step runs warm_up(); afterwards the first large image must compile nothing
    # (where the C library is missing and Numba does the work).
    env = {"PATH": "/usr/bin:/bin", "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path),
           "KMSEG_KERNELS": "numba"}
    subprocess.run([sys.executable, "-c", "import kmseg._jit as j; assert j.warm_up()"], check=True, env=env,
                   timeout=600)  # what make runs after installing
    code = ("import numpy as np, kmseg\n"
            "from kmseg import _kernels\n"
            "rng = np.random.default_rng(3)\n"
            "img = rng.integers(0, 256, (1800, 1800, 3)).astype(np.uint8)\n"  # 3.2 MP, ~3 M colours
            "s = kmseg.segment(img, 12, seed=1)\n"
            "img.setflags(write=False)\n"  # a read-only array is another type to Numba
            "kmseg.segment(img, 3, seed=1)\n"
            "a = np.dstack([img, (rng.random((1800, 1800)) > 0.1) * 255]).astype(np.uint8)\n"
            "kmseg.segment(a, 5, seed=1, color_space='lab')\n"
            "fns = [getattr(_kernels, n) for n in dir(_kernels) if hasattr(getattr(_kernels, n), 'stats')]\n"
            "print(sum(sum(f.stats.cache_misses.values()) for f in fns),"
            " sum(sum(f.stats.cache_hits.values()) for f in fns))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         timeout=600)
    misses, hits = map(int, out.stdout.split())
    assert misses == 0 and hits >= 6, out.stdout


def test_results_do_not_depend_on_the_number_of_threads(monkeypatch):
    import kmseg

    monkeypatch.setenv("KMSEG_JIT", "1")
    img = noisy_photo(scale=5, sigma=5.0)  # 1.7 MP: label lookup split in parts, restarts in threads
    runs = []
    for n in ("1", "3"):
        monkeypatch.setenv("KMSEG_THREADS", n)
        runs.append(kmseg.segment(img, 9, seed=2))
    assert np.array_equal(runs[0].labels, runs[1].labels) and np.array_equal(runs[0].palette, runs[1].palette)
    assert runs[0].inertia == runs[1].inertia and runs[0].n_iter == runs[1].n_iter


@pytest.mark.parametrize("kernels", ["numba", "auto"])
def test_without_numba(kernels):
    # Numba is a dependency, but a platform without its wheels must still work: on the C library
    # where it was built, else on NumPy (KMSEG_KERNELS=numba: as if the C library were missing).
    if kernels == "auto":
        c_library()
    code = ("import sys\n"
            "sys.modules['numba'] = None  # import numba -> ImportError\n"
            "import numpy as np, kmseg\n"
            "from kmseg import _jit\n"
            "passes = _jit.kernels(10**9)\n"
            "assert _jit.warm_up() is (passes is not None)\n"
            "img = np.random.default_rng(0).integers(0, 256, (1800, 1800, 3)).astype(np.uint8)\n"
            "s = kmseg.segment(img, 6, seed=0)\n"
            "print(passes and passes.__name__, s.k, s.labels.shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "KMSEG_JIT": "1", "KMSEG_KERNELS": kernels})
    assert out.returncode == 0, out.stderr
    expect = "None" if kernels == "numba" else "kmseg._ckernels"
    assert out.stdout.split() == [expect, "6", "(1800,", "1800)"]


def test_spatial_fit_and_assignment_compiled(monkeypatch):
    import kmseg
    from kmseg import _spatial

    img = noisy_photo(scale=1, sigma=4.0)
    monkeypatch.setenv("KMSEG_JIT", "1")
    runs = []
    for n in ("1", "3"):
        monkeypatch.setenv("KMSEG_THREADS", n)
        runs.append(kmseg.segment(img, 12, spatial_weight=1.5, seed=5, fit_size=64))
    a, b = runs
    assert np.array_equal(a.labels, b.labels) and a.inertia == b.inertia  # any number of threads
    # Every pixel carries the label of its nearest centre in (colour, position) space.
    s = _spatial.scale(1.5, img.shape[1], "rgb")
    X = _spatial._features(img, 0, s, "rgb")
    C = np.hstack([a.centers, a.positions * s])
    d = ((X[:, None, :] - C[None]) ** 2).sum(axis=2)
    own = d[np.arange(X.shape[0]), a.labels.reshape(-1)]
    assert np.all(own <= d.min(axis=1) + 1e-6)
    assert a.inertia == pytest.approx(float(own.sum()), rel=1e-9)
    monkeypatch.setenv("KMSEG_JIT", "0")
    plain = kmseg.segment(img, 12, spatial_weight=1.5, seed=5, fit_size=64)
    assert plain.inertia == pytest.approx(a.inertia, rel=0.05)


def test_a_lean_process_starts_numba_without_scipys_blas():
    pytest.importorskip("scipy")  # without SciPy there is nothing to skip
    code = ("import sys, importlib\n"
            "from kmseg import _jit\n"
            "if sys.argv[1] == 'lean':\n"
            "    _jit.lean_process()\n"
            "k = _jit.kernels(0, 0)\n"
            "k.nonzero_counts(__import__('numpy').zeros(3, dtype='uint32'))\n"
            "print('scipy.linalg.cython_blas' in sys.modules)\n"
            "importlib.import_module('scipy.linalg.cython_blas')  # still importable afterwards\n")
    seen = {}
    for mode in ("lean", "plain"):
        out = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin", "KMSEG_JIT": "auto", "KMSEG_KERNELS": "numba"},
                             timeout=600)
        seen[mode] = out.stdout.strip()
    assert seen == {"lean": "False", "plain": "True"}


def test_the_command_loads_the_kernels_early_only_for_a_large_image(tmp_path, passes):
    from PIL import Image

    from kmseg import cli

    big, small, broken = tmp_path / "big.png", tmp_path / "small.png", tmp_path / "broken.png"
    side = int(np.ceil(np.sqrt(_jit.COMPILED_FROM_PIXELS)))
    Image.new("RGB", (side, side)).save(big)
    Image.new("RGB", (side, side // 2)).save(small)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    thread = cli._load_kernels_early(str(big))
    assert thread is not None
    thread.join(600)
    assert not thread.is_alive() and passes.__name__ in sys.modules
    assert cli._load_kernels_early(str(small)) is None
    assert cli._load_kernels_early(str(broken)) is None


def test_the_command_gives_the_librarys_result_for_a_large_image(tmp_path):
    import kmseg
    from PIL import Image

    img = noisy_photo(scale=8)  # 2560 x 1712 = 4.4 MP: the compiled passes, loaded early
    assert img.shape[0] * img.shape[1] >= _jit.COMPILED_FROM_PIXELS
    src, out = tmp_path / "big.png", tmp_path / "out.png"
    Image.fromarray(img).save(src, compress_level=1)
    run = subprocess.run([sys.executable, "-m", "kmseg", "segment", str(src), "-k", "12", "--seed", "3", "-o", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    seg = kmseg.segment(img, 12, seed=3)
    assert out.read_bytes() == seg.to_bytes("png")


def test_numba_takes_a_fit_by_colours_times_clusters(passes, monkeypatch):
    monkeypatch.setenv("KMSEG_JIT", "auto")
    c = passes.__name__ == "kmseg._ckernels"
    assert _jit.fit_kernels(100_000, 19) is (passes if c else None)  # Numba at 1.9 M colours x clusters: NumPy
    assert _jit.fit_kernels(100_000, 20) is passes
    assert _jit.fit_kernels(_jit.COMPILED_FROM_POINTS, 2) is passes
    monkeypatch.setenv("KMSEG_JIT", "0")
    assert _jit.fit_kernels(10**6, 256) is None


def test_with_numba_a_small_photo_at_large_k_takes_the_compiled_fit():
    # china.jpg has 96,615 colours: K=8 stays on NumPy (Numba not loaded), K=64 is compiled.
    code = ("import sys, kmseg\n"
            "from imagetools import sample_image\n"
            "from kmseg import _colorfit\n"
            "built = []\n"
            "class Spy(_colorfit._Items):\n"
            "    def __init__(self, *a, **k):\n"
            "        built.append(1)\n"
            "        super().__init__(*a, **k)\n"
            "_colorfit._Items = Spy\n"
            "img = sample_image('china.jpg')\n"
            "kmseg.segment(img, 8, seed=0)\n"
            "loaded = lambda: any(m in sys.modules for m in ('kmseg._kernels', 'kmseg._ckernels'))\n"
            "print(bool(built), loaded())\n"
            "built.clear()\n"
            "a = kmseg.segment(img, 64, seed=0)\n"
            "print(bool(built), loaded())\n")
    tests = str(Path(__file__).parent)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env={"PATH": "/usr/bin:/bin", "KMSEG_JIT": "auto", "KMSEG_KERNELS": "numba",
                              "PYTHONPATH": tests})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False", "True"]
