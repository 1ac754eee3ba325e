"""The event loop's thread at real-time priority (``impsy.engine.priority``), and only it.

Real system calls throughout, each in a process of its own so pytest keeps
its priority. Whether a process may take a real-time policy depends on the
machine (root, ``RLIMIT_RTPRIO`` or ``CAP_SYS_NICE``): ``PERMITTED`` says
which outcome this machine must give; the refusal is made real with a user
namespace (``unshare -r``), where a process holds no capability over the
host's scheduler, and a real-time limit of 0.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import textwrap

import pytest

from impsy.engine.priority import Priority, raise_priority
from tests.cli import test_locations as locations
from tests.cli.places import make_machine

PERMITTED = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] != 0
"""Whether this machine lets a process take SCHED_FIFO 1 (root here, and in CI)."""
FIFO = os.SCHED_FIFO
RESET = os.SCHED_RESET_ON_FORK

CHILD = textwrap.dedent(
    """
    import asyncio, json, os, subprocess, sys, threading
    from impsy.engine.priority import raise_priority

    got = raise_priority(True)
    seen = {"realtime": got.realtime, "reason": got.reason, "loop": os.sched_getscheduler(0)}
    thread = threading.Thread(target=lambda: seen.update(thread=os.sched_getscheduler(0)))
    thread.start(); thread.join()
    seen["worker"] = asyncio.run(asyncio.to_thread(os.sched_getscheduler, 0))
    child = "import os; print(os.sched_getscheduler(0))"
    seen["child"] = int(subprocess.check_output([sys.executable, "-c", child]))
    print(json.dumps(seen))
    """
)


def run_child(*prefix: str) -> dict:
    import json

    result = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_config_can_leave_the_priority_alone():
    calls = []
    got = raise_priority(False, set_scheduler=lambda *a: calls.append(a))
    assert got == Priority(False, "realtime = false in the config") and calls == []
    assert got.describe() == "normal (realtime = false in the config)"


def test_only_the_calling_thread_runs_real_time_and_nothing_it_starts_inherits_it():
    seen = run_child()
    if not PERMITTED:  # the refusal's own test below covers what such a machine gets
        assert seen["realtime"] is False and seen["loop"] == os.SCHED_OTHER
        return
    assert seen["realtime"] is True and seen["reason"] == ""
    assert seen["loop"] == FIFO | RESET  # the flag reads back with the policy
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # pytest's own thread: untouched
    # a thread, a worker of asyncio.to_thread and a child process: ordinary priority
    assert (seen["thread"], seen["worker"], seen["child"]) == (os.SCHED_OTHER,) * 3


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_refusal_leaves_the_priority_as_it_was_and_says_what_to_do():
    # In a user namespace, with a real-time limit of 0 set before the child runs as before.
    limit = "import resource; resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))"
    then = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
    seen = run_child("unshare", "-r", sys.executable, "-c", f"{limit}; {then}")
    assert seen["realtime"] is False and seen["loop"] == os.SCHED_OTHER
    assert seen["reason"].startswith("real-time priority not permitted (RLIMIT_RTPRIO 0): ")
    assert "audio group" in seen["reason"] and "rtprio=1" in seen["reason"]


def run_and_ask(*args: str, tmp_path) -> tuple[list[str], int, dict]:  # noqa: ANN001
    """``impsy run`` (useronly, OSC): its summary, its loop's policy, its status reply."""
    tmp_path.mkdir()
    machine = make_machine(tmp_path)
    played = locations.run_and_ask(
        machine, locations.useronly_config(machine.work / "config.toml"), *args, gestures=0
    )
    return played.lines, played.policy, played.status


def test_impsy_run_keeps_time_at_real_time_priority_unless_told_not_to(tmp_path):
    lines, policy, status = run_and_ask(tmp_path=tmp_path / "a")
    if PERMITTED:
        assert "timing: real-time (SCHED_FIFO 1) for the event loop" in lines
        assert policy == FIFO | RESET and status["realtime"] == 1
    else:
        assert any(line.startswith("timing: normal (real-time priority not") for line in lines)
        assert policy == os.SCHED_OTHER and status["realtime"] == 0

    lines, policy, status = run_and_ask("--no-realtime", tmp_path=tmp_path / "b")
    assert "timing: normal (realtime = false in the config)" in lines
    assert policy == os.SCHED_OTHER and status["realtime"] == 0
