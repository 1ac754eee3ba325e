"""Start impsy or IMPSY 1.2.1 with one probe: record each played event's wait and values.

Used by ``benchmarks/engine.py`` for the round-trip and playback runs, under either
interpreter::

    python benchmarks/engine_launch.py impsy EVENTS_FILE run -c CONFIG --logdir DIR
    /tmp/impsy-ref/bin/python benchmarks/engine_launch.py ref EVENTS_FILE run -c ...

Nothing else changes: the command line after EVENTS_FILE goes to the system's own
``impsy`` command. The probe is one list append per event:

- impsy: ``plan_playback`` is wrapped where the engine calls it (``impsy.engine.player``
  for the model's own playing, ``impsy.engine.core`` for polyphony's answers); each
  plan's ``wait`` (the clamped, time-scaled dt it waits before playing) and ``values``
  are recorded. The last plan of a run may never be played.
- IMPSY: ``time.sleep`` as seen by ``impsy/interaction.py`` and
  ``InteractionServer.send_back_values`` are wrapped; on its ``rnn_player_thread`` a
  sleep (``dt * timescale``) followed by a send is one played event.

The values let the receiver tell which event each datagram is (a datagram can be
missed, so counting is not enough); the waits let it compare each arrival with the
cumulative schedule the system itself meant to keep. Events are written one per line,
``wait v1 .. vn``, when the process exits (impsy on SIGTERM, IMPSY on SIGINT; both exit
cleanly).
"""

from __future__ import annotations

import atexit
import sys
import threading
import time

Event = tuple[float, object]  # (wait in seconds, the values sent)


def _dump(path: str, events: list[Event]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for wait, values in events:
            out.write(" ".join(repr(float(v)) for v in (wait, *values)) + "\n")


def _probe_impsy(events: list[Event]) -> None:
    import importlib

    for name in ("impsy.engine.core", "impsy.engine.player"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # an impsy from before the player had its own module
            continue
        plan = module.plan_playback

        def recording_plan(output, timescale, plan=plan):
            planned = plan(output, timescale)
            events.append((planned.wait, planned.values))
            return planned

        module.plan_playback = recording_plan


PLAYER = "rnn_player_thread"


class _RecordingTime:
    """Stands in for the ``time`` module inside IMPSY's interaction.py."""

    def __init__(self) -> None:
        self.last_sleep = float("nan")

    def sleep(self, seconds: float) -> None:
        if threading.current_thread().name == PLAYER:
            self.last_sleep = seconds
        time.sleep(seconds)

    def __getattr__(self, name: str):  # everything else is the real module
        return getattr(time, name)


def _probe_ref(events: list[Event]) -> None:
    import impsy.interaction as interaction

    clock = _RecordingTime()
    interaction.time = clock
    send = interaction.InteractionServer.send_back_values

    def recording_send(self, output_values):
        if threading.current_thread().name == PLAYER and not self.paused:
            events.append((clock.last_sleep, list(output_values)))
        return send(self, output_values)

    interaction.InteractionServer.send_back_values = recording_send


def main() -> None:
    system, events_path, *args = sys.argv[1:]
    events: list[Event] = []
    atexit.register(_dump, events_path, events)
    if system == "impsy":
        _probe_impsy(events)
        from impsy.cli import main as cli
    elif system == "ref":
        _probe_ref(events)
        from impsy.impsy import cli
    else:
        raise SystemExit(f"unknown system {system!r}: expected impsy or ref")
    cli(args, prog_name="impsy")


if __name__ == "__main__":
    main()
