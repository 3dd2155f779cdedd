"""Animations: reading every frame of an animated GIF, APNG or WebP (with
its timing) within limits, and writing frames back as an animation."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageSequence

from kmseg.errors import ImageDecodeError, ImageTooLargeError, InvalidParameterError
from kmseg.io._image import (
    ImageSource,
    LoadedImage,
    _check_pixels,
    _frame_count,
    _from_pil,
    _pil_to_arrays,
    _pillow_warnings,
    _reason,
    _warning_notes,
    open_image,
)
from kmseg.limits import DEFAULT_LIMITS, env_limit
from kmseg._validate import check_int

__all__ = [
    "ANIMATED_INPUT_FORMATS",
    "ANIMATION_FORMATS",
    "DISPOSALS",
    "ENV_MAX_FRAMES",
    "Frames",
    "encode_animation",
    "load_frames",
    "max_frames_default",
]

#: Pillow format names whose files may hold an animation kmseg reads frame by frame.
ANIMATED_INPUT_FORMATS: tuple[str, ...] = ("GIF", "PNG", "WEBP")
#: Output formats that hold an animation ("png" is written as APNG).
ANIMATION_FORMATS: tuple[str, ...] = ("gif", "png", "webp")
#: What happens to a frame's area before the next frame is drawn.
DISPOSALS: tuple[str, ...] = ("none", "background", "previous")
#: The environment variable that sets the default frame limit.
ENV_MAX_FRAMES = "KMSEG_MAX_FRAMES"

# GIF's disposal codes (0 unspecified, 1 keep, 2 background, 3 previous) and APNG's (0 none,
# 1 background, 2 previous), to and from DISPOSALS.
_GIF_DISPOSAL = {0: "none", 1: "none", 2: "background", 3: "previous"}
_APNG_DISPOSAL = {0: "none", 1: "background", 2: "previous"}


def max_frames_default() -> int:
    """The frame limit used when none is given: ``KMSEG_MAX_FRAMES`` from the
    environment, else ``DEFAULT_LIMITS.max_frames``."""
    return env_limit(ENV_MAX_FRAMES, DEFAULT_LIMITS.max_frames)


@dataclass(frozen=True)
class Frames:
    """Every frame of an animation, as it is shown (each frame drawn over the
    earlier ones as the file says), with its timing.

    Attributes
    ----------
    rgb : (F, H, W, 3) uint8
        The colours of every frame.
    alpha : (F, H, W) uint8 or None
        Opacity of every frame, or None when every pixel of every frame is opaque.
    durations : tuple of int
        How long each frame is shown, in milliseconds.
    loop : int or None
        Times the animation is played: 0 for ever, None when the file does
        not say (a GIF without the loop extension plays once).
    disposal : tuple of str
        Per frame, one of :data:`DISPOSALS`: what the player does with the
        frame's area before the next frame.
    format : str or None
        Pillow's name of the file format ("GIF", "PNG", "WEBP").
    notes : tuple of str
        What was done on the way in.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    durations: tuple[int, ...]
    loop: int | None = 0
    disposal: tuple[str, ...] = ()
    format: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        n = self.rgb.shape[0] if self.rgb.ndim == 4 else -1
        if self.rgb.ndim != 4 or self.rgb.shape[3] != 3 or self.rgb.dtype != np.uint8 or n == 0:
            raise InvalidParameterError(f"frames must be an (F, H, W, 3) uint8 array, got {self.rgb.dtype} "
                                        f"{self.rgb.shape}", param="image")
        if self.alpha is not None and self.alpha.shape != self.rgb.shape[:3]:
            raise InvalidParameterError(f"alpha must have shape {self.rgb.shape[:3]}, got {self.alpha.shape}",
                                        param="alpha")
        if not self.disposal:
            object.__setattr__(self, "disposal", ("none",) * n)
        if len(self.durations) != n or len(self.disposal) != n:
            raise InvalidParameterError(f"one duration and one disposal per frame are needed ({n} frames)",
                                        param="durations")

    @property
    def n_frames(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[2])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[1])

    def frame(self, i: int) -> LoadedImage:
        """Frame ``i`` as a still image."""
        i = check_int("frame", i, 0, self.n_frames - 1)
        alpha = None if self.alpha is None or self.alpha[i].min() == 255 else self.alpha[i]
        return LoadedImage(self.rgb[i], alpha, self.format, self.notes)

    def stacked(self) -> LoadedImage:
        """All frames one above the other, as one (F*H, W) image (a view, not a copy)."""
        f, h, w = self.rgb.shape[:3]
        alpha = None if self.alpha is None else self.alpha.reshape(f * h, w)
        return LoadedImage(self.rgb.reshape(f * h, w, 3), alpha, self.format, self.notes)


def load_frames(source: ImageSource | Frames, *, max_pixels: int | None = None,
                max_frames: int | None = None) -> Frames:
    """Read every frame of an animated GIF, APNG or WebP.

    A still image (or an array, or a multi-page TIFF, whose pages are not an
    animation) comes back as one frame, read by :func:`load_image`.

    Parameters
    ----------
    source : path, bytes, binary file, PIL.Image.Image, ndarray, LoadedImage or Frames
    max_pixels : int, optional
        Largest number of pixels over all frames (frames x width x height),
        checked from the header before any frame is decoded. Default:
        ``DEFAULT_LIMITS.max_pixels``.
    max_frames : int, optional
        Most frames accepted, checked before any frame is decoded. Default:
        ``KMSEG_MAX_FRAMES`` from the environment, else
        ``DEFAULT_LIMITS.max_frames``.

    Returns
    -------
    Frames

    Raises
    ------
    ImageTooLargeError
        More frames than ``max_frames``, or more pixels than ``max_pixels``.
    ImageDecodeError, UnsupportedFormatError
        See :func:`load_image`.
    """
    from kmseg.io._image import load_image

    limit = DEFAULT_LIMITS.max_pixels if max_pixels is None else check_int("max_pixels", max_pixels, 1, None)
    most = max_frames_default() if max_frames is None else check_int("max_frames", max_frames, 1, None)
    if isinstance(source, Frames):
        _check_frames(source.n_frames, source.width, source.height, limit, most)
        return source
    if isinstance(source, (np.ndarray, LoadedImage, Image.Image)):
        return _still(load_image(source, max_pixels=limit))
    im, notes, what = open_image(source, limit)
    try:
        _check_pixels(im.width, im.height, limit)
        count = _frame_count(im)
        if count == 1 or im.format not in ANIMATED_INPUT_FORMATS:
            if count > 1:
                notes.append(f"first of {count} frames used")
            return _still(_from_pil(im, notes, limit, decode=True, fmt=im.format))
        _check_frames(count, im.width, im.height, limit, most)
        return _read_frames(im, count, notes)
    except (ImageDecodeError, ImageTooLargeError) as e:
        raise type(e)(f"{what}{e}") from None
    finally:
        im.close()


def _still(img: LoadedImage) -> Frames:
    alpha = None if img.alpha is None else img.alpha[None]
    return Frames(img.rgb[None], alpha, (0,), None, ("none",), img.format, img.notes)


def _check_frames(count: int, width: int, height: int, limit: int, most: int) -> None:
    if count > most:
        raise ImageTooLargeError(
            f"animation has {count:,} frames, more than the limit of {most:,}; raise max_frames "
            f"(or {ENV_MAX_FRAMES} in the environment) to accept it, or segment its first frame only "
            "(first_frame, --first-frame)")
    total = count * width * height
    if total > limit:
        raise ImageTooLargeError(
            f"animation is {count:,} frames of {width} x {height} = {total:,} pixels in all, more than "
            f"the limit of {limit:,}; raise max_pixels to accept it, or segment its first frame only "
            "(first_frame, --first-frame)")


def _read_frames(im: Image.Image, count: int, notes: list[str]) -> Frames:
    rgb = np.empty((count, im.height, im.width, 3), dtype=np.uint8)
    alpha = np.full((count, im.height, im.width), 255, dtype=np.uint8)
    durations, disposal = [], []
    loop = im.info.get("loop")
    fmt = im.format
    try:
        with _pillow_warnings() as caught:
            for i, frame in enumerate(ImageSequence.Iterator(im)):
                if i >= count:
                    break
                frame.load()
                durations.append(max(0, int(round(float(frame.info.get("duration") or 0)))))
                disposal.append(_disposal_of(frame, fmt))
                colours, opacity = _pil_to_arrays(frame, notes)
                rgb[i] = colours
                if opacity is not None:
                    alpha[i] = opacity
        notes.extend(_warning_notes(caught))
    except MemoryError:
        raise
    except Image.DecompressionBombError:
        raise ImageTooLargeError("animation frame has far more pixels than the limit") from None
    except Exception as e:  # noqa: BLE001 - decoders fail on corrupt frames in many ways (see _from_pil)
        raise ImageDecodeError(f"corrupt animation frame: {_reason(e)}") from None
    if len(durations) != count:
        raise ImageDecodeError(f"corrupt animation: {count} frames announced, {len(durations)} read")
    notes.append(f"{count} frames read")
    opaque = bool((alpha == 255).all())
    return Frames(rgb, None if opaque else alpha, tuple(durations),
                  None if loop is None else int(loop), tuple(disposal), fmt, tuple(dict.fromkeys(notes)))


def _disposal_of(frame: Image.Image, fmt: str | None) -> str:
    if fmt == "GIF":
        return _GIF_DISPOSAL.get(int(getattr(frame, "disposal_method", 0) or 0), "none")
    if fmt == "PNG":
        return _APNG_DISPOSAL.get(int(frame.info.get("disposal", 0) or 0), "none")
    return "none"  # WebP: Pillow hands over whole frames and does not say


def _gif_disposal(images: Sequence[Image.Image], disposal: Sequence[str]) -> list[str]:
    """``disposal``, with "background" where a whole frame's transparent pixels
    would otherwise show what is left of the frames before it (a GIF draws a
    frame over the canvas; an APNG or WebP frame may replace it)."""
    def opaque(im: Image.Image) -> np.ndarray:
        if im.mode == "P":
            key = im.info.get("transparency")
            return np.ones((im.height, im.width), bool) if key is None else np.asarray(im) != key
        return np.asarray(im.getchannel("A")) > 0 if im.mode == "RGBA" else np.ones((im.height, im.width), bool)

    out = list(disposal)
    shown = [opaque(im) for im in images]
    if all(s.all() for s in shown):
        return out
    canvas = np.zeros_like(shown[0])  # what is opaque under the frame about to be drawn
    for i in range(len(images) - 1):
        after = {"none": shown[i] | canvas, "background": np.zeros_like(canvas), "previous": canvas}[out[i]]
        if (after & ~shown[i + 1]).any():
            out[i], after = "background", np.zeros_like(canvas)
        canvas = after
    return out


def encode_animation(images: Sequence[Image.Image], fmt: str, durations: Sequence[int], loop: int | None,
                     disposal: Sequence[str], *, quality: int | None = None,
                     text: dict[str, str] | None = None) -> bytes:
    """Encode whole frames as an animated GIF, APNG ("png") or WebP.

    Parameters
    ----------
    images : sequence of PIL images
        Every frame, whole, all of one size: "P" frames sharing one palette
        (a GIF keeps them indexed; the transparent index, if any, in
        ``info["transparency"]``), or "RGB"/"RGBA" frames.
    fmt : {"gif", "png", "webp"}
    durations : sequence of int
        Milliseconds per frame (a GIF stores hundredths of a second).
    loop : int or None
        0 for ever, n times, or None to store no loop count.
    disposal : sequence of str
        Per frame, one of :data:`DISPOSALS` (WebP stores none: its frames are whole).
    quality : int, optional
        WebP only: lossy at this quality; by default WebP frames are lossless,
        so the palette's colours stay exact.
    text : dict, optional
        PNG text chunks (the kmseg record).

    Raises
    ------
    InvalidParameterError
        An output format that holds no animation, or frames and timing that disagree.
    """
    key = str(fmt).lower().lstrip(".")
    if key not in ANIMATION_FORMATS:
        raise InvalidParameterError(
            f"an animation is written as {', '.join(ANIMATION_FORMATS)} (png: APNG), got {fmt!r}", param="format")
    if not images or len(durations) != len(images) or len(disposal) != len(images):
        raise InvalidParameterError("one duration and one disposal per frame are needed", param="durations")
    bad = [d for d in disposal if d not in DISPOSALS]
    if bad:
        raise InvalidParameterError(f"disposal must be one of {', '.join(DISPOSALS)}, got {bad[0]!r}",
                                    param="disposal")
    first, rest = images[0], list(images[1:])
    kwargs: dict = {"save_all": True, "append_images": rest, "duration": [int(d) for d in durations]}
    if loop is not None:
        kwargs["loop"] = int(loop)
    buf = io.BytesIO()
    if key == "gif":
        gif_codes = {v: k for k, v in _GIF_DISPOSAL.items() if k}
        kwargs["disposal"] = [gif_codes[d] for d in _gif_disposal(images, disposal)]
        if "transparency" in first.info:
            kwargs["transparency"] = first.info["transparency"]
        first.save(buf, "GIF", optimize=False, **kwargs)
    elif key == "png":
        from PIL import PngImagePlugin

        apng_codes = {v: k for k, v in _APNG_DISPOSAL.items()}
        kwargs["disposal"] = [apng_codes[d] for d in disposal]
        kwargs["blend"] = 0  # whole frames replace what is under them
        # Pillow's APNG writer cannot dispose indexed frames to the background: write colours.
        mode = "RGBA" if any(im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info for im in images) else None
        if mode or first.mode == "P":
            images = [im.convert(mode or "RGB") for im in images]
            first, kwargs["append_images"] = images[0], list(images[1:])
        info = PngImagePlugin.PngInfo()
        for name, value in (text or {}).items():
            info.add_text(name, value)
        first.save(buf, "PNG", pnginfo=info, **kwargs)
    else:
        if quality is None:
            kwargs["lossless"] = True
        else:
            kwargs["quality"] = int(quality)
        if kwargs.get("loop") is None:
            kwargs["loop"] = 1  # WebP always stores a count; 1 is "play once"
        first.save(buf, "WEBP", **kwargs)
    return buf.getvalue()
