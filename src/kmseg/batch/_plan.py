"""Plan a batch: every output path of every input, checked not to overwrite an input or another output."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import kmseg
from kmseg import options
from kmseg.batch._find import InputFile
from kmseg.batch._params import SegmentParams
from kmseg.batch._results import ItemJob, ItemResult, OutputPlan
from kmseg.batch.storage import exists, is_url, localize

__all__ = ["DEFAULT_NAME", "NAME_FIELDS", "OutputPlan", "check_job", "check_name_pattern", "output_format",
           "output_image_path", "output_name", "outputs_exist", "plan_jobs", "plan_outputs"]

#: Default output name pattern; ``{ext}`` is the extension of the output format.
DEFAULT_NAME = "{stem}-k{k}.{ext}"
_FORMAT_EXT = {"png": "png", "jpeg": "jpg", "webp": "webp", "gif": "gif", "svg": "svg"}


def output_format(name: str, format: str | None) -> str:
    """The output format: ``format`` if given, else from the name's extension."""
    if format is not None:
        return kmseg.normalize_format(format)
    suffix = os.path.splitext(name)[1]
    if not suffix:
        raise kmseg.InvalidParameterError(
            f"cannot tell the image format from {name!r}: end it with .png, .jpg, .webp, .gif or .svg, "
            "or give --format", param="format")
    return kmseg.normalize_format(suffix)


def plan_jobs(
    files: Sequence[InputFile],
    output_dir: str | os.PathLike[str],
    params: SegmentParams,
    *,
    name: str = DEFAULT_NAME,
    format: str | None = None,
    quality: int | None = None,
    labels_dir: str | os.PathLike[str] | None = None,
    palette_dir: str | os.PathLike[str] | None = None,
    palette_format: str = "json",
    masks_dir: str | os.PathLike[str] | None = None,
    figures: bool = True,
    boundaries_dir: str | os.PathLike[str] | None = None,
    svg_dir: str | os.PathLike[str] | None = None,
    svg_tolerance: float | None = None,
    paint_dir: str | os.PathLike[str] | None = None,
    paint_dpi: int | None = None,
) -> tuple[list[ItemJob], list[ItemResult]]:
    """Decide every output path of every input.

    Output names come from ``name`` (fields ``{stem}``, ``{name}``, ``{k}``,
    ``{ext}``), inside ``output_dir`` plus the input's ``subdir``. Label maps
    are ``{stem}-k{k}-labels.png``, palettes ``{stem}-k{k}-palette.<fmt>``
    masks ``{stem}-k{k}-mask-<i>.png`` and drawings ``{stem}-k{k}.svg`` in
    their own folders. Inputs that
    are outputs of another input of the same run (left by an earlier run in
    the same folder) are left out.

    Returns
    -------
    jobs : list of ItemJob
    conflicts : list of ItemResult
        Failed results for inputs whose output would overwrite an input or
        another input's output.

    Raises
    ------
    kmseg.InvalidParameterError
        A bad pattern, format or palette format (a usage error: nothing ran).
    """
    fmt = kmseg.normalize_format(format) if format else None
    check_name_pattern(name)
    pal_fmt = options.validate("palette_format", palette_format)
    dirs = (localize(output_dir), labels_dir and localize(labels_dir),
            palette_dir and localize(palette_dir), masks_dir and localize(masks_dir))
    bdir = boundaries_dir and localize(boundaries_dir)
    sdir = svg_dir and localize(svg_dir)
    pdir = paint_dir and localize(paint_dir)
    planned = [ItemJob(os.fspath(f.path), params,
                       _plan_one(f, params.name_k, name, fmt, quality, pal_fmt, *dirs, boundaries_dir=bdir,
                                 svg_dir=sdir, svg_tolerance=svg_tolerance, paint_dir=pdir,
                                 paint_dpi=paint_dpi),
                       figures) for f in files]
    produced: dict[str, int] = {}
    for n, job in enumerate(planned):
        for path in job.plan.paths(params.mask_k):
            produced.setdefault(_real(path), n)
    planned = [job for n, job in enumerate(planned)
               if produced.get(_real(job.source), n) == n]
    inputs_real = {_real(job.source) for job in planned}
    owner: dict[str, str] = {}
    jobs: list[ItemJob] = []
    conflicts: list[ItemResult] = []
    for job in planned:
        reason = check_job(job, inputs_real, owner)
        if reason:
            conflicts.append(ItemResult(job.source, "failed", reason))
        else:
            jobs.append(job)
    return jobs, conflicts


def _plan_one(f: InputFile, k: int | str, name: str, fmt: str | None, quality: int | None, pal_fmt: str,
              output_dir: str, labels_dir: str | None, palette_dir: str | None,
              masks_dir: str | None, boundaries_dir: str | None = None, svg_dir: str | None = None,
              svg_tolerance: float | None = None, paint_dir: str | None = None,
              paint_dpi: int | None = None) -> OutputPlan:
    image = output_image_path(f.path, output_dir, name, k, fmt, subdir=f.subdir)
    return plan_outputs(f.path, k, image, format=fmt, quality=quality, labels=labels_dir, palette=palette_dir,
                        palette_format=pal_fmt, masks=masks_dir, boundaries=boundaries_dir, svg=svg_dir,
                        svg_tolerance=svg_tolerance, paint=paint_dir, paint_dpi=paint_dpi, subdir=f.subdir)


def output_image_path(source: str, folder: str, pattern: str, k: int | str, format: str | None = None,
                      subdir: str = "") -> str:
    """The segmented image's path for ``source``: the name ``pattern`` gives
    (fields ``{stem}``, ``{name}``, ``{k}``, ``{ext}``: the extension of
    ``format``, png by default) in ``folder``/``subdir``.

    Raises
    ------
    kmseg.InvalidParameterError
        A bad pattern, or one whose name leaves the folder (:func:`output_name`).
    """
    p = Path(source)
    ext = _FORMAT_EXT[kmseg.normalize_format(format) if format else "png"]
    return os.path.join(folder, subdir, output_name(pattern, {"stem": p.stem, "name": p.name, "k": k, "ext": ext}))


def plan_outputs(
    source: str,
    k: int | str,
    image: str | None,
    *,
    format: str | None = None,
    quality: int | None = None,
    labels: str | None = None,
    palette: str | None = None,
    palette_format: str | None = None,
    masks: str | None = None,
    boundaries: str | None = None,
    svg: str | None = None,
    svg_tolerance: float | None = None,
    paint: str | None = None,
    paint_dpi: int | None = None,
    subdir: str = "",
    is_folder: Callable[[str], bool] = lambda path: True,
) -> OutputPlan:
    """The outputs of one input, the one naming rule of ``kmseg segment``
    and :func:`plan_jobs`.

    ``labels``, ``palette``, ``boundaries`` and ``svg`` are each a file path,
    or a folder (as ``is_folder`` says; by default every one is) where the
    output takes its default name inside ``subdir``: ``{stem}-k{k}-labels.png``,
    ``{stem}-k{k}-palette.<format>``, ``{stem}-k{k}-boundaries.png``,
    ``{stem}-k{k}.svg``; ``paint`` (a paint-by-number sheet) likewise,
    ``{stem}-k{k}-paint.svg``, or ``.png`` when ``paint_dpi`` is given (a
    file must end in .svg or .png). ``masks`` is always a folder (``{stem}-k{k}-mask-<i>.png``).
    A palette file's format follows its extension unless given; in a folder it
    is ``palette_format`` or json.
    """
    base = f"{Path(source).stem}-k{k}"

    def place(dest: str | None, suffix: str) -> str | None:
        if not dest:
            return None
        return os.path.join(dest, subdir, base + suffix) if is_folder(dest) else dest

    if palette:
        palette_format = (palette_format or "json") if is_folder(palette) else (
            palette_format or kmseg.palette_format_from_path(palette))
    return OutputPlan(
        image=image,
        format=output_format(image, format) if image else None,
        quality=quality,
        labels=place(labels, "-labels.png"),
        palette=place(palette, f"-palette.{palette_format}"),
        palette_format=palette_format if palette else None,
        masks=os.path.join(masks, subdir, f"{base}-mask-") if masks else None,
        boundaries=place(boundaries, "-boundaries.png"),
        svg=place(svg, ".svg"),
        svg_tolerance=svg_tolerance,
        paint=place(paint, f"-paint.{'png' if paint_dpi else 'svg'}"),
        paint_dpi=paint_dpi,
    )


#: The fields of an output name pattern (``--name``).
NAME_FIELDS: tuple[str, ...] = ("stem", "name", "k", "ext")


def check_name_pattern(pattern: str) -> None:
    """Check an output name pattern before any name is made from it.

    Only the fields of :data:`NAME_FIELDS` are allowed, plainly (``{stem}``,
    ``{k:03d}``): no attribute or index access (``{stem.__class__}``), no
    conversions, no nested fields. A pattern that is absolute or climbs out
    of the output folder (``../x-{stem}.png``) is refused too.

    Raises
    ------
    kmseg.InvalidParameterError
        With ``param="name"``.
    """
    import string

    def bad(why: str) -> kmseg.InvalidParameterError:
        return kmseg.InvalidParameterError(
            f"bad name pattern {pattern!r}: {why}; use the fields "
            + ", ".join(f"{{{f}}}" for f in NAME_FIELDS), param="name")

    if not isinstance(pattern, str) or not pattern:
        raise bad("it is empty")
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise bad(str(exc)) from None
    for _, field_name, spec, conversion in parts:
        if field_name is None:
            continue
        if field_name not in NAME_FIELDS:
            raise bad(f"unknown field {{{field_name}}}" if field_name.isidentifier()
                      else f"{{{field_name}}} is not a plain field (no attribute or index access)")
        if conversion or (spec and ("{" in spec or "}" in spec)):
            raise bad(f"field {{{field_name}}} may take a format spec only (no !conversion, no nested fields)")
    if os.path.isabs(pattern) or pattern.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", pattern):
        raise bad("it must name a file inside the output folder (no absolute path, no '..')")


def output_name(pattern: str, fields: dict[str, Any]) -> str:
    """The file name ``pattern`` gives for ``fields``, checked to stay inside the output folder.

    Raises
    ------
    kmseg.InvalidParameterError
        A bad pattern (see :func:`check_name_pattern`), or a name that is
        empty, a folder, or outside the output folder.
    """
    check_name_pattern(pattern)
    try:
        filename = pattern.format(**fields)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise kmseg.InvalidParameterError(
            f"bad name pattern {pattern!r} ({exc}); use the fields "
            + ", ".join(f"{{{f}}}" for f in NAME_FIELDS), param="name") from None
    if not filename or filename.endswith(("/", os.sep)):
        raise kmseg.InvalidParameterError(f"bad name pattern {pattern!r}: it makes no file name",
                                          param="name")
    normal = os.path.normpath(filename)
    if os.path.isabs(normal) or normal == ".." or normal.startswith(".." + os.sep) or normal == ".":
        raise kmseg.InvalidParameterError(
            f"name pattern {pattern!r} gives {filename!r}, outside the output folder", param="name")
    return filename


def check_job(job: ItemJob, inputs_real: set[str], owner: dict[str, str]) -> str | None:
    """Why ``job`` must not run (an output is an input or taken), or None.

    ``owner`` maps real output paths already claimed to their input and is
    updated when the job is accepted.
    """
    k = job.params.mask_k
    paths = job.plan.paths(k)
    if job.plan.masks:
        paths += [job.plan.mask_path(i, k) for i in range(1, k)]
    reals = [_real(p) for p in paths]
    for path, real in zip(paths, reals):
        if real in inputs_real:
            return f"output {path} would overwrite an input; choose another output name or folder"
        if real in owner:
            return (f"output {path} would also be written for {owner[real]}; "
                    "put {name} in the name pattern or use another folder")
    for real in reals:
        owner[real] = job.source
    return None


def _real(path: str) -> str:
    """A path with links resolved (a URL as it is), to compare outputs and inputs."""
    return path if is_url(path) else os.path.realpath(path)


def outputs_exist(job: ItemJob) -> bool:
    """Whether every requested output of ``job`` is already there (paths or URLs)."""
    return all(exists(p) for p in job.plan.paths(job.params.mask_k))
