"""``python -m kmseg``: the same as the ``kmseg`` command."""

from kmseg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
