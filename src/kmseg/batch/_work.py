"""One image's work, in a worker process: load, segment, write; every error
becomes a failed :class:`ItemResult`."""

from __future__ import annotations

import signal
import time
import traceback
from typing import Any

import kmseg
from kmseg.batch import storage
from kmseg.batch._results import ENVIRONMENT, INPUT, ItemJob, ItemResult
from kmseg.batch._write import write_outputs

__all__ = ["init_worker", "process_item"]


def process_item(job: ItemJob) -> ItemResult:
    """Load, segment and save one image; never raises for a bad image.

    Outputs are written atomically, extras first, the masks from the last
    cluster to the first and the segmented image last, so that a run stopped
    half-way leaves no partial file and an image counts as finished exactly
    when all its outputs exist.
    """
    start = time.perf_counter()
    try:
        source: Any = storage.read_bytes(job.source) if storage.is_url(job.source) else job.source
        original = None
        source = _whole_animation(source, job)
        if job.plan.boundaries:  # the overlay is drawn on the loaded original
            original = kmseg.load_image(source, max_pixels=job.params.max_pixels)
            source = original
        if isinstance(source, kmseg.Frames):
            seg = kmseg.segment_frames(source, job.params.k, **job.params.as_kwargs())
        else:
            seg = kmseg.segment(source, job.params.k, **job.params.as_kwargs())
        outputs = write_outputs(seg, job.plan, job.params.mask_k, original)
        summary = kmseg.summarize(seg, delta_e=job.figures)  # ΔE costs about as much as the clustering
        return ItemResult(job.source, "done", None, outputs, summary, time.perf_counter() - start)
    except kmseg.KmsegError as exc:
        from kmseg.io import InputUnreadableError

        reason, detail = str(exc), None
        failure = ENVIRONMENT if isinstance(exc, InputUnreadableError) else INPUT
        if reason.startswith(f"{job.source}: "):  # the path is shown beside the reason anyway
            reason = reason[len(job.source) + 2:]
    except MemoryError:
        reason, detail = "out of memory; try a smaller --max-pixels or fewer --jobs", None
        failure = ENVIRONMENT
    except OSError as exc:
        reason, detail, failure = _os_reason(exc), None, ENVIRONMENT
    except Exception as exc:  # an unexpected bug: report it, keep the batch going
        reason = f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)"
        detail, failure = traceback.format_exc(), INPUT
    return ItemResult(job.source, "failed", reason, {}, None, time.perf_counter() - start, detail, failure)


def _whole_animation(source: Any, job: ItemJob) -> Any:
    """The input's frames (:class:`kmseg.Frames`) when it is an animation to be
    segmented as a whole (written as gif, png or webp, and not ``first_frame``),
    else the input to segment as it is."""
    plan = job.plan
    if (job.params.first_frame or isinstance(source, kmseg.LoadedImage)
            or (plan.format or "png") not in kmseg.ANIMATION_FORMATS or not plan.image):
        return source
    frames = kmseg.load_frames(source, max_pixels=job.params.max_pixels)
    if frames.n_frames == 1:
        return frames.frame(0)
    extras = [what for what, path in (("masks", plan.masks), ("boundaries", plan.boundaries), ("svg", plan.svg),
                                                 ("paint-by-number", plan.paint))
              if path]
    if extras:
        raise kmseg.InvalidParameterError(
            f"this input is an animation of {frames.n_frames} frames: {', '.join(extras)} "
            f"{'is' if len(extras) == 1 else 'are'} written for one image; segment its first frame only "
            "(first_frame, --first-frame) for them", param="first_frame")
    return frames


def _os_reason(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename}" if exc.filename else what


def init_worker() -> None:
    """Pool initializer: the parent handles Ctrl-C and lets running items finish;
    SIGTERM stops the item with SystemExit, so atomic writes remove their
    temporary file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
