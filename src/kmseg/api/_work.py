"""The blocking jobs the pool runs: decode, segment, encode; all through kmseg's API."""

from __future__ import annotations

import base64
import contextlib
import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

import kmseg
import kmseg.options
from kmseg.errors import printable

__all__ = [
    "MEDIA_TYPES",
    "PageResult",
    "RunParams",
    "RunResult",
    "job_boundaries",
    "job_image",
    "job_labels",
    "job_memory",
    "job_page",
    "job_summary",
    "figures",
]

DEFAULT_K = kmseg.options.get("k").default_for("api")
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
               "svg": "image/svg+xml"}
PAGE_PALETTE_FORMATS = ("json", "gpl", "css", "txt")
_PALETTE_MEDIA = {"json": "application/json", "gpl": "text/plain", "css": "text/css", "txt": "text/plain"}


@dataclass(frozen=True)
class RunParams:
    """What a request asked for (already validated)."""

    k: int | str | None
    max_iter: int
    color_space: str = "rgb"
    seed: int | None = None
    format: str = "png"
    metrics: bool = False
    spatial_weight: float = 0.0
    fit_size: int = 256
    min_region: int = 0
    target_psnr: float | None = None
    dither: bool = False
    palette: bytes | None = None
    first_frame: bool = False
    palette_name: str | None = None  # the palette upload's own name, for messages
    svg_tolerance: float = kmseg.options.get("svg_tolerance").default_for("api")


@dataclass
class RunResult:
    """What a job hands back: the figures, the palette, the encoded bytes.

    Small and picklable, so a job can run in another process.
    """

    summary: dict[str, Any]
    palette_rgb: list[list[int]]
    data: bytes = b""
    server_seconds: float = 0.0


@dataclass
class PageResult:
    """Everything the result page shows, as data: URIs."""

    summary: dict[str, Any]
    original_uri: str
    segmented_uri: str
    labels_uri: str
    palette_uris: dict[str, str] = field(default_factory=dict)
    filename_stem: str = "image"
    server_seconds: float = 0.0


def figures(seg: kmseg.Segmentation, metrics: bool) -> dict[str, Any]:
    """The run's figures: :func:`kmseg.summarize`, plus the API's fixed keys.

    PSNR and the CIEDE2000 differences cost about as much as the clustering on
    large images, so they are computed only when ``metrics`` is true;
    otherwise they are ``None``.
    """
    out = kmseg.summarize(seg, psnr=metrics, delta_e=metrics)
    out["metrics"] = metrics
    out.update(feature_figures(out))
    return out


def feature_figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The figures of the optional features from a :func:`kmseg.summarize`
    summary, every key present (None or False when the run did not use it):
    automatic K, regions, spatial weight, dither."""
    auto = summary.get("k_curve") is not None
    return {
        "k_auto": auto,
        "k_chosen": summary["k"] if auto else None,
        "k_curve": summary.get("k_curve"),
        "regions": summary.get("regions"),
        "regions_before": summary.get("regions_before"),
        "spatial_weight": float(summary.get("spatial_weight", 0.0)),
        "dither": bool(summary.get("dither")),
    }


_PALETTE_FORMAT = {b"{": "json", b"[": "json", b"GIMP Palette": "gpl"}


def _palette_source(data: bytes, max_pixels: int, name: str | None = None) -> Any:
    """The palette_file upload as the library takes it: (n, 3) colours or a decoded image.

    A palette file is told by its first bytes (JSON: ``{`` or ``[``; GIMP: ``GIMP
    Palette``) and read from memory; messages call it by the upload's own
    ``name``. Anything else must be an image. Errors name the ``palette_file`` field.
    """
    if not data:
        raise kmseg.InvalidParameterError("palette_file is empty", param="palette_file")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    fmt = next((f for prefix, f in _PALETTE_FORMAT.items() if head.startswith(prefix)), None)
    if fmt is not None:
        shown = printable(name)[:120] if name else "upload"
        try:
            return kmseg.parse_palette(data.removeprefix(b"\xef\xbb\xbf"), shown, fmt=fmt)
        except kmseg.InvalidParameterError as exc:
            raise kmseg.InvalidParameterError(
                f"palette_file is not a readable palette: {exc}", param="palette_file"
            ) from None
    try:
        return kmseg.load_image(data, max_pixels=max_pixels)
    except kmseg.ImageTooLargeError:
        raise
    except kmseg.ImageDecodeError as exc:
        raise kmseg.InvalidParameterError(
            "palette_file must be a JSON palette (starting with '{'), a GIMP palette (starting with "
            f"'GIMP Palette') or an image: {exc}",
            param="palette_file",
        ) from None


def _segment(data: bytes, params: RunParams, max_pixels: int, deadline: kmseg.Deadline | None = None) -> Any:
    """The upload segmented: an animation as a whole (``kmseg.segment_frames``)
    when the answer's format holds one and ``first_frame`` is not set; the
    work stops with :class:`kmseg.DeadlineExceeded` once ``deadline`` expires
    or is cancelled."""
    with deadline if deadline is not None else contextlib.nullcontext():
        if params.first_frame or params.format not in kmseg.ANIMATION_FORMATS:
            return _segment_loaded(kmseg.load_image(data, max_pixels=max_pixels), params, max_pixels)
        frames = kmseg.load_frames(data, max_pixels=max_pixels)
        if frames.n_frames == 1:
            return _segment_loaded(frames.frame(0), params, max_pixels)
        return _segment_loaded(frames, params, max_pixels, kmseg.segment_frames)


def _segment_loaded(loaded: Any, params: RunParams, max_pixels: int, run: Any = kmseg.segment, *,
                    deadline: kmseg.Deadline | None = None) -> Any:
    palette = None if params.palette is None else _palette_source(params.palette, max_pixels, params.palette_name)
    k = params.k
    if k is None and not (palette is not None and not isinstance(palette, kmseg.LoadedImage)):
        k = DEFAULT_K
    try:
        with deadline if deadline is not None else contextlib.nullcontext():
            return run(
                loaded,
                k,
                max_iter=params.max_iter,
                seed=params.seed,
                color_space=params.color_space,
                max_pixels=max_pixels,
                spatial_weight=params.spatial_weight,
                fit_size=params.fit_size,
                min_region=params.min_region,
                target_psnr=params.target_psnr,
                dither=params.dither,
                palette=palette,
            )
    except kmseg.InvalidParameterError as exc:
        if exc.param == "palette":
            raise kmseg.InvalidParameterError(f"palette_file: {exc}", param="palette_file") from None
        raise


def job_image(data: bytes, params: RunParams, max_pixels: int, *,
              deadline: kmseg.Deadline | None = None) -> RunResult:
    """Segment the upload and encode the segmented image in ``params.format`` (svg: the drawing)."""
    start = time.perf_counter()
    seg = _segment(data, params, max_pixels, deadline)
    encoded = seg.to_bytes(params.format, svg_tolerance=params.svg_tolerance)
    summary = figures(seg, params.metrics)
    return RunResult(summary, seg.palette.tolist(), encoded, time.perf_counter() - start)


def job_labels(data: bytes, params: RunParams, max_pixels: int, *,
               deadline: kmseg.Deadline | None = None) -> RunResult:
    """Segment the upload and encode its label map as a greyscale PNG."""
    start = time.perf_counter()
    seg = _segment(data, params, max_pixels, deadline)
    encoded = seg.label_bytes()
    summary = figures(seg, params.metrics)
    return RunResult(summary, seg.palette.tolist(), encoded, time.perf_counter() - start)


def job_boundaries(data: bytes, params: RunParams, max_pixels: int, *,
                   deadline: kmseg.Deadline | None = None) -> RunResult:
    """Segment the upload and draw the segment edges on it (red), as a PNG."""
    start = time.perf_counter()
    loaded = kmseg.load_image(data, max_pixels=max_pixels)
    seg = _segment_loaded(loaded, params, max_pixels, deadline=deadline)
    buffer = io.BytesIO()
    seg.boundaries_image(loaded.rgb).save(buffer, format="PNG")
    summary = figures(seg, params.metrics)
    return RunResult(summary, seg.palette.tolist(), buffer.getvalue(), time.perf_counter() - start)


def job_summary(data: bytes, params: RunParams, max_pixels: int, *,
                deadline: kmseg.Deadline | None = None) -> RunResult:
    """Segment the upload and gather its figures only."""
    start = time.perf_counter()
    seg = _segment(data, params, max_pixels, deadline)
    summary = figures(seg, params.metrics)
    return RunResult(summary, seg.palette.tolist(), b"", time.perf_counter() - start)


#: Bytes per pixel a job needs at its peak beyond JOB_BASE_BYTES (decoded image, codes,
#: labels, encoded output, the result page's data: URIs), by what it does. Peak RSS
#: growth measured on 4 and 12 MP photos (2 threads) was about 6-10 B/px (colour
#: only, metrics, result page), 20 (min_region) and 27 (spatial_weight); these
#: leave room for alpha, 16-bit decodes and more threads.
BYTES_PER_PIXEL = 14
BYTES_PER_PIXEL_REGIONS = 32  # + the region map and the moved pixels' pairs
BYTES_PER_PIXEL_SPATIAL = 40  # + the spatial features of the bands and the connected segments
#: Fixed cost of a job: the interpreter's and threads' temporaries ...
JOB_BASE_BYTES = 32 * 1024 * 1024
#: ... and the colour histogram's tables (2**24 entries each), whose pages are
#: touched in proportion to the image's colours: at most this much, ...
TABLE_BYTES = 96 * 1024 * 1024
#: ... or this much per pixel for small images (about 85-110 MB measured in all).
TABLE_BYTES_PER_PIXEL = 64


def declared_pixels(data: bytes) -> int | None:
    """Width x height from the image's header (nothing decoded); None if Pillow cannot tell."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return int(im.width) * int(im.height)
    except Exception:  # any unreadable upload: the job itself reports it properly
        return None


def job_memory(data: bytes, params: RunParams, max_pixels: int) -> int:
    """Bytes a job is estimated to need at its peak, from the pixel count its
    image header declares and its options (uploads included). An image over
    ``max_pixels`` counts for nothing: it is refused before decoding."""

    def pixels_of(upload: bytes | None) -> int:
        pixels = declared_pixels(upload) if upload else None
        return pixels if pixels is not None and pixels <= max_pixels else 0

    pixels = pixels_of(data)
    per_pixel = BYTES_PER_PIXEL
    if params.min_region > 0:
        per_pixel = BYTES_PER_PIXEL_REGIONS
    if params.spatial_weight > 0:
        per_pixel = BYTES_PER_PIXEL_SPATIAL
    tables = min(TABLE_BYTES, TABLE_BYTES_PER_PIXEL * pixels)
    palette = 0 if params.palette is None else len(params.palette) + BYTES_PER_PIXEL * pixels_of(params.palette)
    return JOB_BASE_BYTES + tables + len(data) + palette + per_pixel * pixels


def _data_uri(media_type: str, payload: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(payload).decode('ascii')}"


def _preview(loaded: kmseg.LoadedImage) -> tuple[str, bytes]:
    """The decoded upload re-encoded for display: no metadata, what was clustered."""
    image = loaded.to_pil()
    buffer = io.BytesIO()
    if image.mode == "RGBA":
        image.save(buffer, format="PNG")
        return "image/png", buffer.getvalue()
    image.save(buffer, format="JPEG", quality=90)
    return "image/jpeg", buffer.getvalue()


def job_page(data: bytes, params: RunParams, max_pixels: int, filename: str, *,
             deadline: kmseg.Deadline | None = None) -> PageResult:
    """Everything the browser result page needs, encoded as data: URIs."""
    start = time.perf_counter()
    loaded = kmseg.load_image(data, max_pixels=max_pixels)
    seg = _segment_loaded(loaded, params, max_pixels, deadline=deadline)
    summary = figures(seg, True)
    preview_type, preview = _preview(loaded)
    palette_uris = {
        fmt: _data_uri(_PALETTE_MEDIA[fmt], kmseg.palette_bytes(seg.palette, seg.counts, fmt))
        for fmt in PAGE_PALETTE_FORMATS
        if fmt in kmseg.PALETTE_FORMATS
    }
    stem = (filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0] or "image")[:60]
    return PageResult(
        summary=summary,
        original_uri=_data_uri(preview_type, preview),
        segmented_uri=_data_uri("image/png", seg.to_bytes("png")),
        labels_uri=_data_uri("image/png", seg.label_bytes()),
        palette_uris=palette_uris,
        filename_stem=stem,
        server_seconds=time.perf_counter() - start,
    )
