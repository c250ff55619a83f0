"""HiGHS solvers that print nothing.

HiGHS writes a banner to the process's standard output (the C stream, out of reach of Python's
``sys.stdout``) the first time a solver is made in a process. On a command's stdout it would land
inside ``-o json`` or ``-o yaml`` output, so the first solver is made with that stream pointed at
``/dev/null``; PuLP's HiGHS interface makes its solvers the same way and prints nothing after it.
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

_LOCK = threading.Lock()
_first_made = False


def silence_banner() -> None:
    """Make the process's first HiGHS solver with stdout pointed at ``/dev/null`` (once)."""
    global _first_made
    with _LOCK:
        if _first_made:
            return
        sys.stdout.flush()
        saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(null)
        _first_made = True


def quiet_highs() -> highspy.Highs:
    """A new HiGHS solver with its log off and one thread."""
    silence_banner()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    # one thread: HiGHS's task scheduler is one per process and keeps the thread count of the solve
    # that started it; a later solve asking for another count fails (the capacity planner asks for 1)
    h.setOptionValue("threads", 1)
    return h
