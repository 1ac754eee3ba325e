"""Real-time scheduling for the event loop's thread, where the system allows it.

Why: every deadline impsy keeps (the sequencer's steps, the model's answers)
is kept by one thread, the event loop's. Measured on a 2-core machine with
a browser open on the web UI: the loop's callbacks were runnable but waited
up to 75 ms for a processor (14-24 involuntary context switches inside one
1-2 ms callback) while Chromium drew the page, and the sequencer at 240 BPM
skipped steps. Nothing in impsy was slow; the operating system gave the
processor to someone else. Audio software answers this the same way (JACK,
Pure Data's ``-rt``): a real-time policy for the thread that keeps time.

The policy is ``SCHED_FIFO`` at priority 1, the lowest real-time priority:
above every ordinary process, below every audio thread (JACK's start at
10), so impsy never delays a sound server. ``SCHED_RESET_ON_FORK`` is set
with it, so nothing started afterwards inherits it: the worker threads
(``asyncio.to_thread``), the trainers and every other child process run at
ordinary priority, and only the loop's thread, which never busy-waits,
holds the processor ahead of others. Linux also caps real-time threads at
95 % of a processor each second (``sched_rt_runtime_us``).

Permitted for root or a process with ``CAP_SYS_NICE``, and for a user whose
``RLIMIT_RTPRIO`` is at least 1 (the ``audio`` group on most Linux audio
setups, systemd's ``LimitRTPRIO=``, Docker's ``--ulimit rtprio=1``);
elsewhere the loop keeps its ordinary priority and the start-up summary
says why. ``realtime = false`` in the config leaves the priority alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

REALTIME_PRIORITY = 1
"""``SCHED_FIFO`` priority of the loop's thread: the lowest real-time one (see the module)."""


@dataclass(frozen=True)
class Priority:
    """What the loop's thread runs at, and in words why (for the summary and the web UI)."""

    realtime: bool
    reason: str

    def describe(self) -> str:
        if self.realtime:
            return f"real-time (SCHED_FIFO {REALTIME_PRIORITY}) for the event loop"
        return f"normal ({self.reason})"


def raise_priority(
    wanted: bool = True,
    set_scheduler: Callable[..., None] | None = None,
) -> Priority:
    """Give the calling thread (call it on the loop's) ``SCHED_FIFO`` 1, reset on fork.

    ``set_scheduler`` is ``os.sched_setscheduler`` (a test may pass another
    to see the call). Never raises: a refusal leaves the priority as it was.
    """
    if not wanted:
        return Priority(False, "realtime = false in the config")
    policy = getattr(os, "SCHED_FIFO", None)
    reset = getattr(os, "SCHED_RESET_ON_FORK", None)
    setter = set_scheduler or getattr(os, "sched_setscheduler", None)
    if policy is None or reset is None or setter is None or not sys.platform.startswith("linux"):
        return Priority(False, f"real-time scheduling is used on Linux only, not {sys.platform}")
    try:
        setter(0, policy | reset, os.sched_param(REALTIME_PRIORITY))
    except PermissionError:
        return Priority(False, not_permitted())
    except OSError as err:
        return Priority(False, f"real-time scheduling refused: {err.strerror or err}")
    return Priority(True, "")


def not_permitted() -> str:
    """Why a refusal happened, and what a musician can do about it."""
    import resource

    limit = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    return (
        f"real-time priority not permitted (RLIMIT_RTPRIO {limit}): add yourself to the "
        "audio group with an rtprio limit, or give the container --ulimit rtprio=1 "
        "(docs/deployment.md, 'Timing and priority')"
    )
