"""Starting the processes a benchmark runs, with their output read back line by line.

The scripts measure impsy (and IMPSY 1.2.1) as real processes, and ``report.py``
runs each script as one. All of them start their children the same way: stdin
closed, stdout and stderr merged into one pipe of text (a byte that is not UTF-8
is replaced, not fatal), and ``PYTHONUNBUFFERED`` set so that a line such as
impsy's ``listening`` banner arrives when it is printed, not when a buffer fills.

Run as scripts (``python benchmarks/engine.py``), the benchmarks find this module
the way they find ``results.py``: ``benchmarks/`` is first on ``sys.path``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def spawn(
    argv: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    own_session: bool = False,
) -> subprocess.Popen[str]:
    """Start ``argv`` in ``cwd`` with this environment plus ``env``; read its ``stdout``.

    ``own_session``: the child leads a process group of its own, so that it and
    whatever it starts can be signalled together (``os.killpg``) and a Ctrl-C in
    this terminal does not reach them first. Such a child also gets SIGINT's
    default action back when this process ignores it (a shell starts background
    jobs that way, CI among them): Python would otherwise ignore the SIGINT that
    asks it to clean up and stop, and only the SIGKILL after the grace period
    would end it.
    """
    restore = own_session and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=own_session,
        preexec_fn=_default_sigint if restore else None,
    )


def _default_sigint() -> None:
    """In the child, before ``exec``: SIGINT interrupts again (see :func:`spawn`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def impsy_run(config: Path, logdir: Path, cwd: Path) -> subprocess.Popen[str]:
    """``impsy run`` from this checkout (``python -m impsy``) on ``config``, logs in ``logdir``."""
    return spawn([sys.executable, "-m", "impsy", "run", "-c", str(config), "-l", str(logdir)], cwd)


def pin(pid: int, cpus: set[int]) -> bool:
    """Keep every thread of process ``pid`` on ``cpus``; False where the OS cannot.

    ``os.sched_setaffinity`` moves one thread on Linux, so each of
    ``/proc/PID/task`` is moved; threads started later inherit it.
    """
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tasks = [pid]
    try:
        for task in tasks:
            os.sched_setaffinity(task, cpus)
    except OSError:
        return False
    return True
