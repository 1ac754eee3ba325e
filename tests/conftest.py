"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from impsy.cli.train import TRAIN_EXTRA_MODULES
from tests.jack import Controller, JackServer, JackUnavailable, Synth


def pytest_configure(config: pytest.Config) -> None:
    """The suite needs the training extra: without it, stop with one line saying so.

    A quiet skip of the Keras comparisons and the training tests would let a
    broken install pass; ``make test`` installs the extra (``.[train,test]``).
    Looked up, not imported: importing it imports TensorFlow (5-10 s), which the
    process that only hands tests to ``pytest -n`` workers never needs.
    """
    missing = [name for name in TRAIN_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(
            f"the tests need impsy's train extra, which is missing ({', '.join(missing)}); "
            "run `make test`, or `pip install -e '.[train,test]'` first"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the installs on other Pythons unless IMPSY_TEST_PYTHONS names them.

    They take minutes (a fresh venv per Python) and need those Pythons:
    `make test-pythons` runs them. Deselected, not skipped: nothing is hidden
    from `make test`, which says how many it left out.
    """
    if os.environ.get("IMPSY_TEST_PYTHONS"):
        return
    other = [item for item in items if item.get_closest_marker("other_pythons")]
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = [item for item in items if item not in other]


LONG_SCOPES = (
    "tests/studio",
    "tests/training/test_train.py",
    "tests/system/test_rpi_install.py",
    "tests/system/test_webui_browser.py",
    "tests/system/test_install.py",
    "tests/web/test_jobs.py",
)
"""The longest units of work (40-150 s each in a ``make test`` run), handed out first.

xdist hands out the files with the most tests first, which puts these (few, long
tests) at the end, where one of them can leave the other worker idle until it ends;
handed out first, the short files fill in around them. In the runs measured the two
workers' test time was within 5 % of each other either way: this keeps it so as
files grow."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN201, ANN001
    """Under ``pytest -n`` (``make test``), hand out whole files, the long ones first.

    A file's tests stay on one worker, so a module's fixtures (a trained model, a
    running server) are made once. The studio tests are one unit: their package's
    Ray cluster then starts once, not on both workers (it keeps a core busy).
    """
    from xdist.scheduler import LoadFileScheduling

    class LongFirst(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/studio" if path.startswith("tests/studio/") else path

        def _assign_work_unit(self, node) -> None:  # noqa: ANN001
            for scope in reversed(LONG_SCOPES):
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return LongFirst(config, log)


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """One JACK server (dummy driver, unique name) for every MIDI test of the session.

    If it cannot start, the MIDI tests fail with jackd's reason: a silent
    skip would let a broken MIDI adapter pass.
    """
    server, problem = JackServer(), None
    try:
        server.start()
    except JackUnavailable as err:
        problem = str(err)
    if problem is not None:
        pytest.fail(f"the MIDI tests need a JACK server: {problem}", pytrace=False)
    saved = {key: os.environ.get(key) for key in server.environment()}
    os.environ.update(server.environment())
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


class JackDevices:
    """Makes controllers and synths on the test's JACK server and closes them afterwards."""

    def __init__(self, server: JackServer) -> None:
        self.server = server
        self._open: list[Controller | Synth] = []

    def controller(self, client: str, port: str = "out") -> Controller:
        device = Controller(client, port)
        self._open.append(device)
        return device

    def synth(self, client: str, port: str = "in") -> Synth:
        device = Synth(client, port)
        self._open.append(device)
        return device

    def close(self, device: Controller | Synth) -> None:
        device.close()
        self._open.remove(device)

    def close_all(self) -> None:
        while self._open:
            self._open.pop().close()


@pytest.fixture
def jack(jack_server: JackServer) -> Iterator[JackDevices]:
    devices = JackDevices(jack_server)
    try:
        yield devices
    finally:
        devices.close_all()
