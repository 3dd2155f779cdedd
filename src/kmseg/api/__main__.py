"""``python -m kmseg.api``: serve the HTTP API (the same as ``kmseg serve``)."""

from __future__ import annotations

import argparse
import sys

from kmseg import KmsegError


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the server; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m kmseg.api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="TCP port (default 5000)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--max-upload-mb", type=float, default=None, help="upload limit in MB (default 25)")
    parser.add_argument(
        "--max-pixels", type=int, default=None, help="image size limit in pixels (default 50e6)"
    )
    parser.add_argument(
        "--allowed-host", action="append", default=None, metavar="NAME",
        help="a Host header to answer besides localhost and --host (repeatable; '*' for any)",
    )
    parser.add_argument(
        "--token", default=None, help="require 'Authorization: Bearer TOKEN' (default: $KMSEG_TOKEN, or none)"
    )
    parser.add_argument(
        "--memory-budget-mb", type=float, default=None, metavar="MB",
        help="memory the jobs in progress may need at once (default: half the machine's, at most 16 GiB)",
    )
    parser.add_argument(
        "--max-per-client", type=int, default=None, metavar="N",
        help="requests in progress per client address, 0 for none (default: none on loopback, else pool size)",
    )
    args = parser.parse_args(argv)
    from kmseg.api import run_server

    try:
        run_server(
            host=args.host,
            port=args.port,
            workers=args.workers,
            max_upload_mb=args.max_upload_mb,
            max_pixels=args.max_pixels,
            allowed_hosts=args.allowed_host,
            token=args.token,
            memory_budget_mb=args.memory_budget_mb,
            max_per_client=args.max_per_client,
        )
    except KmsegError as exc:
        print(f"kmseg serve: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
