"""Segment many images: find them, plan their outputs, run them on an executor.

This is the engine behind ``kmseg segment`` with several inputs, usable on its
own from Python. Every image is one call of :func:`process_item`, a picklable
top-level function that loads, segments and saves through the public kmseg
API, so any :class:`concurrent.futures.Executor` can run it: the default is a
local process pool, a Dask cluster through
``distributed.Client(...).get_executor()``. Errors are collected per image
and returned as :class:`ItemResult` objects; nothing here prints. Inputs and
outputs may be paths or fsspec URLs (:mod:`kmseg.batch.storage`); the outcome of
every input goes to ``kmseg-manifest.jsonl`` in the output folder
(:mod:`kmseg.batch.manifest`), written by this process only.

Examples
--------
>>> from kmseg.batch import segment_many
>>> results = segment_many(["photos/"], "out/", 8, jobs=2)  # doctest: +SKIP
>>> [(r.source, r.status, r.reason) for r in results]        # doctest: +SKIP
"""

from __future__ import annotations

import glob
import os
import re
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_NAME",
    "BatchInterrupted",
    "InputFile",
    "ItemJob",
    "ItemResult",
    "OutputPlan",
    "SegmentParams",
    "default_jobs",
    "find_images",
    "image_extensions",
    "plan_jobs",
    "process_item",
    "run_jobs",
    "run_jobs_inline",
    "segment_many",
]

#: Default output name pattern; ``{ext}`` is the extension of the output format.
DEFAULT_NAME = "{stem}-k{k}.{ext}"
_FORMAT_EXT = {"png": "png", "jpeg": "jpg", "webp": "webp", "svg": "svg"}
_GLOB_CHARS = frozenset("*?[")
#: :attr:`ItemResult.failure` values: the input's fault (skipped on a re-run unless failures are
#: retried) or the environment's (disk full, permissions, I/O, a lost worker: retried on every re-run).
INPUT, ENVIRONMENT = "input", "environment"

ProgressCallback = Callable[["ItemResult", int, int], None]


@dataclass(frozen=True)
class SegmentParams:
    """The clustering parameters of :func:`kmseg.segment`, shared by a batch.

    The defaults and ranges are those of :mod:`kmseg.options` (a test holds
    them equal); :func:`validate_params` checks them by the table.
    ``fit_size`` None means the table's default.
    """

    k: int | str | None
    max_iter: int = 300
    tol: float = 1e-4
    n_init: int | None = None
    seed: int | None = None
    color_space: str = "rgb"
    max_pixels: int | None = None
    spatial_weight: float = 0.0
    fit_size: int | None = 256
    min_region: int = 0
    target_psnr: float | None = None
    dither: bool = False
    palette: tuple[tuple[int, int, int], ...] | str | None = None
    """Palette transfer: colours (a tuple of RGB tuples) or the path of an image to fit them on."""

    def as_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`kmseg.segment` (everything but ``k``).

        The feature options are passed only when set, so a plain run calls
        :func:`kmseg.segment` exactly as before.
        """
        out: dict[str, Any] = {
            "max_iter": self.max_iter,
            "tol": self.tol,
            "n_init": self.n_init,
            "seed": self.seed,
            "color_space": self.color_space,
            "max_pixels": self.max_pixels,
        }
        if self.spatial_weight:
            out["spatial_weight"] = self.spatial_weight
        if self.fit_size is not None:
            out["fit_size"] = self.fit_size
        if self.min_region:
            out["min_region"] = self.min_region
        if self.target_psnr is not None:
            out["target_psnr"] = self.target_psnr
        if self.dither:
            out["dither"] = True
        if self.palette is not None:
            out["palette"] = [list(c) for c in self.palette] if isinstance(self.palette, tuple) else self.palette
        return out

    @property
    def name_k(self) -> int | str:
        """K as it appears in output names: the number, ``auto``, or the number of given colours."""
        if self.k is None:
            return len(self.palette) if isinstance(self.palette, tuple) else 0
        return self.k

    @property
    def mask_k(self) -> int:
        """The most clusters a run can give (sets the masks' names and the paths checked)."""
        if isinstance(self.k, int):
            return self.k
        if self.k is None:
            return max(len(self.palette), 1) if isinstance(self.palette, tuple) else 256
        return 16 if self.target_psnr is None else 256


@dataclass(frozen=True)
class InputFile:
    """An image file to segment and the sub-folder its outputs go to.

    ``subdir`` is the file's folder relative to the directory argument it was
    found in (``""`` for files named directly or matched by a pattern), so a
    recursive run mirrors the input tree in the output folder.
    """

    path: str
    subdir: str = ""


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
        :meth:`kmseg.Segmentation.summary` figures when done.
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
            out.update({k: _json_safe(v) for k, v in self.summary.items()})
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


# --------------------------------------------------------------------- finding


def image_extensions() -> frozenset[str]:
    """File extensions (lower case, with dot) of the formats kmseg opens."""
    from PIL import Image

    import kmseg

    Image.init()
    wanted = set(kmseg.INPUT_FORMATS)
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in wanted)


def find_images(
    inputs: Iterable[str | os.PathLike[str]], *, recursive: bool = False
) -> tuple[list[InputFile], list[ItemResult]]:
    """Expand files, directories and glob patterns into image files.

    Files named directly or matched by a pattern are always tried, whatever
    their extension; inside a directory only files with an image extension
    are taken (hidden files are ignored), with sub-directories when
    ``recursive``.

    Returns
    -------
    files : list of InputFile
        In argument order, each path once.
    missing : list of ItemResult
        A failed result for every argument that matched nothing.
    """
    exts: frozenset[str] | None = None
    files: list[InputFile] = []
    missing: list[ItemResult] = []
    seen: set[str] = set()

    def add(path: str, subdir: str = "") -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(InputFile(path, subdir))

    from kmseg.batch import storage

    for raw in inputs:
        arg = storage.localize(raw)
        if storage.is_url(arg):
            if exts is None:
                exts = image_extensions()
            kind, found = storage.listing(arg, exts, recursive)
            if not found:
                missing.append(ItemResult(arg, "failed", {
                    "dir": "no images in this directory", "glob": "pattern matches no files"}.get(
                        kind, "no such file or directory")))
            for url, subdir in found:
                if url not in seen:
                    seen.add(url)
                    files.append(InputFile(url, subdir))
        elif os.path.isdir(arg):
            if exts is None:
                exts = image_extensions()
            found, special = _scan_dir(arg, exts, recursive)
            missing += special
            if not found and not special:
                missing.append(ItemResult(arg, "failed", "no images in this directory"
                                          + ("" if recursive else " (use --recursive for sub-folders)")))
            for path, subdir in found:
                add(path, subdir)
        elif os.path.exists(arg) or os.path.islink(arg):
            reason = not_regular_reason(arg)
            if reason:
                missing.append(ItemResult(arg, "failed", reason, failure="input"))
            else:
                add(arg)
        elif _GLOB_CHARS & set(arg):
            matches = [m for m in sorted(glob.glob(arg, recursive=recursive)) if not os.path.isdir(m)]
            if not matches:
                missing.append(ItemResult(arg, "failed", "pattern matches no files"))
            for m in matches:
                reason = not_regular_reason(m)
                if reason:
                    missing.append(ItemResult(m, "failed", reason, failure="input"))
                else:
                    add(m)
        else:
            missing.append(ItemResult(arg, "failed", "no such file or directory"))
    return files, missing


def not_regular_reason(path: str) -> str | None:
    """Why ``path`` is not read (a named pipe, socket or device), or None.

    Only regular files are read: a named pipe would block the reader for
    ever, a device could be read without end. A path that cannot be looked
    at (a dangling link) is left for the reader to report.
    """
    from kmseg.io import special_file_kind

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    kind = special_file_kind(mode)
    return f"a {kind}, not a regular file; skipped" if kind else None


def _scan_dir(root: str, exts: frozenset[str], recursive: bool) -> tuple[list[tuple[str, str]], list[ItemResult]]:
    """Image files under ``root`` and a failed result for each special file with an image name."""
    found: list[tuple[str, str]] = []
    special: list[ItemResult] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recursive else []
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in exts:
                continue
            path = os.path.join(dirpath, name)
            reason = not_regular_reason(path)
            if reason:
                special.append(ItemResult(path, "failed", reason, failure="input"))
            else:
                found.append((path, "" if rel == "." else rel))
    return found, special


# -------------------------------------------------------------------- planning


def output_format(name: str, format: str | None) -> str:
    """The output format: ``format`` if given, else from the name's extension."""
    import kmseg

    if format is not None:
        return kmseg.normalize_format(format)
    suffix = os.path.splitext(name)[1]
    if not suffix:
        raise kmseg.InvalidParameterError(
            f"cannot tell the image format from {name!r}: end it with .png, .jpg, .webp or .svg, "
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
    masks ``{stem}-k{k}-mask-<i>.png``, drawings ``{stem}-k{k}.svg`` and
    paint-by-number sheets ``{stem}-k{k}-paint.svg`` (``.png`` when
    ``paint_dpi`` is given) in their own folders. Inputs that
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
    import kmseg
    from kmseg import options
    from kmseg.batch.storage import localize

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
    import kmseg

    p = Path(f.path)
    fields = {"stem": p.stem, "name": p.name, "k": k, "ext": _FORMAT_EXT[fmt or "png"]}
    filename = output_name(name, fields)
    base = f"{p.stem}-k{k}"
    return OutputPlan(
        image=os.path.join(output_dir, f.subdir, filename),
        format=output_format(filename, fmt),
        quality=quality,
        labels=os.path.join(labels_dir, f.subdir, f"{base}-labels.png") if labels_dir else None,
        palette=os.path.join(palette_dir, f.subdir, f"{base}-palette.{pal_fmt}") if palette_dir else None,
        palette_format=pal_fmt if palette_dir else None,
        masks=os.path.join(masks_dir, f.subdir, f"{base}-mask-") if masks_dir else None,
        boundaries=os.path.join(boundaries_dir, f.subdir, f"{base}-boundaries.png") if boundaries_dir else None,
        svg=os.path.join(svg_dir, f.subdir, f"{base}.svg") if svg_dir else None,
        svg_tolerance=svg_tolerance,
        paint=(os.path.join(paint_dir, f.subdir, f"{base}-paint.{'png' if paint_dpi else 'svg'}")
               if paint_dir else None),
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

    import kmseg

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
    import kmseg

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
    from kmseg.batch.storage import is_url

    return path if is_url(path) else os.path.realpath(path)


def outputs_exist(job: ItemJob) -> bool:
    """Whether every requested output of ``job`` is already there (paths or URLs)."""
    from kmseg.batch.storage import exists

    return all(exists(p) for p in job.plan.paths(job.params.mask_k))


# --------------------------------------------------------------------- working


def process_item(job: ItemJob) -> ItemResult:
    """Load, segment and save one image; never raises for a bad image.

    Outputs are written atomically, extras first, the masks from the last
    cluster to the first and the segmented image last, so that a run stopped
    half-way leaves no partial file and an image counts as finished exactly
    when all its outputs exist.
    """
    import kmseg

    start = time.perf_counter()
    try:
        from kmseg.batch import storage

        source: Any = storage.read_bytes(job.source) if storage.is_url(job.source) else job.source
        original = None
        if job.plan.boundaries:  # the overlay is drawn on the loaded original
            original = kmseg.load_image(source, max_pixels=job.params.max_pixels)
            source = original
        seg = kmseg.segment(source, job.params.k, **job.params.as_kwargs())
        outputs = _write_outputs(seg, job, original)
        summary = seg.summary() if job.figures else _cheap_summary(seg)
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


def _sweep_temporaries(jobs: Sequence[ItemJob], manifest: Any = None) -> None:
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
    from kmseg.batch.storage import is_url

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


def _write_outputs(seg: Any, job: ItemJob, original: Any = None) -> dict[str, Any]:
    import kmseg

    from kmseg.batch.storage import is_url

    plan = job.plan
    if any(p and is_url(p) for p in (plan.labels, plan.palette, plan.image, plan.masks, plan.boundaries, plan.svg,
                                     plan.paint)):
        return _write_outputs_as_bytes(seg, job, original)
    outputs: dict[str, Any] = {}
    for path in (plan.labels, plan.palette, plan.image, plan.masks, plan.boundaries, plan.svg, plan.paint):
        if path:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if plan.labels:
        outputs["labels"] = os.fspath(seg.save_labels(plan.labels))
    if plan.palette:
        data = kmseg.palette_bytes(seg.palette, seg.counts, plan.palette_format)
        outputs["palette"] = os.fspath(kmseg.atomic_write(plan.palette, data))
    if plan.boundaries:
        outputs["boundaries"] = os.fspath(kmseg.atomic_write(plan.boundaries, _boundaries_png(seg, original)))
    if plan.svg:
        outputs["svg"] = os.fspath(kmseg.atomic_write(plan.svg, _svg_bytes(seg, plan)))
    if plan.paint:
        outputs["paint"] = os.fspath(kmseg.atomic_write(plan.paint, _paint_bytes(seg, plan)))
    if plan.masks:
        masks = [plan.mask_path(i, job.params.mask_k) for i in range(seg.k)]
        for i in reversed(range(seg.k)):
            kmseg.atomic_write(masks[i], _mask_png(seg, i))
        outputs["masks"] = masks
    if plan.image:
        outputs["image"] = os.fspath(seg.save(plan.image, format=plan.format, quality=plan.quality,
                                              **_svg_options(plan)))
    order = ("image", "labels", "palette", "boundaries", "svg", "paint", "masks")
    return {key: outputs[key] for key in order if key in outputs}


def _write_outputs_as_bytes(seg: Any, job: ItemJob, original: Any = None) -> dict[str, Any]:
    """:func:`_write_outputs` for fsspec URLs: each output encoded, then written in one piece."""
    import kmseg
    from kmseg.batch.storage import write_bytes

    plan = job.plan
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
        masks = [plan.mask_path(i, job.params.mask_k) for i in range(seg.k)]
        for i in reversed(range(seg.k)):
            write_bytes(masks[i], _mask_png(seg, i))
        outputs["masks"] = masks
    if plan.image:
        outputs["image"] = write_bytes(plan.image, seg.to_bytes(plan.format or "png", plan.quality,
                                                                **_svg_options(plan)))
    order = ("image", "labels", "palette", "boundaries", "svg", "paint", "masks")
    return {key: outputs[key] for key in order if key in outputs}


def _boundaries_png(seg: Any, original: Any) -> bytes:
    """PNG of the segment edges drawn on the original image."""
    import io

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
    import io

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in seg.metadata().items():
        info.add_text(key, value)
    info.add_text("kmseg-mask", str(i))
    buf = io.BytesIO()
    Image.fromarray(seg.mask(i)).convert("1").save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _cheap_summary(seg: Any) -> dict[str, Any]:
    """The figures of :meth:`Segmentation.summary` that cost next to nothing (no ΔE)."""
    psnr = float(seg.psnr)
    return {
        "k_requested": seg.k_requested, "k": seg.k, "width": seg.width, "height": seg.height,
        "color_space": seg.color_space, "seed": seg.seed, "inertia": float(seg.inertia),
        "psnr": None if psnr == float("inf") else round(psnr, 4),
        "n_iter": seg.n_iter, "converged": bool(seg.converged), "seconds": round(seg.seconds, 4),
        **({"regions": seg.regions, "regions_before": seg.regions_before} if seg.regions is not None else {}),
    }


def _os_reason(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename}" if exc.filename else what


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _init_worker() -> None:
    """Pool initializer: the parent handles Ctrl-C and lets running items finish;
    SIGTERM stops the item with SystemExit, so atomic writes remove their
    temporary file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------- running


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _split_skipped(
    jobs: Sequence[ItemJob], overwrite: bool, record: _Recorder, retry_failed: bool = False
) -> list[int]:
    """Record the jobs that need no work as skipped; return the others' indices.

    Without ``overwrite`` a job is skipped when the manifest says it is done
    (and its outputs are there), when the manifest says it failed because of
    the input (unless ``retry_failed``; a failure of the environment is
    always tried again), or when all its outputs exist.
    """
    manifest = record.manifest
    todo: list[int] = []
    for i, job in enumerate(jobs):
        row = manifest.get(job.source, job.plan.image) if manifest is not None and not overwrite else None
        if (row is not None and row.get("status") == "failed" and not retry_failed
                and row.get("failure") != ENVIRONMENT):  # the disk's fault, say: always tried again
            reason = f"failed in an earlier run ({row.get('reason')}); use --retry-failed to try again"
            record(i, ItemResult(job.source, "skipped", reason, failure=INPUT), row=None)
        elif not overwrite and outputs_exist(job):
            plan = job.plan
            found: dict[str, Any] = {key: path for key, path in
                                     (("image", plan.image), ("labels", plan.labels), ("palette", plan.palette),
                                      ("boundaries", plan.boundaries), ("svg", plan.svg),
                                      ("paint", plan.paint))
                                     if path}
            if row is not None and row.get("status") in ("done", "skipped"):
                reason = "done in an earlier run (see the manifest; use --overwrite to redo)"
                new_row = {**row, "status": "skipped", "reason": reason}
            else:
                # No row (e.g. interrupted between the write and the manifest line): record one now.
                reason, new_row = "outputs exist (use --overwrite to redo)", ...
            record(i, ItemResult(job.source, "skipped", reason, row.get("outputs", found) if row else found),
                   row=new_row)
        else:
            todo.append(i)
    return todo


class _Recorder:
    """Keeps the results in job order, calls ``progress`` and writes the manifest rows."""

    def __init__(self, jobs: Sequence[ItemJob], progress: ProgressCallback | None, manifest: Any = None):
        self.jobs = jobs
        self.results: list[ItemResult | None] = [None] * len(jobs)
        self.finished = 0
        self.progress = progress
        self.manifest = manifest

    def __call__(self, i: int, result: ItemResult, row: Any = ...) -> None:
        """Record ``result`` of job ``i``; ``row`` is the manifest row to write
        (default: made from the result; None: write nothing)."""
        self.results[i] = result
        self.finished += 1
        if self.manifest is not None and result.status != "cancelled":
            if row is ...:
                from kmseg.batch.manifest import manifest_row

                row = manifest_row(result, self.jobs[i].plan.image)
            if row is not None:
                self.manifest.append(row)
        if self.progress is not None:
            self.progress(result, self.finished, len(self.results))

    def final(self, jobs: Sequence[ItemJob]) -> list[ItemResult]:
        return [r if r is not None else ItemResult(jobs[i].source, "cancelled", "not started (interrupted)")
                for i, r in enumerate(self.results)]


def run_jobs_inline(
    jobs: Sequence[ItemJob], *, overwrite: bool = False, progress: ProgressCallback | None = None,
    manifest: Any = None, retry_failed: bool = False,
) -> list[ItemResult]:
    """Run ``jobs`` one after the other in this process: no pool start-up.

    Same contract as :func:`run_jobs`; the quickest way for one image.
    """
    record = _Recorder(jobs, progress, manifest)
    _sweep_temporaries(jobs, manifest)
    todo = _split_skipped(jobs, overwrite, record, retry_failed)
    try:
        for i in todo:
            record(i, process_item(jobs[i]))
    except KeyboardInterrupt:
        _sweep_temporaries([jobs[i] for i in todo])
        raise BatchInterrupted(record.final(jobs)) from None
    return record.final(jobs)


def run_jobs(
    jobs: Sequence[ItemJob],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_in_flight: int | None = None,
    manifest: Any = None,
    retry_failed: bool = False,
) -> list[ItemResult]:
    """Run ``jobs`` and return one result per job, in order.

    Jobs whose outputs all exist are skipped unless ``overwrite``. Without an
    ``executor`` a process pool of ``workers`` (default: one per core) runs
    them, each worker on one core (its BLAS/OpenMP thread pools set to one
    thread, unless the environment already says otherwise), so ``workers``
    is the number of cores used. The workers ignore SIGINT: on Ctrl-C the
    running images finish (atomic writes: never a half-written file), the
    others are cancelled and :class:`BatchInterrupted` is raised with the
    results.

    Parameters
    ----------
    progress : callable, optional
        Called in this process as ``progress(result, finished, total)``
        after every image, skipped ones included.
    max_in_flight : int, optional
        Most jobs submitted at once (default: twice the workers for the
        local pool, all of them for a given executor).
    manifest : kmseg.batch.manifest.Manifest, optional
        Rows are appended to it (in this process only) as images finish;
        inputs it records as done are skipped, and those it records as
        failed too unless ``retry_failed``. The caller closes it.
    retry_failed : bool
        Run again the inputs the manifest records as failed.
    """
    record = _Recorder(jobs, progress, manifest)
    _sweep_temporaries(jobs, manifest)
    todo = _split_skipped(jobs, overwrite, record, retry_failed)
    if not todo:
        return record.final(jobs)
    own = executor is None
    if own:
        workers = max(1, min(workers or default_jobs(), len(todo)))
        window = max_in_flight or 2 * workers
    else:
        window = max_in_flight or len(todo)
    pending: dict[Future[ItemResult], int] = {}
    queue = iter(todo)
    interrupted = False
    try:
        try:
            if own:
                executor = _start_pool(workers, jobs, queue, pending, window)
            else:
                _fill(executor, jobs, queue, pending, window)
            assert executor is not None
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    record(i, _result_of(fut, jobs[i]))
                _fill(executor, jobs, queue, pending, window)
        except KeyboardInterrupt:
            interrupted = True
            _drain(pending, jobs, record)
            raise BatchInterrupted(record.final(jobs)) from None
    finally:
        if own and executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if own or not interrupted:  # nothing of this run is writing any more (a given executor's
            _sweep_temporaries([jobs[i] for i in todo])  # interrupted tasks may still be)
    return record.final(jobs)


#: Thread-pool sizes of BLAS and OpenMP libraries (read when NumPy is imported) and kmseg's own.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "KMSEG_THREADS")


def _start_pool(workers: int, jobs: Sequence[ItemJob], queue: Any, pending: dict, window: int) -> Executor:
    """A process pool of fresh ("spawn") single-threaded workers, with its first jobs.

    The workers are started, by the first submissions, while the thread
    variables are set to 1 in the environment they inherit; the parent's own
    environment is restored right after.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    saved = {name: os.environ.get(name) for name in _THREAD_VARS}
    # Workers are born ignoring SIGINT (Python keeps an inherited SIG_IGN), so
    # a Ctrl-C that reaches them while they start up cannot print a traceback
    # before their initializer runs. Only the main thread may set handlers.
    main = threading.current_thread() is threading.main_thread()
    old_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for name in _THREAD_VARS:
            os.environ.setdefault(name, "1")
        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker)
        _fill(executor, jobs, queue, pending, window)
    finally:
        if main:
            signal.signal(signal.SIGINT, old_sigint)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return executor


def _fill(executor: Executor, jobs: Sequence[ItemJob], queue: Any, pending: dict, window: int) -> None:
    while len(pending) < window:
        i = next(queue, None)
        if i is None:
            return
        pending[executor.submit(process_item, jobs[i])] = i


def _result_of(fut: Future[ItemResult], job: ItemJob) -> ItemResult:
    try:
        return fut.result()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the worker died, was terminated, or could not be reached
        from concurrent.futures.process import BrokenProcessPool

        if isinstance(exc, SystemExit):
            return ItemResult(job.source, "cancelled", "stopped while running (the worker was terminated)")
        if isinstance(exc, BrokenProcessPool):
            reason = "the worker process died (out of memory?); try fewer --jobs or a smaller --max-pixels"
        else:
            reason = f"worker error: {type(exc).__name__}: {exc}"
        return ItemResult(job.source, "failed", reason, detail="".join(traceback.format_exception(exc)),
                          failure=ENVIRONMENT)


def _drain(pending: dict, jobs: Sequence[ItemJob], record: Callable[[int, ItemResult], None]) -> None:
    """After Ctrl-C: cancel what has not started, let running items finish.

    A second Ctrl-C stops waiting; temporary files of unfinished writes are
    then removed by the interrupted workers' atomic writes where possible.
    """
    for fut in list(pending):
        if fut.cancel():
            pending.pop(fut)
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                record(i, _result_of(fut, jobs[i]))
    except KeyboardInterrupt:
        for fut, i in pending.items():
            fut.cancel()
            record(i, ItemResult(jobs[i].source, "cancelled", "interrupted while running"))
        pending.clear()


# ------------------------------------------------------------------ one call


def segment_many(
    inputs: Iterable[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    k: int | str | None,
    *,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int | None = None,
    seed: int | None = None,
    color_space: str = "rgb",
    max_pixels: int | None = None,
    spatial_weight: float = 0.0,
    fit_size: int = 256,
    min_region: int = 0,
    target_psnr: float | None = None,
    dither: bool = False,
    palette: Any = None,
    name: str = DEFAULT_NAME,
    format: str | None = None,
    quality: int | None = None,
    labels_dir: str | os.PathLike[str] | None = None,
    palette_dir: str | os.PathLike[str] | None = None,
    palette_format: str = "json",
    masks_dir: str | os.PathLike[str] | None = None,
    recursive: bool = False,
    overwrite: bool = False,
    jobs: int | None = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    manifest: bool = True,
    retry_failed: bool = False,
) -> list[ItemResult]:
    """Segment many images into ``output_dir``, one result per input.

    Parameters
    ----------
    inputs : iterable of path
        Image files, directories (their images; sub-folders too when
        ``recursive``, mirrored in ``output_dir``) and glob patterns.
    output_dir : path
        Folder of the segmented images, created if missing.
    k, max_iter, tol, n_init, seed, color_space, max_pixels, spatial_weight, fit_size, min_region, target_psnr, dither
        As in :func:`kmseg.segment`, the same for every image (ranges and
        defaults: :mod:`kmseg.options`).
    palette : (n, 3) colours, palette file path or image path, optional
        As in :func:`kmseg.segment`: a palette file is read once, an image
        is segmented with ``k`` in every worker.
    name : str
        Output file name pattern; fields ``{stem}``, ``{name}``, ``{k}`` and
        ``{ext}`` (extension of ``format``, png by default).
    format, quality : optional
        Output format (png, jpeg, webp; default from the name) and the
        quality of lossy output, 1 to 100.
    labels_dir, palette_dir, masks_dir : path, optional
        Folders for label maps, palettes (in ``palette_format``) and masks.
    overwrite : bool
        Redo images whose outputs all exist (by default they are skipped).
    jobs : int, optional
        Worker processes of the default pool (default: one per core).
    executor : concurrent.futures.Executor, optional
        Runs :func:`process_item` calls instead of the default pool, for
        example a Dask cluster's ``distributed.Client(...).get_executor()``.
    progress : callable, optional
        ``progress(result, finished, total)`` after every image.
    manifest : bool
        Keep ``kmseg-manifest.jsonl`` in ``output_dir`` (see
        :mod:`kmseg.batch.manifest`): a re-run skips the inputs it records as done
        or failed.
    retry_failed : bool
        Run again the inputs the manifest records as failed.

    Returns
    -------
    list of ItemResult
        Inputs that matched nothing or clash with another output come first
        as failed results, then one result per image in input order.

    Raises
    ------
    kmseg.InvalidParameterError
        A bad parameter, name pattern or format; nothing was run.
    BatchInterrupted
        Ctrl-C; carries the results so far.
    """
    from kmseg import options

    params = validate_params(SegmentParams(
        k, max_iter, tol, n_init, seed, color_space, max_pixels, spatial_weight=spatial_weight,
        fit_size=fit_size, min_region=min_region, target_psnr=target_psnr, dither=dither,
        palette=_palette_param(palette)))
    quality = options.validate("quality", quality)
    jobs = options.validate("jobs", jobs)
    format = options.validate("format", format)
    palette_format = options.validate("palette_format", palette_format)
    files, missing = find_images(inputs, recursive=recursive)
    planned, conflicts = plan_jobs(
        files, output_dir, params, name=name, format=format, quality=quality,
        labels_dir=labels_dir, palette_dir=palette_dir, palette_format=palette_format,
        masks_dir=masks_dir)
    book = None
    if manifest:
        from kmseg.batch.manifest import Manifest, manifest_row

        from kmseg.batch.storage import localize

        book = Manifest.in_folder(localize(output_dir))
    try:
        for failed in missing + conflicts:
            if book is not None:
                book.append(manifest_row(failed, None))
        results = run_jobs(planned, executor=executor, workers=jobs, overwrite=overwrite, progress=progress,
                           manifest=book, retry_failed=retry_failed)
    finally:
        if book is not None:
            book.close()
    return missing + conflicts + results


def validate_params(params: SegmentParams) -> SegmentParams:
    """Check the clustering parameters once, before any image is opened, by
    the option table (:mod:`kmseg.options`) and as :func:`kmseg.segment`
    checks them together.

    Raises
    ------
    kmseg.InvalidParameterError
        With ``.param`` naming the bad parameter.
    """
    import kmseg
    from kmseg import options

    checked = {name: options.validate(name, getattr(params, name))
               for name in ("k", "max_iter", "tol", "n_init", "seed", "color_space", "max_pixels",
                            "spatial_weight", "min_region", "target_psnr", "dither")}
    checked["fit_size"] = None if params.fit_size is None else options.validate("fit_size", params.fit_size)
    k, given = checked["k"], isinstance(params.palette, tuple)
    if k is None and not given:
        raise kmseg.InvalidParameterError(
            f"k must be {options.get('k').describe()} (it may be omitted only with a palette file)", param="k")
    if k == "auto" and params.palette is not None:
        raise kmseg.InvalidParameterError("k must be a whole number with a palette", param="k")
    if checked["target_psnr"] is not None and k != "auto":
        raise kmseg.InvalidParameterError("target_psnr is used only with k='auto'", param="target_psnr")
    if checked["spatial_weight"] > 0 and (k == "auto" or params.palette is not None):
        raise kmseg.InvalidParameterError(
            "spatial_weight above 0 needs a whole-number k (not 'auto', and not with palette)",
            param="spatial_weight")
    return replace(params, **checked)


def _palette_param(palette: Any) -> tuple[tuple[int, int, int], ...] | str | None:
    """:class:`SegmentParams`' palette from what a caller gives: the colours
    of an array or a palette file (read once, here), or an image's absolute
    path (segmented in every worker)."""
    if palette is None:
        return None
    from kmseg import features

    if isinstance(palette, (str, os.PathLike)) and not features.is_palette_source(palette):
        return os.path.abspath(os.fspath(palette))
    colours = features.palette_colors(palette)
    return tuple(tuple(int(v) for v in c) for c in colours.tolist())
