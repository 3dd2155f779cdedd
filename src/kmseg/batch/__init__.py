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

One job a module: finding the inputs (``_find``), the shared parameters
(``_params``), planning the outputs (``_plan``), one image's work in a worker
(``_work``) and the writing of its outputs (``_write``), running the jobs
(``_run``), and :func:`segment_many` doing it all in one call (``_many``). The
names are imported from here.

Examples
--------
>>> from kmseg.batch import segment_many
>>> results = segment_many(["photos/"], "out/", 8, jobs=2)  # doctest: +SKIP
>>> [(r.source, r.status, r.reason) for r in results]        # doctest: +SKIP
"""

from kmseg.batch._find import InputFile, find_images, image_extensions, not_regular_reason
from kmseg.batch._many import segment_many
from kmseg.batch._params import SEGMENT_OPTIONS, SegmentParams, validate_params
from kmseg.batch._plan import (
    DEFAULT_NAME,
    NAME_FIELDS,
    OutputPlan,
    check_job,
    check_name_pattern,
    output_format,
    output_image_path,
    output_name,
    outputs_exist,
    plan_jobs,
    plan_outputs,
)
from kmseg.batch._results import ENVIRONMENT, INPUT, BatchInterrupted, ItemJob, ItemResult, ProgressCallback
from kmseg.batch._run import default_jobs, run_jobs, run_jobs_inline
from kmseg.batch._work import process_item
from kmseg.batch._write import write_outputs

__all__ = [
    "DEFAULT_NAME",
    "ENVIRONMENT",
    "INPUT",
    "NAME_FIELDS",
    "SEGMENT_OPTIONS",
    "BatchInterrupted",
    "InputFile",
    "ItemJob",
    "ItemResult",
    "OutputPlan",
    "ProgressCallback",
    "SegmentParams",
    "check_job",
    "check_name_pattern",
    "default_jobs",
    "find_images",
    "image_extensions",
    "not_regular_reason",
    "output_format",
    "output_image_path",
    "output_name",
    "outputs_exist",
    "plan_jobs",
    "plan_outputs",
    "process_item",
    "run_jobs",
    "run_jobs_inline",
    "segment_many",
    "validate_params",
    "write_outputs",
]
