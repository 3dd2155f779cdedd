"""segment_many(): find, plan and run a batch in one call."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from kmseg import options
from kmseg.batch import storage
from kmseg.batch._find import find_images
from kmseg.batch._params import SEGMENT_OPTIONS, SegmentParams, palette_param, validate_params
from kmseg.batch._plan import plan_jobs
from kmseg.batch._results import ItemResult, ProgressCallback
from kmseg.batch._run import run_jobs

__all__ = ["PLAN_OPTIONS", "TABLE_OPTIONS", "segment_many"]

#: The options of :mod:`kmseg.options` that :func:`segment_many` takes as keywords (besides ``k``): the
#: clustering options of :class:`SegmentParams`, the output format and quality, the palette files'
#: format and the number of worker processes. Its signature shows them with the table's defaults.
TABLE_OPTIONS: tuple[str, ...] = tuple(o.name for o in options.for_face("batch") if o.name != "k")
#: The keywords of :func:`plan_jobs` that :func:`segment_many` passes on to it (the output names and folders).
PLAN_OPTIONS: tuple[str, ...] = tuple(
    p.name for p in inspect.signature(plan_jobs).parameters.values()
    if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in TABLE_OPTIONS)


def segment_many(
    inputs: Iterable[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    k: int | str | None,
    *,
    recursive: bool = False,
    overwrite: bool = False,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    manifest: bool = True,
    retry_failed: bool = False,
    **options_and_outputs: Any,
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
    format, quality, palette_format : optional
        Output format (png, jpeg, webp; default from the name), the
        quality of lossy output, 1 to 100, and the palette files' format.
    name, labels_dir, palette_dir, masks_dir, boundaries_dir, svg_dir, svg_tolerance, figures : optional
        As in :func:`plan_jobs`: the output name pattern (fields
        ``{stem}``, ``{name}``, ``{k}``, ``{ext}``) and the folders of the
        other outputs.
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
    unknown = sorted(set(options_and_outputs) - set(TABLE_OPTIONS) - set(PLAN_OPTIONS))
    if unknown:
        raise TypeError(f"segment_many() got an unexpected keyword argument {unknown[0]!r}")
    table = {name: options_and_outputs.get(name, options.get(name).default_for("batch")) for name in TABLE_OPTIONS}
    params = validate_params(SegmentParams(k, **{name: table[name] for name in SEGMENT_OPTIONS[1:]
                                                 if name != "palette"}, palette=palette_param(table["palette"])))
    outputs = {name: options.validate(name, table[name]) for name in ("format", "quality", "palette_format")}
    jobs = options.validate("jobs", table["jobs"])
    plan = {name: value for name, value in options_and_outputs.items() if name in PLAN_OPTIONS}
    files, missing = find_images(inputs, recursive=recursive)
    planned, conflicts = plan_jobs(files, output_dir, params, **outputs, **plan)
    book = None
    if manifest:
        from kmseg.batch.manifest import Manifest, manifest_row

        book = Manifest.in_folder(storage.localize(output_dir))
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


def _signature() -> inspect.Signature:
    """segment_many's signature with the table's options and plan_jobs' keywords in place of
    ``**options_and_outputs``."""
    sig = inspect.signature(segment_many)
    fixed = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    table = []
    for name in TABLE_OPTIONS:
        option = options.get(name)
        kind = "Any" if option.type is object else option.type.__name__
        table.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option.default_for("batch"),
                                       annotation=f"{kind} | None" if option.nullable else kind))
    plan = [inspect.signature(plan_jobs).parameters[name] for name in PLAN_OPTIONS]
    return sig.replace(parameters=fixed[:3] + table + plan + fixed[3:])


segment_many.__signature__ = _signature()  # type: ignore[attr-defined]
