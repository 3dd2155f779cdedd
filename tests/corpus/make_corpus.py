"""kmseg's shared bad-input corpus (issue 8, items 1-22 and the file name of 25).

Every file is generated here, nothing is hand-copied. Write them with::

    python tests/corpus/make_corpus.py OUTDIR

Use from a test (``tests/`` is on ``sys.path`` when pytest runs there; put it
there yourself otherwise)::

    from corpus.make_corpus import CASES, to_rgba

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
    def test_case(case):
        data = case.make()                     # the file's bytes (cached)
        if case.expect == "ok":
            ...segment with case.params (always has "k"), limit case.max_pixels...
            case.check(to_rgba(output_picture_bytes))   # raises AssertionError
            if case.expect_k is not None: assert k_found == case.expect_k
            if case.note: assert any(case.note in n for n in notes)
        else:
            ...assert the face's error for case.expect ("decode", "unsupported",
            "too_large", "param"; case.param names the parameter for "param")

Each :class:`Case` is face-neutral:

``name``        stable id (use it as the pytest id)
``item``        the number of the item in issue 8's list
``filename``    the name the file is given / uploaded under (may be hostile:
                item 25 is ``"\\n../../x.png"``)
``disk_name``   a name safe to create inside OUTDIR (``/`` replaced by ``%2F``)
``make()``      the bytes of the file
``expect``      ``"ok"`` or an error kind: ``"decode"`` (kmseg.ImageDecodeError),
                ``"unsupported"`` (kmseg.UnsupportedFormatError, a subclass of
                ImageDecodeError), ``"too_large"`` (kmseg.ImageTooLargeError),
                ``"param"`` (kmseg.InvalidParameterError with ``.param == case.param``)
``params``      parameters to segment with, named as in ``kmseg.segment``
                (always ``k``; sometimes ``max_iter``); values may be bad on
                purpose (``"abc"``, ``1.5``, ``10**9``)
``max_pixels``  the pixel limit to set through the face's own setting, or None
                for the default
``check``       for ``"ok"``: a function of the segmented picture as an
                (H, W, 4) uint8 RGBA array (see :func:`to_rgba`) that raises
                AssertionError when it is wrong
``expect_k``    for ``"ok"``: clusters the face must report found, or None
``note``        for ``"ok"``: a substring one of kmseg's notes must contain, or None
``memory``      True for the cases that must be refused in bounded memory
``description`` one line for reports and the README table
"""

from __future__ import annotations

import functools
import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

__all__ = ["CASES", "Case", "DEFAULT_K", "LIMIT", "by_name", "to_rgba", "write_corpus"]

#: The K used when a case does not test K itself.
DEFAULT_K = 4
#: The small pixel limit of item 7 (set through each face's own limit setting).
LIMIT = 10_000


@dataclass(frozen=True)
class Case:
    """One corpus file, the parameters to run it with and what every face must do."""

    name: str
    item: int
    filename: str
    make: Callable[[], bytes]
    expect: str
    description: str
    param: str | None = None
    params: dict[str, Any] = field(default_factory=lambda: {"k": DEFAULT_K})
    max_pixels: int | None = None
    check: Callable[[np.ndarray], None] | None = None
    expect_k: int | None = None
    note: str | None = None
    memory: bool = False

    @property
    def disk_name(self) -> str:
        """A file name that stays inside its folder (``/`` becomes ``%2F``)."""
        return self.filename.replace("/", "%2F")

    @property
    def error(self) -> str | None:
        """The error kind, or None for ``"ok"``."""
        return None if self.expect == "ok" else self.expect


def to_rgba(data: bytes) -> np.ndarray:
    """Decode an output picture (PNG/WebP/...) into an (H, W, 4) uint8 RGBA array."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGBA"))


# ------------------------------------------------------------------ building blocks

# The upright test picture: four flat quadrants of a 64 x 32 image.
W, H = 64, 32
QUAD_RGB = np.array([[220, 30, 30], [30, 200, 60], [40, 60, 220], [240, 220, 40]], np.uint8)


def _quadrants(colours: np.ndarray, w: int = W, h: int = H) -> np.ndarray:
    """An (h, w, C) image: top-left, top-right, bottom-left, bottom-right = colours[0..3]."""
    out = np.empty((h, w, colours.shape[1]), colours.dtype)
    out[: h // 2, : w // 2] = colours[0]
    out[: h // 2, w // 2 :] = colours[1]
    out[h // 2 :, : w // 2] = colours[2]
    out[h // 2 :, w // 2 :] = colours[3]
    return out


def _centres(w: int = W, h: int = H) -> list[tuple[int, int]]:
    """(row, col) of the middle of each quadrant."""
    return [(h // 4, w // 4), (h // 4, 3 * w // 4), (3 * h // 4, w // 4), (3 * h // 4, 3 * w // 4)]


def _check_quadrants(expected_rgba: np.ndarray, tol: int, w: int = W, h: int = H) -> Callable[[np.ndarray], None]:
    """A check: the picture is h x w and each quadrant centre is within ``tol`` of its colour.

    ``expected_rgba`` is (4, 4): RGBA per quadrant; the colour of a fully
    transparent quadrant is not checked.
    """
    expected_rgba = np.asarray(expected_rgba, int)

    def check(rgba: np.ndarray) -> None:
        assert rgba.shape == (h, w, 4), f"picture is {rgba.shape[1]}x{rgba.shape[0]}, expected {w}x{h}"
        for (r, c), want in zip(_centres(w, h), expected_rgba, strict=True):
            got = rgba[r, c].astype(int)
            assert abs(got[3] - want[3]) <= max(tol // 4, 1), f"alpha at {(r, c)} is {got[3]}, expected {want[3]}"
            if want[3]:
                assert np.abs(got[:3] - want[:3]).max() <= tol, f"colour at {(r, c)} is {got[:3]}, expected {want[:3]}"

    return check


def _opaque(rgb: np.ndarray) -> np.ndarray:
    return np.column_stack([np.asarray(rgb, int), np.full(len(rgb), 255)])


def _pil(image: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, bit_depth: int, colour_type: int, rows: Callable[[], Any],
         before_idat: bytes = b"", level: int = 6) -> bytes:
    """A PNG written by hand (for what Pillow does not write: 16-bit RGB, bombs, big text)."""
    comp = zlib.compressobj(level)
    parts = []
    for row in rows():
        parts.append(comp.compress(b"\x00" + row))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + before_idat
            + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b""))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole chunk bytes) of a PNG."""
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos:pos + 12 + length]))
        pos += 12 + length
    return out


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of the JPEG header segments up to and including SOS."""
    out, pos = [], 2
    while pos < len(data):
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        out.append((marker, pos, pos + 2 + length))
        pos += 2 + length
        if marker == 0xDA:
            break
    return out


def _quad_png() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB)), "PNG")


def _quad_jpeg(**kw: Any) -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB)), "JPEG", quality=95, subsampling=0, **kw)


# ------------------------------------------------------------------ the files


def _html() -> bytes:
    return (b"<!DOCTYPE html>\n<html><head><title>Not found</title></head>\n"
            b"<body><h1>404</h1><p>This is a web page saved as photo.jpg.</p></body></html>\n")


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("photo.png", _quad_png())
        z.writestr("readme.txt", "an archive, not an image\n")
    return buf.getvalue()


def _text() -> bytes:
    return b"These are holiday notes, not a picture.\nDay 1: beach.\n" * 4


def _noisy(w: int, h: int) -> np.ndarray:
    """Quadrants with seeded noise: enough entropy that half the file is pixel data."""
    noise = np.random.default_rng(3).integers(-40, 41, (h, w, 3))
    return np.clip(_quadrants(QUAD_RGB, w, h).astype(int) + noise, 0, 255).astype(np.uint8)


def _jpeg_half() -> bytes:
    data = _pil(Image.fromarray(_noisy(256, 128)), "JPEG", quality=90)
    return data[: len(data) // 2]


def _png_missing_data() -> bytes:
    data = _pil(Image.fromarray(_noisy(256, 128)), "PNG", compress_level=1)
    out = b"\x89PNG\r\n\x1a\n"
    for kind, chunk in _png_chunks(data):
        if kind == b"IDAT":  # keep the first half of the compressed pixels; no IEND
            payload = chunk[8:-4]
            out += _chunk(b"IDAT", payload[: len(payload) // 2])
            break
        out += chunk
    return out


def _png_no_iend() -> bytes:
    data = _quad_png()
    return b"\x89PNG\r\n\x1a\n" + b"".join(c for kind, c in _png_chunks(data) if kind != b"IEND")


def _png_bomb() -> bytes:
    side = 20_000
    row = bytes(side)  # 8-bit greyscale, all black: 400 MB of pixels in a few hundred KB
    return _png(side, side, 8, 0, lambda: (row for _ in range(side)), level=9)


def _jpeg_huge_header() -> bytes:
    data = _pil(Image.fromarray(_quadrants(QUAD_RGB, 16, 16)), "JPEG", quality=90)
    out = bytearray(data)
    for marker, start, end in _jpeg_segments(data):
        if marker in (0xC0, 0xC1, 0xC2):
            out[start + 5:start + 9] = struct.pack(">HH", 65000, 65000)  # height, width
        if marker == 0xDA:
            return bytes(out[: end + 16])  # the header and 16 bytes of scan data
    raise AssertionError("no SOS segment")


def _exact_limit() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB, 100, 100)), "PNG")  # 10 000 pixels


def _one_over() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB, 137, 73)), "PNG")  # 10 001 pixels


def _gif_frames() -> bytes:
    base = _quadrants(QUAD_RGB, 32, 32)
    first = Image.fromarray(base).quantize(8)
    frames = []
    for i in range(1, 1000):
        a = base.copy()
        a[i % 32, (i // 32) % 32] = (i * 7 % 256, 0, 255)
        frames.append(Image.fromarray(a).quantize(8))
    return _pil(first, "GIF", save_all=True, append_images=frames, duration=20, loop=0)


def _png_big_text() -> bytes:
    # More than 1 MB *compressed*: random bytes do not compress, so the zTXt
    # chunk holds ~1.2 MB and unpacks to more than Pillow's 1 MB text limit.
    noise = np.random.default_rng(9).integers(0, 256, 1_200_000, dtype=np.uint8).tobytes()
    ztxt = _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(noise, 9))
    rgb = _quadrants(QUAD_RGB)
    return _png(W, H, 8, 2, lambda: (r.tobytes() for r in rgb), before_idat=ztxt)


# CMYK: flat cyan / magenta / yellow / white, which Pillow turns into RGB exactly.
QUAD_CMYK = np.array([[255, 0, 0, 0], [0, 255, 0, 0], [0, 0, 255, 0], [0, 0, 0, 0]], np.uint8)
CMYK_AS_RGB = np.array([[0, 255, 255], [255, 0, 255], [255, 255, 0], [255, 255, 255]], np.uint8)


def _cmyk_adobe() -> bytes:
    # libjpeg writes CMYK with an Adobe APP14 marker and the values inverted.
    data = _pil(Image.fromarray(_quadrants(QUAD_CMYK), "CMYK"), "JPEG", quality=95)
    assert any(m == 0xEE for m, _, _ in _jpeg_segments(data)), "expected an Adobe marker"
    return data


def _cmyk_plain() -> bytes:
    # Plain (not inverted) CMYK: write the inverse through the Adobe path, drop APP14.
    data = _pil(Image.fromarray(255 - _quadrants(QUAD_CMYK), "CMYK"), "JPEG", quality=95)
    return b"".join(data[s:e] for m, s, e in [(0xD8, 0, 2), *_jpeg_segments(data)] if m != 0xEE) \
        + data[_jpeg_segments(data)[-1][2]:]


# 16-bit: values chosen so that reading the wrong byte or not scaling shows.
RGB16 = np.array([[0xFFFF, 0x0000, 0x4000], [0x8000, 0xFFFF, 0x1234], [0x0101, 0x2020, 0xC000],
                  [0xFFFF, 0xFFFF, 0x7FFF]], np.uint16)
GREY16 = np.array([0x0000, 0x4000, 0x8000, 0xFFFF], np.uint16)


def _scale16(v: np.ndarray) -> np.ndarray:
    return np.rint(v.astype(float) * 255 / 65535).astype(int)


def _png_rgb16() -> bytes:
    a = _quadrants(RGB16).astype(">u2")
    return _png(W, H, 16, 2, lambda: (r.tobytes() for r in a))


def _png_grey16() -> bytes:
    a = _quadrants(GREY16[:, None])[:, :, 0].astype(">u2")
    return _png(W, H, 16, 0, lambda: (r.tobytes() for r in a))


PALETTE_ALPHA = np.array([255, 255, 128, 0])


def _png_palette_alpha() -> bytes:
    idx = _quadrants(np.arange(4, dtype=np.uint8)[:, None])[:, :, 0]
    im = Image.fromarray(idx, "P")
    im.putpalette(QUAD_RGB.ravel().tolist())
    return _pil(im, "PNG", transparency=bytes(PALETTE_ALPHA.astype(np.uint8)))


LA = np.array([[30, 255], [120, 255], [200, 128], [250, 0]], np.uint8)


def _png_la() -> bytes:
    return _pil(Image.fromarray(_quadrants(LA), "LA"), "PNG")


def _png_transparent() -> bytes:
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = _quadrants(QUAD_RGB)
    return _pil(Image.fromarray(rgba, "RGBA"), "PNG")


# Orientation n: how the stored pixels relate to the upright picture.
_STORE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
          6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}


def _jpeg_orientation(n: int) -> Callable[[], bytes]:
    def make() -> bytes:
        stored = Image.fromarray(_quadrants(QUAD_RGB)).transpose(_STORE[n])
        exif = Image.Exif()
        exif[0x0112] = n
        return _pil(stored, "JPEG", quality=95, subsampling=0, exif=exif.tobytes())

    make.__name__ = f"_jpeg_orientation_{n}"
    return make


def _jpeg_broken_exif() -> bytes:
    data = _quad_jpeg()
    # A TIFF header whose first directory lies far past the end of the block.
    body = b"Exif\x00\x00" + b"MM\x00\x2a" + struct.pack(">I", 0x7FFFFFF0) + b"\xff" * 40
    app1 = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    return data[:2] + app1 + data[2:]


def _svg_script() -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32">\n'
            b'  <script type="text/javascript">alert(document.cookie)</script>\n'
            b'  <rect width="64" height="32" fill="red"/>\n</svg>\n')


def _eps() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB)), "EPS")


def _pdf() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB)), "PDF")


def _one_colour() -> bytes:
    return _pil(Image.new("RGB", (W, H), (70, 130, 180)), "PNG")


def _two_by_two() -> bytes:
    return _pil(Image.fromarray(_quadrants(QUAD_RGB, 2, 2)), "PNG")


# ------------------------------------------------------------------ the cases

_QUAD_OK = _check_quadrants(_opaque(QUAD_RGB), tol=2)
_QUAD_JPEG_OK = _check_quadrants(_opaque(QUAD_RGB), tol=30)


def _check_one_colour(rgba: np.ndarray) -> None:
    assert rgba.shape == (H, W, 4)
    assert (rgba.reshape(-1, 4) == [70, 130, 180, 255]).all(), "a one-colour image must come out unchanged"


def _check_2x2(rgba: np.ndarray) -> None:
    assert rgba.shape == (2, 2, 4)
    assert (rgba[..., :3].reshape(-1, 3) == QUAD_RGB).all(), "4 colours, K >= 4: every pixel keeps its colour"


def _check_transparent(rgba: np.ndarray) -> None:
    assert rgba.shape == (H, W, 4)
    assert (rgba[..., 3] == 0).all(), "a fully transparent image must stay fully transparent"


def _c(name: str, item: int, filename: str, make: Callable[[], bytes], expect: str, description: str,
       **kw: Any) -> Case:
    return Case(name, item, filename, functools.cache(make), expect, description, **kw)


def _params(name: str, item: int, param: str, value: Any, k: Any = DEFAULT_K) -> Case:
    params = {"k": value} if param == "k" else {"k": k, param: value}
    return _c(name, item, "quadrants.png", _quad_png, "param", f"{param} = {value!r}",
              param=param, params=params)


CASES: list[Case] = [
    _c("empty", 1, "empty.jpg", lambda: b"", "decode", "zero-byte file"),
    _c("html_as_jpg", 2, "page.jpg", _html, "unsupported", "HTML page named .jpg"),
    _c("zip_as_jpg", 2, "archive.jpg", _zip, "unsupported", "ZIP archive named .jpg"),
    _c("text_as_jpg", 2, "notes.jpg", _text, "decode", "text file named .jpg"),
    _c("jpeg_half", 3, "half.jpg", _jpeg_half, "decode", "JPEG cut off halfway"),
    _c("png_missing_data", 4, "missing-data.png", _png_missing_data, "decode",
       "PNG with half its pixel data and no end chunk"),
    _c("png_no_iend", 4, "no-iend.png", _png_no_iend, "ok",
       "PNG with all pixel data but no IEND chunk (all pixels present: accepted)", check=_QUAD_OK),
    _c("png_bomb", 5, "bomb.png", _png_bomb, "too_large",
       "PNG bomb: 20000 x 20000 one colour in a few hundred KB", memory=True),
    _c("jpeg_huge_header", 6, "huge.jpg", _jpeg_huge_header, "too_large",
       "JPEG header claiming 65000 x 65000, 16 bytes of data", memory=True),
    _c("limit_exact", 7, "limit-exact.png", _exact_limit, "ok",
       f"exactly the pixel limit (100 x 100, max_pixels={LIMIT:,})", max_pixels=LIMIT,
       check=_check_quadrants(_opaque(QUAD_RGB), 2, 100, 100)),
    _c("limit_plus_one", 7, "limit-plus-one.png", _one_over, "too_large",
       f"one pixel over the limit (137 x 73 = 10,001, max_pixels={LIMIT:,})", max_pixels=LIMIT),
    _c("gif_1000_frames", 8, "frames.gif", _gif_frames, "ok", "GIF with 1000 frames (first frame used)",
       check=_check_quadrants(_opaque(QUAD_RGB), 12, 32, 32), note="first of 1000 frames"),
    _c("png_big_ztxt", 9, "big-text.png", _png_big_text, "ok",
       "PNG with a 1.2 MB compressed zTXt chunk (text ignored, image used)",
       check=_QUAD_OK, note="text chunks"),
    _c("cmyk_adobe", 10, "cmyk-adobe.jpg", _cmyk_adobe, "ok", "CMYK JPEG, Adobe inverted (APP14)",
       check=_check_quadrants(_opaque(CMYK_AS_RGB), 30), note="CMYK"),
    _c("cmyk_plain", 10, "cmyk-plain.jpg", _cmyk_plain, "ok", "CMYK JPEG, plain (no Adobe marker)",
       check=_check_quadrants(_opaque(CMYK_AS_RGB), 30), note="CMYK"),
    _c("png_rgb16", 11, "rgb16.png", _png_rgb16, "ok", "16-bit RGB PNG",
       check=_check_quadrants(_opaque(_scale16(RGB16)), 1)),
    _c("png_grey16", 11, "grey16.png", _png_grey16, "ok", "16-bit greyscale PNG",
       check=_check_quadrants(_opaque(np.repeat(_scale16(GREY16)[:, None], 3, 1)), 1), note="16-bit"),
    _c("png_palette_alpha", 12, "palette-alpha.png", _png_palette_alpha, "ok",
       "palette PNG with transparency (tRNS: opaque, opaque, half, clear)",
       check=_check_quadrants(np.column_stack([QUAD_RGB, PALETTE_ALPHA]), 2)),
    _c("png_grey_alpha", 13, "grey-alpha.png", _png_la, "ok", "greyscale + alpha PNG",
       check=_check_quadrants(np.column_stack([np.repeat(LA[:, :1], 3, 1), LA[:, 1]]), 2)),
    _c("png_transparent", 14, "transparent.png", _png_transparent, "ok", "fully transparent PNG",
       check=_check_transparent),
    *[_c(f"jpeg_orientation_{n}", 15, f"orientation-{n}.jpg", _jpeg_orientation(n), "ok",
         f"JPEG with EXIF orientation {n}", check=_QUAD_JPEG_OK, note=f"EXIF orientation {n}")
      for n in range(2, 9)],
    _c("jpeg_broken_exif", 16, "broken-exif.jpg", _jpeg_broken_exif, "ok",
       "JPEG with a broken EXIF block (used as stored)", check=_QUAD_JPEG_OK,
       note="EXIF data unreadable"),
    _c("svg_script", 17, "drawing.svg", _svg_script, "unsupported", "SVG with a script"),
    _c("eps_as_png", 18, "figure.png", _eps, "unsupported", "EPS renamed .png"),
    _c("pdf_as_png", 18, "document.png", _pdf, "unsupported", "PDF renamed .png"),
    _c("one_colour_k8", 19, "one-colour.png", _one_colour, "ok", "one colour at K = 8: one cluster found",
       params={"k": 8}, check=_check_one_colour, expect_k=1),
    _c("k300_2x2", 20, "two-by-two.png", _two_by_two, "param", "K = 300 on a 2 x 2 image (K at most 256)",
       param="k", params={"k": 300}),
    _c("k200_2x2", 20, "two-by-two.png", _two_by_two, "ok",
       "K = 200 on a 2 x 2 image: 4 clusters found", params={"k": 200}, check=_check_2x2, expect_k=4),
    _params("k_0", 21, "k", 0),
    _params("k_minus_1", 21, "k", -1),
    _params("k_1_5", 21, "k", 1.5),
    _params("k_abc", 21, "k", "abc"),
    _params("k_1e9", 21, "k", 10**9),
    _params("max_iter_0", 22, "max_iter", 0),
    _params("max_iter_minus_5", 22, "max_iter", -5),
    _params("max_iter_1e9", 22, "max_iter", 10**9),
    _c("hostile_filename", 25, "\n../../x.png", _quad_png, "ok",
       "valid PNG named '\\n../../x.png'", check=_QUAD_OK),
]


def by_name(name: str) -> Case:
    """The case called ``name``."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def write_corpus(outdir: str | Path) -> dict[str, Path]:
    """Write every case's file into ``outdir`` (created); {case name: path}.

    Cases sharing a file name and content share the file.
    """
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = out / case.disk_name
        data = case.make()
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        paths[case.name] = path
    return paths


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tests/corpus/make_corpus.py OUTDIR", file=sys.stderr)
        return 2
    paths = write_corpus(args[0])
    for case in CASES:
        p = paths[case.name]
        print(f"{case.item:>2}  {case.name:<22} {case.expect:<12} {p.stat().st_size:>9,}  {p.name!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
