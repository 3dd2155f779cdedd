"""Fuzz target: decode -> normalise -> segment, on arbitrary bytes.

Any exception other than kmseg's documented errors (subclasses of
:class:`kmseg.KmsegError`) is a bug. With atheris (libFuzzer) installed::

    python tests/fuzz/fuzz_seeds.py seeds/              # the bad-input corpus + valid images
    python tests/fuzz/fuzz_decode.py -max_total_time=600 -rss_limit_mb=2048 work/ seeds/

New interesting inputs go to the first folder, a crashing input to
``crash-<sha1>`` (``-artifact_prefix=`` to put it elsewhere); run the script
on that file alone to reproduce. Without atheris (no wheel for the platform)
the same target runs under hypothesis, mutating the seeds, for
``-max_total_time`` seconds. With ``KMSEG_FUZZ_FINDINGS=DIR`` the target
does not stop at the first bug: each distinct one (exception type and
place) is written to DIR once, with its traceback. Both end with libFuzzer's summary lines
``stat::number_of_executed_units: N`` and ``Done N runs in S second(s)``.

The segmentation parameters come from a checksum of the input, so the seeds
stay intact images and every input still maps to one fixed call.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback
import warnings
import zlib
from pathlib import Path

#: Largest image decoded (width x height): small, so that every run is quick.
MAX_PIXELS = 128 * 128


def params_for(data: bytes) -> dict[str, object]:
    """The :func:`kmseg.segment` parameters of one input (small K and max_iter)."""
    h = zlib.crc32(data)
    return {
        "k": 1 + h % 8,
        "max_iter": 1 + (h >> 3) % 16,
        "seed": (h >> 7) % 1000,
        "color_space": ("rgb", "lab")[(h >> 17) & 1],
        "n_init": 1 + (h >> 18) % 2,
    }


def one_input(data: bytes) -> str:
    """Run one input through the library; returns ``"ok"`` or the kmseg error's class name.

    Raises anything that is not a :class:`kmseg.KmsegError`: that is a bug.
    """
    import kmseg

    p = params_for(data)
    with warnings.catch_warnings():
        # Pillow warns about odd but readable files (e.g. corrupt EXIF); not a failure here.
        warnings.simplefilter("ignore")
        try:
            loaded = kmseg.load_image(data, max_pixels=MAX_PIXELS)
            seg = kmseg.segment(loaded, p["k"], max_iter=p["max_iter"], seed=p["seed"],
                                color_space=p["color_space"], n_init=p["n_init"], max_pixels=MAX_PIXELS)
        except kmseg.KmsegError as exc:
            return type(exc).__name__
    _check(loaded, seg, p)
    return "ok"


def _check(loaded: object, seg: object, p: dict[str, object]) -> None:
    """What a successful call promises (an AssertionError is a finding too)."""
    import numpy as np

    rgb = loaded.rgb  # type: ignore[attr-defined]
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, rgb.shape
    assert 0 < rgb.shape[0] * rgb.shape[1] <= MAX_PIXELS
    labels = seg.labels  # type: ignore[attr-defined]
    assert labels.shape == rgb.shape[:2], (labels.shape, rgb.shape)
    assert 1 <= seg.k <= p["k"], (seg.k, p["k"])  # type: ignore[attr-defined]
    assert int(labels.max()) < seg.k  # type: ignore[attr-defined]
    assert seg.palette.shape == (seg.k, 3)  # type: ignore[attr-defined]


_FINDINGS_DIR = os.environ.get("KMSEG_FUZZ_FINDINGS")
_seen: set[str] = set()


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost frame: one finding, however many inputs hit it."""
    tb = traceback.extract_tb(exc.__traceback__)
    last = tb[-1] if tb else None
    where = f"{Path(last.filename).name}:{last.lineno}" if last else "?"
    return f"{type(exc).__name__} at {where}"


def _test_one_input(data: bytes) -> None:
    if not _FINDINGS_DIR:
        one_input(data)
        return
    # Triage mode (KMSEG_FUZZ_FINDINGS=DIR): record each distinct finding once and keep going.
    try:
        one_input(data)
    except Exception as exc:  # noqa: BLE001
        sig = _signature(exc)
        if sig not in _seen:
            _seen.add(sig)
            out = Path(_FINDINGS_DIR)
            out.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1(sig.encode()).hexdigest()[:12]
            (out / name).write_bytes(data)
            (out / f"{name}.txt").write_text(sig + "\n\n" + "".join(traceback.format_exception(exc)))
            print(f"\nkmseg-fuzz: new finding {sig} -> {out / name}", file=sys.stderr, flush=True)


def _run_atheris(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["kmseg", "PIL"]):
        import PIL.Image  # noqa: F401

        import kmseg  # noqa: F401
    # Decoders register lazily; import them all now, instrumented, not during the first run.
    with atheris.instrument_imports(include=["PIL"]):
        from kmseg.io import _image as _io
    atheris.Setup(argv, _test_one_input)
    atheris.Fuzz()


def _run_hypothesis(argv: list[str]) -> int:
    """The fallback: hypothesis mutates the seed files for -max_total_time seconds."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    seconds = 10.0
    folders: list[Path] = []
    for arg in argv[1:]:
        if arg.startswith("-max_total_time="):
            seconds = float(arg.split("=", 1)[1])
        elif not arg.startswith("-"):
            folders.append(Path(arg))
    files = [f for d in folders for f in (sorted(d.iterdir()) if d.is_dir() else [d]) if f.is_file()]
    if len(files) == 1 and len(folders) == 1 and folders[0].is_file():  # reproduce one input
        print(one_input(files[0].read_bytes()))
        return 0
    seeds = [f.read_bytes()[:100_000] for f in files] or [b""]

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 8))):
            op = draw(st.sampled_from(("flip", "insert", "delete", "cut", "splice")))
            pos = draw(st.integers(0, max(len(data) - 1, 0)))
            if op == "flip" and data:
                data[pos] = draw(st.integers(0, 255))
            elif op == "insert":
                data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
            elif op == "delete" and data:
                del data[pos:pos + draw(st.integers(1, 16))]
            elif op == "cut":
                del data[pos:]
            elif op == "splice":
                other = draw(st.sampled_from(seeds))
                data[pos:] = other[draw(st.integers(0, max(len(other) - 1, 0))):]
        return bytes(data)

    runs = 0
    start = time.monotonic()

    @settings(max_examples=200, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(mutated() | st.binary(max_size=512))
    def target(data: bytes) -> None:
        nonlocal runs
        runs += 1
        _test_one_input(data)

    while time.monotonic() - start < seconds:
        target()
    took = max(int(time.monotonic() - start), 1)
    print(f"stat::number_of_executed_units: {runs}", file=sys.stderr)
    print(f"Done {runs} runs in {took} second(s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz_decode: atheris is not installed; using the hypothesis fallback", file=sys.stderr)
        return _run_hypothesis(argv)
    _run_atheris(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
