"""``python interrupt_child.py ARGS``: run ``kmseg ARGS`` and send it a Ctrl-C
(SIGINT) at the N-th line (environment ``KMSEG_TEST_SIGINT_AT``) that its main
thread runs in ``concurrent.futures`` code once the first image is reported:
a Ctrl-C landing at one chosen instruction, as one can under load."""

import concurrent.futures
import os
import runpy
import signal
import sys

FUTURES = os.path.dirname(concurrent.futures.__file__)
CLI = os.path.join("kmseg", "cli.py")


def main() -> None:
    target = int(os.environ["KMSEG_TEST_SIGINT_AT"])
    state = {"armed": False, "lines": 0}

    def in_futures(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "line":
            state["lines"] += 1
            if state["lines"] == target:
                os.kill(os.getpid(), signal.SIGINT)
        return in_futures

    def in_progress(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "return":
            state["armed"] = True
        return in_progress

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        code = frame.f_code
        if state["armed"] and code.co_filename.startswith(FUTURES):
            return in_futures
        if not state["armed"] and code.co_name == "__call__" and code.co_filename.endswith(CLI):
            return in_progress  # the CLI's progress reporter
        return None

    sys.settrace(tracer)  # this thread only: the main thread, where Python runs signal handlers
    sys.argv[0] = "kmseg"
    runpy.run_module("kmseg", run_name="__main__", alter_sys=True)


if __name__ == "__main__":  # the spawned workers import this file too
    main()
