"""segment_frames(): an animation in, every frame segmented with one palette out."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kmseg import options
from kmseg._segment import ColorSpace, Segmentation, segment
from kmseg.engine import _deadline
from kmseg.engine._deadline import Deadline
from kmseg._validate import check_int
from kmseg.errors import InvalidParameterError
from kmseg.io._frames import ANIMATION_FORMATS, Frames, encode_animation, load_frames
from kmseg.io._image import ImageSource, atomic_write

__all__ = ["AnimationSegmentation", "segment_frames"]

# Options of segment() that work on one frame's pixels at a time: each would make
# a static pixel change colour when the frames around it change, so they are refused.
_PER_FRAME = {"spatial_weight": 0.0, "min_region": 0, "dither": False}


def _of_whole(name: str, doc: str) -> Any:
    """A read-only attribute of :attr:`AnimationSegmentation.whole`."""
    return property(lambda self: getattr(self.whole, name), doc=doc)


@dataclass(frozen=True, eq=False)
class AnimationSegmentation:
    """The result of :func:`segment_frames`: every frame labelled with one palette.

    Attributes
    ----------
    labels : (F, H, W) uint8
        Cluster of every pixel of every frame, 0 .. k-1. A colour gets the
        same label in every frame.
    alpha : (F, H, W) uint8 or None
        Opacity of every frame, passed through from the input.
    durations : tuple of int
        Milliseconds each frame is shown (from the input).
    loop : int or None
        Times the animation plays (0: for ever; None: not stored, play once).
    disposal : tuple of str
        Per frame: "none", "background" or "previous" (from the input).
    whole : Segmentation
        The segmentation of all frames together (stacked one above the
        other, F*H x W pixels): the palette, centres, counts, inertia and
        quality figures below are its own.
    seconds : float
        Time spent in :func:`segment_frames`, reading included.
    """

    labels: np.ndarray
    alpha: np.ndarray | None
    durations: tuple[int, ...]
    loop: int | None
    disposal: tuple[str, ...]
    whole: Segmentation
    seconds: float = 0.0

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.labels.shape[0])

    @property
    def height(self) -> int:
        return int(self.labels.shape[1])

    @property
    def width(self) -> int:
        return int(self.labels.shape[2])

    @property
    def palette(self) -> np.ndarray:
        """(k, 3) uint8: the colour of every cluster, the same in every frame."""
        return self.whole.palette

    @property
    def k(self) -> int:
        return self.whole.k

    @property
    def counts(self) -> np.ndarray:
        """(k,) int64: pixels of every cluster over all frames (fully transparent ones not counted)."""
        return self.whole.counts

    @property
    def notes(self) -> tuple[str, ...]:
        return self.whole.notes

    @property
    def seed(self) -> int:
        return self.whole.seed

    @property
    def psnr(self) -> float:
        """PSNR in dB over all frames against the original."""
        return self.whole.psnr

    centers = _of_whole("centers", "(k, 3) float64: cluster centres in the colour space used.")
    inertia = _of_whole("inertia", "Sum over all frames' pixels of the squared distance to their centre.")
    n_iter = _of_whole("n_iter", "Exact Lloyd passes.")
    converged = _of_whole("converged", "False if max_iter stopped the run.")
    k_requested = _of_whole("k_requested", "The K asked for.")
    color_space = _of_whole("color_space", "The colour space of the clustering.")
    params = _of_whole("params", "The parameters of the run, enough to repeat it.")
    shares = _of_whole("shares", "(k,) float64: fraction of the pixels (all frames) in every cluster.")
    k_curve = _of_whole("k_curve", "The fits tried when K was 'auto', else None.")
    delta_e_mean = _of_whole("delta_e_mean", "Mean CIEDE2000 difference over all frames' pixels.")
    delta_e_p95 = _of_whole("delta_e_p95", "95th percentile of the CIEDE2000 difference.")
    # The per-frame features are off for a whole animation (see segment_frames).
    spatial_weight = _of_whole("spatial_weight", "0: colour only.")
    positions = _of_whole("positions", "None: no spatial weight.")
    regions = _of_whole("regions", "None: no region merging.")
    regions_before = _of_whole("regions_before", "None: no region merging.")
    dither = _of_whole("dither", "False: whole animations are not dithered.")

    def frame_image(self, i: int, *, gif: bool = False) -> Image.Image:
        """Frame ``i`` of the segmented animation: indexed ("P") without
        transparency, RGBA with it; with ``gif``, indexed with the transparent
        pixels (alpha below 128) on an extra palette entry."""
        i = check_int("frame", i, 0, self.n_frames - 1)
        labels = self.labels[i]
        alpha = None if self.alpha is None else self.alpha[i]
        if alpha is None or (gif and self.alpha is not None and self.k < 256):
            index = labels if alpha is None else np.where(alpha < 128, np.uint8(self.k), labels)
            im = Image.frombytes("P", (self.width, self.height), np.ascontiguousarray(index).tobytes())
            colours = self.palette.tobytes() + (b"\0\0\0" if alpha is not None else b"")
            im.putpalette(colours)
            if alpha is not None:
                im.info["transparency"] = self.k
            return im
        rgba = np.empty(labels.shape + (4,), dtype=np.uint8)
        rgba[:, :, :3] = self.palette[labels]
        rgba[:, :, 3] = alpha
        return Image.fromarray(rgba, "RGBA")

    def to_images(self, *, gif: bool = False) -> list[Image.Image]:
        """Every frame, as :meth:`frame_image` gives it."""
        return [self.frame_image(i, gif=gif) for i in range(self.n_frames)]

    def metadata(self) -> dict[str, str]:
        """Text stored with a PNG output: version, parameters, seed, frame count."""
        return {**self.whole.metadata(), "kmseg-frames": str(self.n_frames)}

    def to_bytes(self, format: str = "gif", quality: int | None = None, *,
                 svg_tolerance: float | None = None) -> bytes:
        """The segmented animation encoded as GIF, APNG ("png") or WebP, with
        the input's frame durations, loop count and disposal.
        (``svg_tolerance`` is taken for :meth:`Segmentation.to_bytes`'s sake
        and unused: an animation has no SVG drawing.)

        WebP frames are lossless unless a ``quality`` is given. A GIF holds
        256 colours at most with its transparent entry: an animation with
        transparency needs K of at most 255 for GIF.

        Raises
        ------
        InvalidParameterError
            A format other than gif, png or webp; 256 clusters and
            transparency in a GIF.
        """
        fmt = _animation_format(format)
        quality = options.validate("quality", quality)
        if quality is not None and fmt != "webp":
            raise InvalidParameterError(f"quality applies to webp output, not {fmt}", param="quality")
        if fmt == "gif" and self.alpha is not None and self.k >= 256:
            raise InvalidParameterError(
                "a GIF holds 256 colours including its transparent one: use K of at most 255, or "
                "write APNG (png) or WebP", param="k")
        images = self.to_images(gif=fmt == "gif")
        return encode_animation(images, fmt, self.durations, self.loop, self.disposal, quality=quality,
                                text=self.metadata() if fmt == "png" else None)

    def save(self, path: str | os.PathLike, format: str | None = None, quality: int | None = None) -> Path:
        """Write the segmented animation atomically; the format follows the
        extension (.gif, .png for APNG, .webp) unless given."""
        fmt = _animation_format(format or (os.path.splitext(os.fspath(path))[1] or ".gif"))
        return atomic_write(path, self.to_bytes(fmt, quality))

    def label_bytes(self) -> bytes:
        """The label maps as a greyscale APNG (pixel value = label), one frame per frame."""
        images = [Image.fromarray(self.labels[i], "L") for i in range(self.n_frames)]
        return encode_animation(images, "png", self.durations, self.loop, self.disposal, text=self.metadata())

    def save_labels(self, path: str | os.PathLike) -> Path:
        """Write :meth:`label_bytes` to ``path``, atomically."""
        return atomic_write(path, self.label_bytes())

    def mask(self, i: int) -> np.ndarray:
        """(F, H, W) bool: the pixels of cluster ``i`` in every frame."""
        i = check_int("cluster", i, 0, self.k - 1)
        return self.labels == i

    def recolor(self, palette: np.ndarray) -> AnimationSegmentation:
        """The same segmentation painted with another (k, 3) palette."""
        return replace(self, whole=self.whole.recolor(palette))

    def summary(self, *, psnr: bool = True, delta_e: bool = True) -> dict[str, Any]:
        """JSON-ready figures of the run (over all frames, by :func:`kmseg.summarize`),
        with the frames' timing."""
        from kmseg._result import summarize

        out = summarize(self.whole, psnr=psnr, delta_e=delta_e)
        out.update(width=self.width, height=self.height, frames=self.n_frames, durations=list(self.durations),
                   loop=self.loop, seconds=round(self.seconds, 4))
        return out


def _animation_format(name: str) -> str:
    key = str(name).lower().lstrip(".")
    key = {"apng": "png"}.get(key, key)
    if key not in ANIMATION_FORMATS:
        raise InvalidParameterError(
            f"an animation is written as gif, png (APNG) or webp, got {name!r}", param="format")
    return key


@_deadline.within
def segment_frames(
    image: ImageSource | Frames,
    k: int | str | None = None,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | np.random.Generator | None = None,
    color_space: ColorSpace = "rgb",
    max_pixels: int | None = None,
    max_frames: int | None = None,
    spatial_weight: float = 0.0,
    fit_size: int = 256,
    min_region: int = 0,
    target_psnr: float | None = None,
    dither: bool = False,
    palette: Any = None,
    deadline: Deadline | float | None = None,
) -> AnimationSegmentation:
    """Segment every frame of an animation with one palette.

    One colour histogram is made over the opaque pixels of all frames
    (each frame weighted by its pixels), one k-means fit is run on it, and
    every pixel of every frame is labelled from its colour: a colour has
    the same cluster in every frame, so still parts of the picture do not
    flicker. The clustering is :func:`segment`'s, run on all frames at
    once.

    Parameters
    ----------
    image : path, bytes, binary file, PIL image, ndarray, LoadedImage or Frames
        An animated GIF, APNG or WebP (see :func:`load_frames`); a still
        image gives a one-frame result.
    k, max_iter, tol, n_init, seed, color_space, target_psnr, palette
        As for :func:`segment`.
    max_pixels : int, optional
        Largest number of pixels over all frames (frames x width x height).
    max_frames : int, optional
        Most frames (default ``KMSEG_MAX_FRAMES``, else ``Limits.max_frames``).
    spatial_weight, fit_size, min_region, dither
        Not available for a whole animation (each works frame by frame and
        would bring the flicker back); only their defaults are accepted.
    deadline : kmseg.Deadline or float, optional
        As for :func:`segment`: the decoding and the fit stop once it
        expires or is cancelled.

    Returns
    -------
    AnimationSegmentation

    Raises
    ------
    InvalidParameterError
        A parameter out of range, or one of the per-frame options set.
    ImageTooLargeError
        More frames than ``max_frames`` or more pixels than ``max_pixels``.
    ImageDecodeError, UnsupportedFormatError
        See :func:`load_image`.
    DeadlineExceeded
        ``deadline`` expired or was cancelled before the work was done.

    Examples
    --------
    >>> import numpy as np
    >>> from kmseg.io import Frames
    >>> rgb = np.zeros((2, 4, 4, 3), np.uint8); rgb[0, :, :2] = (255, 0, 0); rgb[1, :, 2:] = (255, 0, 0)
    >>> anim = segment_frames(Frames(rgb, None, (100, 100)), 2, seed=0)
    >>> anim.n_frames, anim.k, bool((anim.labels[0][:, :2] == anim.labels[1][:, 2:]).all())
    (2, 2, True)
    """
    start = time.perf_counter()
    for name, off in _PER_FRAME.items():
        value = options.validate(name, locals()[name])
        if value != off:
            raise InvalidParameterError(
                f"{name} is not available when an animation is segmented as a whole (it works frame by "
                "frame and would make the colours flicker); segment the first frame only (first_frame, "
                "--first-frame) to use it",
                param=name)
    options.validate("fit_size", fit_size)
    max_pixels = options.validate("max_pixels", max_pixels)
    frames = load_frames(image, max_pixels=max_pixels, max_frames=max_frames)
    whole = segment(frames.stacked(), k, max_iter=max_iter, tol=tol, n_init=n_init, seed=seed,
                    color_space=color_space, max_pixels=max_pixels, target_psnr=target_psnr, palette=palette)
    if frames.n_frames > 1:
        whole = replace(whole, params={**whole.params, "frames": "all"})
    labels = whole.labels.reshape(frames.n_frames, frames.height, frames.width)
    return AnimationSegmentation(labels, frames.alpha, frames.durations, frames.loop, frames.disposal, whole,
                                 time.perf_counter() - start)
