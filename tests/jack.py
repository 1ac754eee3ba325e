"""A real JACK server and real MIDI devices on it, for the MIDI tests and benchmark.

This machine has no ALSA sequencer, so the MIDI tests run on JACK MIDI with
the dummy audio driver: ``jackd`` (package ``jackd2``) under a unique
server name per run, so parallel runs never share one. Clients find it
through ``JACK_DEFAULT_SERVER``, which libjack reads on every client open.

The server runs in synchronous mode (``-S``): without realtime scheduling
on a busy 2-core machine, the default asynchronous mode drops the MIDI
events of any client that misses its period (33 of 1000 messages lost in a
probe under load, none with ``-S``).

The "controller" is an RtMidi output port playing mido messages (what a
keyboard's MIDI out looks like to impsy); the "synth" is an RtMidi input
port read in queue mode. Not a mido input: mido always installs a Python
callback, and a Python callback running on JACK's process thread
deadlocks against any JACK call another thread makes while holding the
GIL (see ``impsy/io/midi/backend.py``). Reading RtMidi's queue needs no GIL
on JACK's side, so the synth can never take part in such a deadlock.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import IO, TypeVar

import mido
import rtmidi

T = TypeVar("T")

API_NAME = "UNIX_JACK"
SAMPLE_RATE = 48000
PERIOD = 256


class JackUnavailable(RuntimeError):
    """The JACK server could not be started; the message says why and what to do."""


class JackServer:
    """``jackd --no-realtime -S -d dummy`` under a unique name, stopped by ``stop``."""

    def __init__(self, name: str | None = None, period: int = PERIOD) -> None:
        self.name = name or f"impsy-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.period = period
        self.process: subprocess.Popen | None = None
        self.log: IO[str] | None = None

    @property
    def period_ms(self) -> float:
        return self.period / SAMPLE_RATE * 1000

    def start(self, timeout: float = 15.0) -> JackServer:
        missing = [
            tool for tool in ("jackd", "jack_wait", "jack_connect") if not shutil.which(tool)
        ]
        if missing:
            raise JackUnavailable(
                f"{', '.join(missing)} not found; install the jackd2 package "
                "(make apt-packages installs APT_PACKAGES)"
            )
        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
        command = ["jackd", "-n", self.name, "--no-realtime", "-S", "-t", "2000"]
        command += ["-d", "dummy", "-r", str(SAMPLE_RATE), "-p", str(self.period)]
        # jackd's messages go to a file: a pipe nobody reads would block jackd once full.
        self.log = tempfile.NamedTemporaryFile("w+", prefix=f"{self.name}-", suffix=".log")
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JackUnavailable(
                    f"jackd exited with status {self.process.returncode}: {self.output()[-600:]}"
                )
            if self.tool("jack_wait", "-c").stdout.strip() == "running":
                return self
            time.sleep(0.05)
        self.stop()
        raise JackUnavailable(f"jackd -n {self.name} did not come up within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None
        self.log.close()

    def output(self) -> str:
        """What jackd has printed so far."""
        self.log.flush()
        with open(self.log.name) as log:
            return log.read().strip()

    def environment(self) -> dict[str, str]:
        """What a client process needs to find this server through RtMidi."""
        return {"JACK_DEFAULT_SERVER": self.name, "IMPSY_MIDI_API": API_NAME}

    def tool(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [args[0], "-s", self.name, *args[1:]], capture_output=True, text=True, timeout=10
        )

    def connect(self, source: str, destination: str) -> None:
        """``jack_connect``: out of process, so it never holds this process's GIL."""
        result = self.tool("jack_connect", source, destination)
        if result.returncode != 0:
            raise RuntimeError(f"jack_connect {source} {destination}: {result.stderr.strip()}")

    def connections(self, port: str) -> list[str]:
        """Ports connected to ``port``, from ``jack_lsp -c``."""
        lines = self.tool("jack_lsp", "-c", port).stdout.splitlines()
        return [line.strip() for line in lines[1:] if line.startswith((" ", "\t"))]

    def ports(self) -> list[str]:
        return [line for line in self.tool("jack_lsp").stdout.splitlines() if line]


OPEN_PATIENCE_S = 5.0
"""How long a test's own device keeps trying to open its JACK client."""


def open_client(make: Callable[[], T]) -> T:
    """``make()`` a test device's JACK client, trying again for a few seconds if it is refused.

    Once in a ``make test`` run with two pytest workers, jackd (no real-time
    priority, the other worker training a model) refused three client opens in a
    row for a moment ("JACK server not running?" while it ran; later tests on it
    passed). The devices the tests play are not what they test, so their opening
    waits such a moment out; a server that stays down still fails the test.
    """
    deadline = time.monotonic() + OPEN_PATIENCE_S
    while True:
        try:
            return make()
        except rtmidi.SystemError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


class Controller:
    """A MIDI controller: a JACK client with one MIDI output, played by the test.

    Messages are mido messages, or raw byte lists (even malformed ones).
    """

    def __init__(self, client: str, port: str = "out") -> None:
        self._midi = open_client(lambda: rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=client))
        self._midi.open_virtual_port(port)
        self.name = f"{client}:{port}"

    def send(self, message: mido.Message | list[int]) -> None:
        self._midi.send_message(message if isinstance(message, list) else message.bytes())

    def close(self) -> None:
        self._midi.close_port()
        self._midi.delete()


class Synth:
    """A synth: a JACK client with one MIDI input; ``messages`` is what it has received."""

    def __init__(self, client: str, port: str = "in") -> None:
        self._midi = open_client(
            lambda: rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=client, queue_size_limit=8192)
        )
        self._midi.ignore_types(sysex=False, timing=False, active_sense=True)
        self._midi.open_virtual_port(port)
        self.name = f"{client}:{port}"
        self.messages: list[list[int]] = []
        self.deltas: list[float] = []
        """Per message, seconds since the one before it, as JACK timed them."""

    def received(self) -> list[list[int]]:
        while (event := self._midi.get_message()) is not None:
            self.messages.append(event[0])
            self.deltas.append(event[1])
        return self.messages

    async def wait_for(
        self, done: Callable[[list[list[int]]], bool], timeout: float = 2.0
    ) -> list[list[int]]:
        """Read until ``done(messages)``; the messages so far either way."""
        deadline = time.monotonic() + timeout
        while not done(self.received()) and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
        return self.messages

    async def settle(self, quiet: float = 0.05, most: float = 10.0) -> list[list[int]]:
        """Read until nothing has arrived for ``quiet`` seconds (or ``most`` seconds have passed:
        a test whose synth never falls quiet fails on its assertions, it does not hang)."""
        count = -1
        give_up = time.monotonic() + most
        while count != len(self.received()) and time.monotonic() < give_up:
            count = len(self.messages)
            await asyncio.sleep(quiet)
        return self.messages

    def settled(self, quiet: float = 0.2) -> list[list[int]]:
        """``settle`` outside an event loop (after impsy has stopped)."""
        count = -1
        while count != len(self.received()):
            count = len(self.messages)
            time.sleep(quiet)
        return self.messages

    def close(self) -> None:
        self._midi.close_port()
        self._midi.delete()
