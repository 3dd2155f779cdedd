"""Write one image's outputs, to local paths or fsspec URLs alike, and sweep
the temporary files an interrupted write may leave."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import kmseg
from kmseg.batch._results import OutputPlan
from kmseg.batch._results import ItemJob
from kmseg.batch.storage import is_url, write_bytes

__all__ = ["sweep_temporaries", "write_outputs"]


#: The order of the outputs in :attr:`ItemResult.outputs`.
_ORDER = ("image", "labels", "palette", "boundaries", "svg", "paint", "masks")


def write_outputs(seg: Any, plan: OutputPlan, mask_k: int, original: Any = None) -> dict[str, Any]:
    """Write the outputs ``plan`` asks for and return their paths.

    Every output is encoded, then written whole by
    :func:`kmseg.batch.storage.write_bytes`: atomically (temporary file and
    rename) to a local path, in one object write to an fsspec URL. The extras
    come first, the masks from the last cluster to the first and the
    segmented image last, so that an image counts as finished exactly when
    all its outputs exist.

    Parameters
    ----------
    seg : kmseg.Segmentation
    plan : OutputPlan
    mask_k : int
        The most clusters the run could give (sets the masks' names).
    original : image source, optional
        The original, for the boundaries overlay.

    Returns
    -------
    dict
        Keys ``image``, ``labels``, ``palette``, ``boundaries``, ``svg``, ``paint``
        (str) and ``masks`` (list of str), for the outputs written.
    """
    outputs: dict[str, Any] = {}
    if plan.labels:
        outputs["labels"] = write_bytes(plan.labels, seg.label_bytes())
    if plan.palette:
        outputs["palette"] = write_bytes(plan.palette, kmseg.palette_bytes(seg.palette, seg.counts,
                                                                           plan.palette_format))
    if plan.boundaries:
        outputs["boundaries"] = write_bytes(plan.boundaries, _boundaries_png(seg, original))
    if plan.svg:
        outputs["svg"] = write_bytes(plan.svg, _svg_bytes(seg, plan))
    if plan.paint:
        outputs["paint"] = write_bytes(plan.paint, _paint_bytes(seg, plan))
    if plan.masks:
        masks = [plan.mask_path(i, mask_k) for i in range(seg.k)]
        for i in reversed(range(seg.k)):
            write_bytes(masks[i], _mask_png(seg, i))
        outputs["masks"] = masks
    if plan.image:
        fmt = kmseg.normalize_format(plan.format or (os.path.splitext(plan.image)[1] or ".png"))
        outputs["image"] = write_bytes(plan.image, seg.to_bytes(fmt, plan.quality, **_svg_options(plan)))
    return {key: outputs[key] for key in _ORDER if key in outputs}


def _boundaries_png(seg: Any, original: Any) -> bytes:
    """PNG of the segment edges drawn on the original image."""
    buf = io.BytesIO()
    seg.boundaries_image(original).save(buf, format="PNG")
    return buf.getvalue()


def _paint_bytes(seg: Any, plan: OutputPlan) -> bytes:
    """The paint-by-number sheet: SVG, or PNG (at ``paint_dpi``) for a .png name."""
    from kmseg import options

    sheet = seg.to_paint_by_number(**({} if plan.svg_tolerance is None else {"tolerance": plan.svg_tolerance}))
    assert plan.paint is not None
    if plan.paint.lower().endswith(".png"):
        return sheet.to_png(plan.paint_dpi or options.get("paint_dpi").default)
    return sheet.to_svg().encode()


def _svg_options(plan: OutputPlan) -> dict[str, float]:
    """The drawing's tolerance when given (else Segmentation's default)."""
    return {} if plan.svg_tolerance is None else {"svg_tolerance": plan.svg_tolerance}


def _svg_bytes(seg: Any, plan: OutputPlan) -> bytes:
    """The segmentation drawn as SVG (UTF-8)."""
    if plan.svg_tolerance is None:
        return seg.to_svg().encode()
    return seg.to_svg(plan.svg_tolerance).encode()


def _mask_png(seg: Any, i: int) -> bytes:
    """Black/white PNG of cluster ``i`` carrying the run's metadata."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in seg.metadata().items():
        info.add_text(key, value)
    info.add_text("kmseg-mask", str(i))
    buf = io.BytesIO()
    Image.fromarray(seg.mask(i)).convert("1").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def sweep_temporaries(jobs: Sequence[ItemJob], manifest: Any = None) -> None:
    """Remove kmseg's temporary files beside the outputs of ``jobs`` and the
    manifest: before a run (an earlier run killed with SIGKILL could not clean
    up, and its leftovers may belong to images now skipped, or to the
    manifest's final rewrite), after an interrupted one (a signal between a
    temporary file's creation and the write's own clean-up leaves it), and
    after one whose workers wrote (a worker killed in the middle of a write,
    whose image Dask then ran again elsewhere or the run reported failed).

    Only kmseg's own names are removed (``.<output name>.<random>.tmp`` of
    an output of these jobs); each folder is listed once, not once per job.
    """
    names: dict[str, set[str]] = {}
    mask_prefixes: dict[str, set[str]] = {}
    paths = [p for job in jobs
             for p in (job.plan.image, job.plan.labels, job.plan.palette, job.plan.boundaries, job.plan.svg,
                       job.plan.paint)]
    paths.append(getattr(manifest, "path", None))
    for path in paths:
        if path and not is_url(path):
            folder, base = os.path.split(path)
            names.setdefault(folder or ".", set()).add(base)
    for job in jobs:
        if job.plan.masks and not is_url(job.plan.masks):
            folder, base = os.path.split(job.plan.masks)
            mask_prefixes.setdefault(folder or ".", set()).add(base)
    for folder in set(names) | set(mask_prefixes):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        ours, prefixes = names.get(folder, set()), mask_prefixes.get(folder, set())
        for entry in entries:
            if not (entry.startswith(".") and entry.endswith(".tmp")) or entry.count(".") < 3:
                continue
            name = entry[1:-4].rsplit(".", 1)[0]  # ".<name>.<random>.tmp" (tempfile.mkstemp)
            if name in ours or any(name.startswith(pre) and name[len(pre):-4].isdigit()
                                   and name.endswith(".png") for pre in prefixes):
                try:
                    os.unlink(os.path.join(folder, entry))
                except OSError:
                    pass
