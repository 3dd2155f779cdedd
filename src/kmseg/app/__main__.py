"""``python -m kmseg.app``: start the web app (same as ``kmseg app``).

Unknown options are passed on to ``streamlit run``.
"""

from __future__ import annotations

import argparse
import sys

from kmseg import KmsegError

from kmseg.app import run_app


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the app; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m kmseg.app", description="Start kmseg's web app (Streamlit)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    parser.add_argument("--max-upload-mb", type=float, default=None,
                        help="largest upload in MB (default 25)")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="largest image in pixels (default 50000000)")
    args, extra = parser.parse_known_args(argv)
    try:
        return run_app(args.host, args.port, extra, args.max_upload_mb, args.max_pixels)
    except KmsegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
