"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.jack import Controller, JackServer, JackUnavailable, Synth


def pytest_configure(config: pytest.Config) -> None:
    """The suite needs the training extra: without it, stop with one line saying so.

    A quiet skip of the Keras comparisons and the training tests would let a
    broken install pass; ``make test`` installs the extra (``.[train,test]``).
    """
    try:
        import keras_mdn_layer  # noqa: F401
    except ImportError as err:
        message = (
            f"the tests need impsy's train extra, which is missing ({err}); "
            "run `make test`, or `pip install -e '.[train,test]'` first"
        )
        raise pytest.UsageError(message) from err


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
