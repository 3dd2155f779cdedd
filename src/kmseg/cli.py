"""The ``kmseg`` command line: ``segment``, ``info``, ``serve`` and ``app``.

A thin face over the library: argument parsing and messages live here, the
work is done by :mod:`kmseg` and :mod:`kmseg.batch`. NumPy, Pillow and the
web frameworks are imported only inside the subcommand that needs them, so
``kmseg --help`` stays quick.

Exit status: 0 success, 1 some inputs failed, 2 usage error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from kmseg import options
from kmseg.errors import InvalidParameterError, printable
from kmseg.limits import DEFAULT_LIMITS
from kmseg import __version__

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg")
_PALETTE_EXTS = (".json", ".gpl", ".css", ".txt", ".ase")

MAIN_EPILOG = """\
examples:
  kmseg segment photo.jpg -k 8                  writes photo-k8.png here
  kmseg segment photo.jpg -k 8 -o poster.png --palette poster.gpl
  kmseg segment photos/ -k 16 -o out/ --jobs 4  every image of a folder
  kmseg info poster.png                         how poster.png was made

Run 'kmseg COMMAND --help' for the options of a command.
"""

SEGMENT_EPILOG = """\
examples:
  kmseg segment photo.jpg -k 8
      writes photo-k8.png (an indexed PNG with 8 colours) in this folder
  kmseg segment photo.jpg -k 8 -o flat.webp --quality 90 --seed 1
  kmseg segment photo.jpg -k 6 -o flat.png --labels labels.png \\
      --palette colours.gpl --masks masks/ --json
  kmseg segment photos/ -r -k 16 -o out/ --jobs 4
      every image under photos/ (sub-folders mirrored in out/)
  kmseg segment 'shots/*.jpg' -k 4 -o out/ --name '{stem}.png' --palette out/
      palettes as out/<stem>-k4-palette.json
  kmseg segment photo.jpg -k auto --target-psnr 30 --json
      the smallest K reaching 30 dB; --json shows it and the K tried (k_curve)
  kmseg segment photo.jpg -k 8 --min-region 100 --boundaries edges.png
      small specks merged into their neighbours, edges drawn on the photo
  kmseg segment photo.jpg --palette-from colours.gpl --dither
      the colours of a palette file (or -k K colours of another image), dithered
  kmseg segment photo.jpg -k 12 --min-region 200 --svg drawing.svg
      the regions as vector shapes (one path each, grouped by colour)
  kmseg segment photo.jpg -k 12 --min-region 400 --paint-by-number sheet.png
      a paint-by-number sheet: outlines, numbers, a legend of colours (300 dpi)

outputs:
  With one input file, -o is the output file (format from its extension or
  --format). With several inputs, a folder or a pattern, -o is a folder
  (created if missing) and --name sets the file names: fields {stem},
  {name}, {k} and {ext}. --labels, --palette, --svg and --paint-by-number are
  then folders too, and --palette-format chooses the palette format. Masks
  are always written into a folder as <stem>-k<K>-mask-<i>.png, one
  black/white PNG per cluster.
  Every PNG records the kmseg version, parameters and seed: see 'kmseg info'.

  Images whose outputs all exist are skipped, so re-running a command that
  was interrupted resumes it; --overwrite redoes them. With several inputs,
  kmseg-manifest.jsonl in the output folder gets one line per input (status
  done/skipped/failed, reason, K, inertia, iterations, seconds, outputs); a
  re-run skips what it records as done, and the inputs that failed on their
  own (corrupt, unsupported, too large) unless --retry-failed; failures of
  the machine (disk full, permissions, I/O, a lost worker) are tried again.
  The summary says how many inputs are still without outputs, and why.
  Only regular files are read: named pipes, sockets and devices are
  reported and skipped. --name takes the fields {stem}, {name}, {k}, {ext}
  (a format spec such as {k:03d} is allowed) and must stay inside -o.

many machines:
  kmseg segment photos/ -k 8 -o /shared/out --dask tcp://scheduler:8786
  kmseg segment photos/ -k 8 -o out/ --dask local --jobs 4
      the same batch on a Dask cluster (pip install 'kmseg[dask]'); the
      dashboard link is printed. Workers must see the same input and
      output paths (shared storage). Inputs and -o may also be fsspec
      URLs (file:///data/in, s3://bucket/out with s3fs installed).

exit status: 0 all done, 1 some inputs failed, 2 usage error, 130 interrupted
"""

INFO_EPILOG = """\
example:
  kmseg info photo-k8.png
      prints the parameters recorded in the PNG and a command that makes it again
"""


# ------------------------------------------------------------------- parsing


def _ranged_int(low: int, high: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _typed(option: options.Option) -> Any:
    """An argparse ``type`` that checks a value by the option table."""
    label = option.flags[-1]

    def parse(text: str) -> Any:
        try:
            return option.validate(text, label)
        except InvalidParameterError as exc:  # argparse names the option: say the rest
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{label} ")) from None

    parse.__name__ = option.type.__name__  # argparse's "invalid <name> value" wording
    return parse


_METAVARS = {"k": "K", "max_iter": "N", "n_init": "N", "max_pixels": "N", "target_psnr": "DB",
             "spatial_weight": "W", "fit_size": "N", "min_region": "N", "palette": "SOURCE", "quality": "Q",
             "jobs": "N"}


def _shown(value: Any) -> str:
    """A default as the help shows it: ``50,000,000``, ``0.0001``, ``rgb``."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and value >= 100_000:
        return f"{value:,}"
    return str(value)


def _add_option(group: Any, name: str, *, default_text: str | None = None, more: str = "") -> None:
    """Add the option ``name`` of the table to ``group``: its flags, type or
    choices, default and a help line with the allowed values."""
    option = options.get(name)
    kwargs: dict[str, Any] = {"default": option.default_for("cli")}
    text = option.help
    if option.type is bool:
        kwargs["action"] = "store_true"
    elif option.choices:
        kwargs.update(type=_typed(option), choices=option.choices)
    else:
        kwargs.update(type=_typed(option), metavar=_METAVARS.get(name, name.upper()))
        if option.type in (int, float):
            text += f"; {option.describe()}"
    if more:
        text += f"; {more}"
    shown = default_text or (None if option.default is None or option.type is bool else _shown(option.default))
    if shown:
        text += f" (default {shown})"
    group.add_argument(*option.flags, help=text, **kwargs)


def _megabytes(text: str) -> float:
    value = _tolerance(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are three short lines: the usage, the
    error, and where the help is (not argparse's full list of options)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, self.error_text(message))

    def error_text(self, message: str) -> str:
        """What a usage error prints on stderr."""
        return f"{self.format_usage()}{self.prog}: error: {message}\nsee '{self.prog} --help'\n"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kmseg`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show Python tracebacks of unexpected errors")

    parser = _Parser(
        prog="kmseg",
        description="K-means colour-clustering image segmentation.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kmseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    seg = sub.add_parser(
        "segment", parents=[common], help="segment images (one, a folder, or a thousand)",
        usage="%(prog)s [options] INPUT...",
        description="Cluster the colours of images with k-means and write the segmented\n"
                    "images, label maps, palettes and masks.",
        epilog=SEGMENT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    seg.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="image files, folders of images, or quoted glob patterns ('*.jpg')")
    _add_option(seg, "k", more="required unless --palette-from is a palette file")
    opt = seg.add_argument_group("clustering")
    for name in ("max_iter", "tol", "n_init", "seed", "color_space", "max_pixels"):
        _add_option(opt, name)
    feat = seg.add_argument_group("features")
    for name in ("target_psnr", "spatial_weight", "fit_size", "min_region", "dither", "palette", "first_frame"):
        _add_option(feat, name)
    out = seg.add_argument_group("outputs")
    out.add_argument("-o", "--output", metavar="PATH",
                     help="output file (one input) or folder (several); default: this folder")
    out.add_argument("--name", default=None, metavar="PATTERN",
                     help="output file names in a folder (default '{stem}-k{k}.png')")
    _add_option(out, "format", more="jpg is jpeg")
    _add_option(out, "quality")
    out.add_argument("--labels", metavar="PATH",
                     help="also write the label map (PNG, pixel = cluster index): a file, or a folder")
    out.add_argument("--palette", metavar="PATH",
                     help="also write the palette: .json, .gpl (GIMP), .css, .txt (hex) or .ase; "
                          "a folder with several inputs")
    _add_option(out, "palette_format", default_text="json; a --palette file's format follows its name")
    out.add_argument("--boundaries", metavar="PATH",
                     help="also write the segment edges drawn on the input (PNG): a file, or a folder")
    out.add_argument("--svg", metavar="PATH",
                     help="also write the segments as an SVG drawing, one path per region: a file, or a folder")
    out.add_argument("--svg-tolerance", type=_typed(options.get("svg_tolerance")), default=None, metavar="PX",
                     help="how far, in pixels, the SVG's simplified edges may stray from the pixel edges "
                          "(0: exact pixel edges; default 1, which straightens pixel staircases)")
    out.add_argument("--paint-by-number", metavar="PATH", dest="paint",
                     help="also write a paint-by-number sheet (outlines, numbers, legend): a .svg or .png file, "
                          "or a folder (SVGs; PNGs with --paint-dpi)")
    _add_option(out, "paint_dpi", default_text="300")
    out.add_argument("--masks", metavar="DIR",
                     help="also write one black/white PNG mask per cluster into DIR")
    out.add_argument("--json", action="store_true",
                     help="print a machine-readable summary on stdout")
    run = seg.add_argument_group("running")
    run.add_argument("-r", "--recursive", action="store_true", help="also take images in sub-folders")
    _add_option(run, "jobs")
    run.add_argument("--overwrite", action="store_true",
                     help="redo images whose outputs exist (by default they are skipped)")
    run.add_argument("--retry-failed", action="store_true",
                     help="with several inputs: retry the inputs that kmseg-manifest.jsonl in the "
                          "output folder records as failed on their input (by default a re-run skips "
                          "them; failures of the disk or machine are always retried)")
    run.add_argument("--dask", metavar="ADDRESS",
                     help="run on a Dask cluster: 'local' starts one on this machine (--jobs workers), "
                          "tcp://HOST:8786 uses a running scheduler (needs kmseg[dask])")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    run.add_argument("-v", "--verbose", action="store_true", help="one line per image")
    seg.set_defaults(func=cmd_segment, parser=seg)

    info = sub.add_parser(
        "info", parents=[common], help="show how a kmseg PNG was made", usage="%(prog)s [--json] FILE...",
        description="Print the kmseg version, parameters and seed recorded in PNGs written\n"
                    "by kmseg, and a command line that makes the same file again.",
        epilog=INFO_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("files", nargs="+", metavar="FILE", help="PNG files written by kmseg")
    info.add_argument("--json", action="store_true", help="print the records as JSON")
    info.set_defaults(func=cmd_info, parser=info)

    serve = sub.add_parser(
        "serve", parents=[common], help="run the HTTP API (needs kmseg[api])", usage="%(prog)s [options]",
        description="Serve the kmseg HTTP API with uvicorn.",
        epilog="example:\n  kmseg serve --port 8000 --max-upload-mb 10\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_ranged_int(0, 65535), default=5000, help="port (default 5000)")
    serve.add_argument("--workers", type=_ranged_int(1), default=1, help="server processes (default 1)")
    serve.add_argument("--max-upload-mb", type=_megabytes, default=None, metavar="MB",
                       help=f"largest upload (default {DEFAULT_LIMITS.max_upload_bytes // 2**20} MiB)")
    _add_option(serve, "max_pixels")
    serve.add_argument("--allowed-host", action="append", default=None, metavar="NAME",
                       help="a Host header to answer besides localhost and --host (repeatable; '*' for any)")
    serve.add_argument("--token", default=None,
                       help="require a token: programs send 'Authorization: Bearer TOKEN', a browser asks "
                            "for it (any user name, TOKEN as the password) (default: $KMSEG_TOKEN, or none)")
    serve.add_argument("--memory-budget-mb", type=_megabytes, default=None, metavar="MB",
                       help="memory the jobs in progress may need at once, estimated from each image's "
                            "header (default: half the machine's memory, at most 16 GiB)")
    serve.add_argument("--max-per-client", type=_ranged_int(0), default=None, metavar="N",
                       help="requests in progress per client address, 0 for no limit (default: no limit "
                            "on 127.0.0.1, the pool size on other addresses)")
    serve.set_defaults(func=cmd_serve, parser=serve)

    app = sub.add_parser(
        "app", parents=[common], help="run the web app (needs kmseg[web])", usage="%(prog)s [options]",
        description="Start the kmseg web app (Streamlit) and open it in a browser.",
        epilog="example:\n  kmseg app --port 8502\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    app.add_argument("--port", type=_ranged_int(0, 65535), default=8501, help="port (default 8501)")
    app.add_argument("--max-upload-mb", type=_megabytes, default=None, metavar="MB",
                     help=f"largest upload (default {DEFAULT_LIMITS.max_upload_bytes // 2**20} MiB)")
    _add_option(app, "max_pixels")
    app.set_defaults(func=cmd_app, parser=app)
    return parser


def run() -> NoReturn:
    """Entry point of the ``kmseg`` command and ``python -m kmseg``: :func:`main`,
    then exit."""
    sys.exit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kmseg`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else EXIT_USAGE)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("\nkmseg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (kmseg ... | head); stay quiet like other tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if args.debug:
            raise
        print(f"kmseg: internal error: {type(exc).__name__}: {exc} (run with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILED


def _usage_error(args: argparse.Namespace, message: str) -> int:
    parser: _Parser = args.parser
    print(parser.error_text(message), end="", file=sys.stderr)
    return EXIT_USAGE


# ------------------------------------------------------------------- segment


def cmd_segment(args: argparse.Namespace) -> int:
    """``kmseg segment``: see the epilog of its parser."""
    import kmseg
    from kmseg import batch
    from kmseg.batch import storage

    try:
        args.inputs = [storage.localize(x) for x in args.inputs]  # file:// URLs are local paths
        for opt in ("output", "labels", "palette", "masks", "boundaries", "svg", "paint"):
            if getattr(args, opt):
                setattr(args, opt, storage.localize(getattr(args, opt)))
        if args.svg_tolerance is not None and not args.svg and not args.paint and not _writes_svg(args):
            raise _OutputError("--svg-tolerance applies to the --svg drawing; add --svg PATH")
        if args.paint_dpi is not None and not args.paint:
            raise _OutputError("--paint-dpi applies to the --paint-by-number sheet; add --paint-by-number PATH")
        given = _palette_source(args)
        params = batch.validate_params(batch.SegmentParams(
            None if isinstance(given, tuple) else args.k, args.max_iter, args.tol, args.n_init, args.seed, args.color_space, args.max_pixels,
            spatial_weight=args.spatial_weight, fit_size=args.fit_size, min_region=args.min_region,
            target_psnr=args.target_psnr, dither=args.dither, palette=given, first_frame=args.first_frame))
        # One named file (a pipe or device too: it is then reported, not taken for a folder).
        single = (len(args.inputs) == 1 and os.path.exists(args.inputs[0])
                  and not os.path.isdir(args.inputs[0]))
        if single:
            jobs, failed = _plan_single(args, params)
        else:
            jobs, failed = _plan_many(args, params)
        _prepare_dirs(_output_folders(args, jobs, single))
        if jobs:
            _check_free_space(_output_folders(args, jobs, single))
    except kmseg.InvalidParameterError as exc:
        return _usage_error(args, str(exc))
    except _OutputError as exc:
        return _usage_error(args, str(exc))

    book = None
    if not single:
        from kmseg.batch.manifest import Manifest, manifest_row

        book = Manifest.in_folder(args.output or ".")
        if book.bad_lines:
            lines = ", ".join(map(str, book.bad_lines[:5])) + (", ..." if len(book.bad_lines) > 5 else "")
            print(f"kmseg: warning: {printable(book.path)}: {len(book.bad_lines)} unreadable "
                  f"line{'s' * (len(book.bad_lines) != 1)} ignored (line {lines})", file=sys.stderr)
        for result in failed:
            book.append(manifest_row(result, None))
    try:
        with _executor(args) as executor:
            return _run_segment(args, jobs, failed, single, executor, book)
    except _DaskError as exc:
        print(f"kmseg: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if book is not None:
            book.close()
            if book.write_error is not None:
                err = book.write_error
                print(f"kmseg: warning: cannot write {printable(book.path)}: {err.strerror or err}; "
                      "the next run tries again every input without outputs", file=sys.stderr)


class _DaskError(Exception):
    """--dask cannot be used (extra missing, scheduler unreachable)."""


@contextlib.contextmanager
def _executor(args: argparse.Namespace) -> Iterator[Any]:
    """None (the local pool), or the executor of the --dask cluster."""
    if not args.dask:
        yield None
        return
    try:
        from kmseg.batch.dask import DaskMissingError, dask_executor
    except ImportError as exc:  # pragma: no cover - _dask itself imports nothing optional
        raise _DaskError(f"--dask needs the dask extra: pip install 'kmseg[dask]' ({exc})") from None
    entered = False
    try:
        with dask_executor(args.dask, workers=args.jobs) as (executor, link):
            entered = True
            if link and not args.quiet:
                print(f"kmseg: Dask dashboard: {link}", file=sys.stderr, flush=True)
            yield executor
    except DaskMissingError:
        if args.debug:
            raise
        raise _DaskError("--dask needs the dask extra: pip install 'kmseg[dask]'") from None
    except OSError as exc:
        if entered or args.debug:
            raise
        raise _DaskError(f"cannot reach the Dask scheduler at {args.dask}: {exc}") from None


def _run_segment(args: argparse.Namespace, jobs: list[Any], failed: list[Any], single: bool,
                 executor: Any, book: Any) -> int:
    import kmseg
    from kmseg import batch

    reporter = _Reporter(args, total=len(jobs) + len(failed), single=single)
    for result in failed:
        reporter(result, 0, 0)
    reporter.start_bar()
    start = time.perf_counter()
    interrupted = False
    # `kill` stops as cleanly as Ctrl-C (the batch defers this handler to a safe point, see kmseg.batch)
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        if single and jobs and executor is None:
            results = batch.run_jobs_inline(jobs, overwrite=args.overwrite, progress=reporter)
        else:
            results = batch.run_jobs(jobs, workers=args.jobs, overwrite=args.overwrite, progress=reporter,
                                     executor=executor, manifest=book, retry_failed=args.retry_failed)
    except batch.BatchInterrupted as exc:
        results, interrupted = exc.results, True
    finally:
        signal.signal(signal.SIGTERM, previous)
    results = failed + results
    reporter.close()
    seconds = time.perf_counter() - start
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed", "cancelled")}
    if args.json:
        status = "interrupted" if interrupted else ("failed" if counts["failed"] else "ok")
        doc = {"kmseg": kmseg.__version__, "status": status, **counts, "seconds": round(seconds, 3),
               "without_outputs": _without_outputs(results), "images": [r.to_dict() for r in results]}
        print(json.dumps(doc, indent=2))
    if not args.quiet and not (single and not interrupted):
        _print_summary(counts, seconds, interrupted)
        _print_missing(_without_outputs(results))
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if counts["failed"] or not results else EXIT_OK


def _palette_source(args: argparse.Namespace) -> Any:
    """Check the feature options together; the --palette-from colours, or the image path, or None.

    Raises
    ------
    kmseg.InvalidParameterError
        A combination that cannot work, naming the option.
    """
    import kmseg
    from kmseg.batch import storage

    def bad(message: str, param: str) -> kmseg.InvalidParameterError:
        return kmseg.InvalidParameterError(message, param=param)

    if args.target_psnr is not None and args.k != "auto":
        raise bad("--target-psnr is used only with -k auto", "target_psnr")
    if args.fit_size is not None and not args.spatial_weight:
        raise bad("--fit-size is used only with --spatial-weight above 0", "fit_size")
    if args.spatial_weight and (args.k == "auto" or args.palette_from):
        raise bad("--spatial-weight needs a whole-number -k (not 'auto', not with --palette-from)",
                  "spatial_weight")
    source = args.palette_from
    if source is None:
        if args.k is None:
            raise bad(f"-k is required ({options.get('k').describe()}), unless --palette-from is a "
                      "palette file", "k")
        return None
    source = storage.localize(source)
    if not os.path.isfile(source):
        from kmseg.batch import not_regular_reason

        why = not_regular_reason(source) if os.path.exists(source) else None
        raise bad(f"--palette-from: {source!r} is {why.split(';')[0]}" if why
                  else f"--palette-from: no such file {source!r}", "palette")
    ext = os.path.splitext(source)[1].lower()
    if ext in _PALETTE_EXTS:
        try:
            colours = kmseg.read_palette(source)
        except kmseg.KmsegError as exc:
            raise bad(f"--palette-from: {exc}", "palette") from None
        except OSError as exc:
            raise bad(f"--palette-from: cannot read {source}: {exc.strerror or exc}", "palette") from None
        if args.k == "auto":
            raise bad("-k auto does not go with a --palette-from palette file (its colours are used)", "k")
        return tuple(tuple(int(v) for v in c) for c in colours.tolist())
    if args.k is None or args.k == "auto":
        raise bad(f"--palette-from an image needs -k, {options.get('k').range.words()}: how many colours "
                  "to fit on it", "k")
    return os.path.abspath(source)


class _OutputError(Exception):
    """An output path that cannot be used (a usage error)."""


def _looks_like_dir(path: str) -> bool:
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def _plan_single(args: argparse.Namespace, params: Any) -> tuple[list[Any], list[Any]]:
    from kmseg import batch

    src = args.inputs[0]
    special = batch.not_regular_reason(src)
    if special:
        return [], [batch.ItemResult(src, "failed", special, failure=batch.INPUT)]
    if args.output and not _looks_like_dir(args.output):
        if args.name:
            raise _OutputError("--name sets file names inside an output folder; with one input, "
                               "give the file name with -o")
        image = args.output
    else:
        image = batch.output_image_path(src, args.output or ".", args.name or _default_name(args.format),
                                        params.name_k, args.format)
    _check_quality(args, batch.output_format(image, args.format))
    paint = args.paint
    if paint and not _looks_like_dir(paint) and os.path.splitext(paint)[1].lower() not in (".svg", ".png"):
        raise _OutputError(f"--paint-by-number writes a .svg or .png file (or into a folder), not {paint!r}")
    plan = batch.plan_outputs(src, params.name_k, image, format=args.format, quality=args.quality,
                              labels=args.labels, palette=args.palette, palette_format=args.palette_format,
                              masks=args.masks, boundaries=args.boundaries, svg=args.svg,
                              svg_tolerance=args.svg_tolerance, paint=paint, paint_dpi=args.paint_dpi,
                              is_folder=_looks_like_dir)
    job = batch.ItemJob(src, params, plan, figures=args.json or args.verbose)
    reason = batch.check_job(job, {os.path.realpath(src)}, {})
    if reason:
        return [], [batch.ItemResult(src, "failed", reason)]
    return [job], []


def _plan_many(args: argparse.Namespace, params: Any) -> tuple[list[Any], list[Any]]:
    from kmseg import batch

    out_dir = args.output or "."
    if os.path.splitext(out_dir)[1].lower() in _IMAGE_EXTS and not os.path.isdir(out_dir):
        raise _OutputError(f"with several inputs, a folder or a pattern, -o is a folder, not {out_dir!r}; "
                           "set the file names with --name")
    for option, value, exts in (("--labels", args.labels, (".png",)), ("--palette", args.palette, _PALETTE_EXTS),
                                ("--boundaries", args.boundaries, (".png",)), ("--svg", args.svg, (".svg",)),
                                ("--paint-by-number", args.paint, (".svg", ".png"))):
        if value and os.path.splitext(value)[1].lower() in exts and not os.path.isdir(value):
            hint = " (and the format with --palette-format)" if option == "--palette" else ""
            raise _OutputError(f"with several inputs, {option} is a folder{hint}, not {value!r}")
    name = args.name or _default_name(args.format)
    files, missing = batch.find_images(args.inputs, recursive=args.recursive)
    jobs, conflicts = batch.plan_jobs(
        files, out_dir, params, name=name, format=args.format, quality=args.quality,
        labels_dir=args.labels, palette_dir=args.palette, palette_format=args.palette_format or "json",
        masks_dir=args.masks, figures=args.json or args.verbose, boundaries_dir=args.boundaries,
        svg_dir=args.svg, svg_tolerance=args.svg_tolerance, paint_dir=args.paint, paint_dpi=args.paint_dpi)
    if jobs:
        _check_quality(args, jobs[0].plan.format)
    return jobs, missing + conflicts


def _default_name(fmt: str | None) -> str:
    return "{stem}-k{k}.{ext}" if fmt else "{stem}-k{k}.png"


def _check_quality(args: argparse.Namespace, fmt: str | None) -> None:
    if args.quality is not None and fmt in ("png", "gif"):
        raise _OutputError(f"--quality applies to jpg and webp output; {fmt.upper()} is lossless")
    if args.quality is not None and fmt == "svg":
        raise _OutputError("--quality applies to jpg and webp output; an SVG drawing has --svg-tolerance")


def _writes_svg(args: argparse.Namespace) -> bool:
    """Whether the main output is an SVG drawing (--format svg or -o NAME.svg)."""
    return args.format == "svg" or os.path.splitext(args.output or "")[1].lower() == ".svg"


def _output_folders(args: argparse.Namespace, jobs: list[Any], single: bool) -> list[str]:
    """The folders outputs go to (sub-folders of a recursive run are made as needed)."""
    if single:
        return [os.path.dirname(p) or "." for job in jobs
                for p in (job.plan.image, job.plan.labels, job.plan.palette, job.plan.masks,
                          job.plan.boundaries, job.plan.svg, job.plan.paint) if p]
    return [p for p in (args.output or ".", args.labels, args.palette, args.masks, args.boundaries, args.svg,
                        args.paint) if p]


def _prepare_dirs(folders: list[str]) -> None:
    """Create the output folders; one that cannot be made or written is a usage error."""
    from kmseg.batch.storage import is_url

    for folder in dict.fromkeys(folders):
        if is_url(folder):  # an object store: nothing to create
            continue
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise _OutputError(f"cannot create output folder {folder}: {exc.strerror or exc}") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _OutputError(f"output folder {folder} is not writable")


def _check_free_space(folders: list[str]) -> None:
    """A local output folder on a disk with no space left is a usage error, before anything runs."""
    from kmseg.batch.storage import is_url

    for folder in dict.fromkeys(folders):
        if is_url(folder):
            continue
        try:
            st = os.statvfs(folder)
        except (OSError, AttributeError):  # no statvfs (Windows): the writes will say
            continue
        if st.f_bavail == 0 and st.f_blocks > 0:
            raise _OutputError(f"no space left on the disk of output folder {folder}: free some space "
                               "and run the same command again")


def _without_outputs(results: list[Any]) -> dict[str, int]:
    """How many inputs have no outputs after the run, by why."""
    from kmseg.batch import ENVIRONMENT

    why = {"earlier": 0, "input": 0, "environment": 0, "cancelled": 0}
    for r in results:
        if r.status == "skipped" and r.failure:
            why["earlier"] += 1
        elif r.status == "failed":
            why["environment" if r.failure == ENVIRONMENT else "input"] += 1
        elif r.status == "cancelled":
            why["cancelled"] += 1
    return why


def _print_missing(why: dict[str, int]) -> None:
    total = sum(why.values())
    if not total:
        print("kmseg: every input has its outputs", file=sys.stderr)
        return
    parts = []
    if why["earlier"]:
        parts.append(f"{why['earlier']} failed earlier and were not retried: --retry-failed")
    if why["input"]:
        parts.append(f"{why['input']} failed on their input (corrupt, unsupported, too large, missing); "
                     "skipped by the next run unless --retry-failed")
    if why["environment"]:
        parts.append(f"{why['environment']} failed on the machine (disk full, permissions, I/O, a lost "
                     "worker); tried again by the next run")
    if why["cancelled"]:
        parts.append(f"{why['cancelled']} not started (interrupted)")
    print(f"kmseg: {total} input{'s' * (total != 1)} without outputs: {'; '.join(parts)}", file=sys.stderr)


def _print_summary(counts: dict[str, int], seconds: float, interrupted: bool) -> None:
    total = sum(counts.values())
    parts = [f"{counts['done']} done", f"{counts['skipped']} skipped", f"{counts['failed']} failed"]
    if counts["cancelled"]:
        parts.append(f"{counts['cancelled']} not done")
    rate = f", {counts['done'] / seconds:.1f} images/s" if counts["done"] and seconds > 0 else ""
    line = f"{total} image{'s' * (total != 1)}: {', '.join(parts)} in {seconds:.1f} s{rate}"
    if interrupted:
        line = f"interrupted: {line}; run the same command again to finish"
    print(f"kmseg: {line}", file=sys.stderr)


class _Reporter:
    """Progress callback: failures on stderr, a progress bar on a terminal."""

    def __init__(self, args: argparse.Namespace, total: int, single: bool):
        self.args = args
        self.total = total
        self.single = single
        self.stream = sys.stderr
        self.bar = (not args.quiet and not single and total > 1 and self.stream.isatty())
        self.start = time.perf_counter()
        self.finished = 0
        self.failed = 0
        self.last_draw = 0.0
        self.width = 0

    def start_bar(self) -> None:
        """Show the bar at once, before the first image is finished."""
        self._draw(force=True)

    def __call__(self, result: Any, finished: int, total: int) -> None:
        self.finished += 1
        if result.status == "failed":
            self.failed += 1
            self._say(f"kmseg: failed: {printable(result.source)}: {printable(result.reason)}")
            if self.args.debug and result.detail:
                self._say(result.detail.rstrip())
        elif not self.args.quiet and (self.single or self.args.verbose):
            self._say(_describe(result))
        self._draw()

    def _say(self, line: str) -> None:
        self._erase()
        print(line, file=self.stream, flush=True)
        self.last_draw = 0.0

    def _erase(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0

    def _draw(self, force: bool = False) -> None:
        if not self.bar:
            return
        now = time.perf_counter()
        if not force and now - self.last_draw < 0.1 and self.finished < self.total:
            return
        self.last_draw = now
        elapsed = now - self.start
        frac = self.finished / self.total if self.total else 1.0
        cells = 24
        filled = int(frac * cells)
        rate = self.finished / elapsed if elapsed > 0 else 0.0
        eta = f" {_clock((self.total - self.finished) / rate)} left" if 0 < rate and self.finished < self.total else ""
        failed = f" {self.failed} failed" if self.failed else ""
        speed = f" {rate:.1f} img/s" if self.finished else ""
        line = f"[{'#' * filled}{'.' * (cells - filled)}] {self.finished}/{self.total}{speed}{eta}{failed}"
        self._erase()
        self.stream.write(line)
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.bar:
            self._erase()
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _describe(result: Any) -> str:
    if result.status == "skipped":
        return f"kmseg: skipped {printable(result.source)}: {result.reason}"
    if result.status != "done":
        return f"kmseg: {result.status} {printable(result.source)}: {result.reason or ''}".rstrip(": ")
    s = result.summary or {}
    written = ", ".join(str(p) for key in ("image", "labels", "palette", "boundaries", "svg", "paint")
                        if (p := result.outputs.get(key)))
    if result.outputs.get("masks"):
        written += f"{', ' if written else ''}{len(result.outputs['masks'])} masks"
    figures = [f"K {s.get('k')} of {s.get('k_requested')}"] + ([f"{s['frames']} frames"] if s.get("frames") else [])
    if s.get("regions") is not None:
        figures.append(f"{s['regions']} regions (of {s.get('regions_before')})")
    if s.get("psnr") is not None:
        figures.append("PSNR inf" if s["psnr"] == float("inf") else f"PSNR {s['psnr']:.1f} dB")
    if s.get("delta_e_mean") is not None:
        figures.append(f"mean ΔE {s['delta_e_mean']:.2f}")
    iters = f"{s.get('n_iter')} iterations" + ("" if s.get("converged", True) else " (not converged)")
    figures += [iters, f"seed {s.get('seed')}", f"{result.seconds:.2f} s"]
    return f"kmseg: {printable(result.source)} -> {printable(written)}: {', '.join(figures)}"


# ---------------------------------------------------------------------- info


_ONLY_OURS = "kmseg info reads only the record kmseg writes into its own PNG outputs"


def cmd_info(args: argparse.Namespace) -> int:
    """``kmseg info``: print the record kmseg wrote into PNGs."""
    import kmseg

    status = EXIT_OK
    records = []
    for path in args.files:
        try:
            if not os.path.isfile(path):
                raise FileNotFoundError(2, "no such file" if not os.path.exists(path) else "not a file")
            meta = kmseg.read_metadata(path)
        except kmseg.ImageDecodeError:
            print(f"kmseg: failed: {printable(path)}: not a PNG; {_ONLY_OURS} (segmented images, label maps, "
                  "masks)", file=sys.stderr)
            status = EXIT_FAILED
            continue
        except (kmseg.KmsegError, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"kmseg: failed: {printable(path)}: {printable(reason)}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        if "kmseg-params" not in meta:
            print(f"kmseg: failed: {printable(path)}: a PNG without a kmseg record (not written by kmseg); "
                  f"{_ONLY_OURS}", file=sys.stderr)
            status = EXIT_FAILED
            continue
        kind = _png_kind(path, meta)
        command = rerun_command(meta, path, kind, source=_recorded_input(path))
        records.append({"file": path, "kind": kind, "metadata": meta, "command": command})
        if not args.json:
            print(path)
            width = max(len(key) for key in meta)
            for key, value in meta.items():
                print(f"  {key:<{width}}  {value}")
            print(f"  again: {command}")
    if args.json:
        print(json.dumps(records, indent=2))
    return status


def _recorded_input(path: str) -> str | None:
    """The input that ``path`` was made from, as the manifest of its folder records
    it (batch runs keep one); None when no manifest there names ``path``."""
    from kmseg.batch.manifest import MANIFEST_NAME, Manifest

    folder = os.path.dirname(path) or "."
    if not os.path.isfile(os.path.join(folder, MANIFEST_NAME)):
        return None
    target = os.path.realpath(path)
    for row in reversed(list(Manifest.in_folder(folder).rows.values())):
        outputs = row.get("outputs") or {}
        written = [p for value in outputs.values() for p in (value if isinstance(value, list) else [value])]
        if row.get("status") == "done" and any(
                isinstance(p, str) and os.path.realpath(p) == target for p in written):
            return str(row["input"])
    return None


def rerun_command(meta: dict[str, str], path: str, kind: str = "image", *, source: str | None = None) -> str:
    """A ``kmseg segment`` command line that writes ``path`` again from its record.

    ``kind`` is what ``path`` is: ``"image"`` (the segmented image),
    ``"labels"`` or ``"mask"``. ``source`` is the input file, when known (a
    batch's manifest records it; the PNG does not), else the command says ``INPUT``.
    """
    try:
        params = json.loads(meta.get("kmseg-params", "{}"))
    except ValueError:
        params = {}
    if not isinstance(params, dict):
        params = {}
    words = ["kmseg", "segment", source or "INPUT"]
    for name in ("k", "max_iter", "tol", "n_init", "seed", "color_space"):
        if params.get(name) is not None:
            words += [options.get(name).flags[0], str(params[name])]
    for name in ("target_psnr", "spatial_weight", "fit_size", "min_region"):
        if params.get(name):
            words += [options.get(name).flags[0], str(params[name])]
    if params.get("dither"):
        words.append("--dither")
    if params.get("palette") is not None and params.get("k") is None:
        words += ["--palette-from", "PALETTE"]
    if kind == "labels":
        words += ["--labels", path]
    elif kind == "mask":
        words += ["--masks", os.path.dirname(path) or "."]
    else:
        words += ["-o", path]
    return shlex.join(words)


def _png_kind(path: str, meta: dict[str, str]) -> str:
    if "kmseg-mask" in meta:
        return "mask"
    from PIL import Image

    with Image.open(path) as im:
        return "labels" if im.mode == "L" else "image"


# ------------------------------------------------------------ serve and app


def cmd_serve(args: argparse.Namespace) -> int:
    """``kmseg serve``: run the HTTP API (the ``api`` extra)."""
    import kmseg

    try:
        from kmseg import api
    except ImportError as exc:
        return _missing_extra("serve", "api", exc, args)
    limits = {k: v for k, v in (("max_upload_mb", args.max_upload_mb), ("max_pixels", args.max_pixels),
                                ("allowed_hosts", args.allowed_host), ("token", args.token),
                                ("memory_budget_mb", args.memory_budget_mb),
                                ("max_per_client", args.max_per_client))
              if v is not None}
    try:
        api.run_server(host=args.host, port=args.port, workers=args.workers, settings=None, **limits)
    except ModuleNotFoundError as exc:  # uvicorn is imported when the server starts
        return _missing_extra("serve", "api", exc, args)
    except kmseg.InvalidParameterError as exc:
        return _usage_error(args, str(exc))
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    """``kmseg app``: run the Streamlit web app (the ``web`` extra)."""
    import kmseg

    try:
        from kmseg import app
    except ImportError as exc:
        return _missing_extra("app", "web", exc, args)
    limits = {k: v for k, v in (("max_upload_mb", args.max_upload_mb), ("max_pixels", args.max_pixels))
              if v is not None}
    try:
        result = app.run_app(host=args.host, port=args.port, **limits)
    except ModuleNotFoundError as exc:
        return _missing_extra("app", "web", exc, args)
    except kmseg.InvalidParameterError as exc:
        return _usage_error(args, str(exc))
    return int(result) if isinstance(result, int) else EXIT_OK


def _missing_extra(command: str, extra: str, exc: ImportError, args: argparse.Namespace) -> int:
    if args.debug:
        raise exc
    print(f"kmseg {command} needs the {extra} extra: pip install 'kmseg[{extra}]'", file=sys.stderr)
    return EXIT_USAGE
