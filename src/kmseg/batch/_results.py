"""What one image's work is (:class:`ItemJob`, its outputs an :class:`OutputPlan`) and what it
gives (:class:`ItemResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kmseg.batch._params import SegmentParams

__all__ = ["ENVIRONMENT", "INPUT", "BatchInterrupted", "ItemJob", "ItemResult", "OutputPlan", "ProgressCallback"]

#: :attr:`ItemResult.failure` values: the input's fault (skipped on a re-run unless failures are
#: retried) or the environment's (disk full, permissions, I/O, a lost worker: retried on every re-run).
INPUT, ENVIRONMENT = "input", "environment"

ProgressCallback = Callable[["ItemResult", int, int], None]


@dataclass(frozen=True)
class OutputPlan:
    """Where one image's outputs go; ``None`` means "not requested".

    ``masks`` is a path prefix: the mask of cluster ``i`` is the prefix
    followed by ``i`` (zero-padded to the width of K - 1) and ``.png``.
    """

    image: str | None = None
    format: str | None = None
    quality: int | None = None
    labels: str | None = None
    palette: str | None = None
    palette_format: str | None = None
    masks: str | None = None
    boundaries: str | None = None
    svg: str | None = None
    svg_tolerance: float | None = None  # None: Segmentation.to_svg's default
    paint: str | None = None  # a paint-by-number sheet: .svg, or .png at paint_dpi
    paint_dpi: int | None = None  # None: the option table's default

    def mask_path(self, i: int, k: int) -> str:
        """Path of the mask of cluster ``i`` out of ``k`` requested clusters."""
        assert self.masks is not None
        return f"{self.masks}{i:0{len(str(max(k - 1, 1)))}d}.png"

    def paths(self, k: int) -> list[str]:
        """Every single-file output, plus the mask of cluster 0 (written last)."""
        out = [p for p in (self.labels, self.palette, self.boundaries, self.svg, self.paint, self.image) if p]
        if self.masks:
            out.append(self.mask_path(0, k))
        return out


@dataclass(frozen=True)
class ItemJob:
    """Everything one worker needs for one image (picklable)."""

    source: str
    params: SegmentParams
    plan: OutputPlan
    figures: bool = True


@dataclass
class ItemResult:
    """The outcome of one image.

    Attributes
    ----------
    source : str
        The input path.
    status : str
        ``"done"``, ``"skipped"`` (outputs already there), ``"failed"`` or
        ``"cancelled"`` (not started because the run was interrupted).
    reason : str or None
        One line saying why it failed or was skipped.
    outputs : dict
        Paths written (or found, when skipped): keys ``image``, ``labels``,
        ``palette`` (str) and ``masks`` (list of str).
    summary : dict or None
        :func:`kmseg.summarize` figures when done (the ΔE figures only
        when the job asked for ``figures``).
    seconds : float
        Wall time spent on the image in the worker (load, segment, write);
        ``summary["seconds"]`` is the time in :func:`kmseg.segment` alone.
    detail : str or None
        Traceback of an unexpected error, for ``--debug``.
    failure : str or None
        What a failure was about: ``"input"`` (the file itself: corrupt,
        unsupported, too large, not a regular file; a re-run skips it unless
        asked to retry failures) or ``"environment"`` (disk full, permissions,
        I/O errors, a worker lost; a re-run tries it again). Also set on a
        result skipped because it failed in an earlier run.
    """

    source: str
    status: str
    reason: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    seconds: float = 0.0
    detail: str | None = None
    failure: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: input, status, reason, outputs and the figures.

        ``seconds`` is the wall time of the whole image, ``segment_seconds``
        the part spent in :func:`kmseg.segment`; an infinite PSNR is null.
        """
        out: dict[str, Any] = {
            "input": self.source,
            "status": self.status,
            "reason": self.reason,
            "outputs": self.outputs,
        }
        if self.failure:
            out["failure"] = self.failure
        if self.summary:
            out.update(self.summary)
            out["segment_seconds"] = out.pop("seconds", None)
        out["seconds"] = round(self.seconds, 4)
        return out


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch; ``results`` holds what was finished.

    Items never started have status ``"cancelled"``. Running items were
    allowed to finish, so no output is half-written.
    """

    def __init__(self, results: list[ItemResult]):
        super().__init__("interrupted")
        self.results = results
