"""``python -m kmseg``: the same as the ``kmseg`` command."""

from kmseg.cli import run

if __name__ == "__main__":
    run()
