"""The sequencer as an impsy adapter: ports, OSC sound, commands, and the model's side.

``SequencerAdapter.sequencer`` is the ``SequencerControl`` every front end
uses; the composition root (``impsy.app``) hands it to the web UI and
registers the ``seq/...`` rows of the command table: playing and editing on
the sequencer, files and the OSC status on this adapter (the file rows run
its ``files``: ``impsy.sequencer.files.pattern_files.PatternFiles``, which
owns the bank file and the patterns folder). What the
adapter plays through comes in its constructor: the ``[osc]`` adapter (for
tracks played over OSC) and the ``[midi]`` adapter (for following its MIDI
clock). At start the adapter:

- opens a MIDI output for every track port and ``clock_out`` port, and the
  ``clock_in`` input (missing ports are warned about once and connected when
  they appear, as in the ``[midi]`` adapter; a track without its port is silent);
  a port that a bank loaded later names is opened then, the same way;
- plays tracks whose port is "" or "osc" as ``/impsy/seq/play i i i``
  (track, note, velocity; 0 = off) through the ``[osc]`` adapter's client,
  with ``osc_timetag_ahead_ms`` ahead of time in bundles stamped with when
  each is due (``impsy.io.osc_timetag``);
- binds the controllers of the config to the command table, so their rules
  run the same rows as OSC and the web UI;
- in follow mode without ``clock_in``, listens to the ``[midi]`` adapter's
  clock messages;
- with ``clock = "link"``, joins the Ableton Link session
  (``impsy.sequencer.link``) and leaves it at stop without stopping it;
- while it plays, records every tempo in effect beside the run's log
  (``impsy.sequencer.files.tempo_log``), for ``impsy export-session``'s tempo map.

The engine's predictions arrive in ``send``: they are placed on the model
track's grid (quantised), or proposed as ghost steps. Human actions on the
sequencer go the other way, into ``engine.user_input``, so they are logged
and answered like any gesture. In callresponse the model hands back at a
bar line after ``response_bars`` bars.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from impsy.clock import Clock, LoopClock
from impsy.engine.ports import Adapter
from impsy.errors import CommandError
from impsy.ratelimit import RateLimitedWarning
from impsy.sequencer.bridge import GridMapping, default_mapping
from impsy.sequencer.control import SequencerEvent
from impsy.sequencer.files.pattern_files import PatternFiles, startup_bank
from impsy.sequencer.files.tempo_log import TempoLog, tempo_path
from impsy.sequencer.learn.live import PatternLearning
from impsy.sequencer.link import LinkSession
from impsy.sequencer.pattern import Bank, Pattern, Track
from impsy.sequencer.sequencer import Sequencer
from impsy.sequencer.voices import NOTE_OFF, NOTE_ON

if TYPE_CHECKING:
    from impsy.config.schema import SequencerConfig
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable
    from impsy.io.midi.ports import Port, PortManager


class MessageSender(Protocol):
    """Where tracks played over OSC go: the ``[osc]`` adapter."""

    def send_message(self, address: str, args: list[Any]) -> None: ...

    def send_message_at(
        self, address: str, args: list[Any], due: float, ahead_s: float
    ) -> object: ...


class RealtimeSource(Protocol):
    """A MIDI input whose clock messages the sequencer can follow: the ``[midi]`` adapter."""

    realtime_listeners: list[Callable[[Any], None]]


log = logging.getLogger("impsy")

PLAY_ADDRESS = "/impsy/seq/play"
CC_ADDRESS = "/impsy/seq/cc"
STATUS_ADDRESS = "/impsy/seq/status"
HISTOGRAM_ADDRESS = "/impsy/seq/histogram"


def initial_bank(config: SequencerConfig) -> Bank:
    """One pattern with the configured tracks, every step off."""
    tracks = [
        Track.empty(
            t.name, t.steps, port=t.port, channel=t.channel, steps_per_beat=t.steps_per_beat
        )
        for t in config.tracks
    ]
    return Bank([Pattern("pattern 1", tracks)])


class SequencerAdapter(Adapter):
    """The ``[sequencer]`` section."""

    name = "sequencer"

    def __init__(
        self,
        config: SequencerConfig,
        dimension: int,
        commands: CommandTable,
        *,
        osc: MessageSender | None = None,
        midi: RealtimeSource | None = None,
        clock: Clock | None = None,
        api: str | None = None,
    ) -> None:
        self.config = config
        self.dimension = dimension
        self.mapping = GridMapping(
            config.mapping or default_mapping(dimension), config.note_low, config.note_high
        )
        bank_path = Path(config.patterns).expanduser() if config.patterns else None
        self.sequencer = Sequencer(
            startup_bank(bank_path, initial_bank(config)),
            clock or LoopClock(),
            self._output,
            tempo=config.tempo,
            swing=config.swing,
            clock_source=config.clock,
            clock_output=self._clock_output,
            model_track=config.model_track,
            quantise=config.quantise,
            ghost_steps=config.ghosts,
            model_gate=config.model_gate,
            edit_mode=config.edit_mode,
        )
        self.sequencer.set_latency(
            {name: ms / 1000 for name, ms in config.latency_ms.items()}, config.clock_out
        )
        self.link: LinkSession | None = None
        """With ``clock = "link"``: the session, joined at start."""
        self.sequencer.on_gesture = self._gesture
        self.osc_ahead_s = config.osc_timetag_ahead_ms / 1000
        """The OSC tracks' time-tag look-ahead (``osc_timetag_ahead_ms``); 0: off."""
        if self.osc_ahead_s > 0:
            self.sequencer.set_timetags({"osc": self.osc_ahead_s})
        self.sequencer.bar_listeners.append(self._bar)
        self.engine: Engine | None = None
        self.commands = commands
        self.osc = osc
        self.osc_observer: Callable[[str, list[Any], float | None], None] | None = None
        """Hears each message sent to the OSC client (address, arguments, the instant it is
        stamped with or None), after it has gone: OSCQuery's LISTEN sets it while someone
        listens to one of these addresses; otherwise None, and the notes pay one check."""
        self.midi = midi
        self.ports: PortManager | None = None
        self._outputs: dict[str, Port] = {}
        self._clock_in: Port | None = None
        self._midi_adapter = None
        self.controllers: list[Any] = []  # impsy.sequencer.controllers.port.ControllerPort
        self._api = api
        self._response_until: int | None = None
        self._warn = RateLimitedWarning()
        self.tempo_log: TempoLog | None = None
        self.files = PatternFiles(
            self.sequencer, bank_path, self._file_failed, self._open_bank_outputs
        )
        """The bank file and the patterns folder; the ``seq/save``... rows reach it here."""
        self.learning = PatternLearning(self.sequencer, self.files.folder, bank_file=bank_path)
        """The pattern model (``patterns.npz`` in the patterns folder); ``learn/...`` rows."""
        self._opening: set[asyncio.Future[None]] = set()

    # ----------------------------------------------------------- lifecycle
    async def start(self, engine: Engine) -> None:
        self.engine = engine
        await self._open_ports()
        if self.config.clock == "link":
            self._join_link()
        if self.config.clock == "follow" and self._clock_in is None:
            self._midi_adapter = self.midi
            if self._midi_adapter is not None:
                self._midi_adapter.realtime_listeners.append(self._realtime)
            else:
                log.warning("sequencer: clock = follow but no MIDI input to follow")
        await self._start_controllers(engine)
        event_log = engine.event_log
        if event_log is not None:
            self.tempo_log = TempoLog(tempo_path(event_log.path))
            self.sequencer.add_listener(self._tempo_event)
        if self.config.autostart and self.config.clock != "follow":
            self.sequencer.start()

    async def stop(self) -> None:
        if self.engine is None:
            return
        await self.files.drain()  # MIDI files being written are finished
        for task in list(self._opening):
            task.cancel()
        await asyncio.gather(*self._opening, return_exceptions=True)
        self.engine = None
        if self.link is not None:  # impsy stops; the session plays on for the others
            self.sequencer.leave_link()
            self.link.close()
            self.link = None
        elif self.sequencer.playing and self.config.clock != "follow":
            self.sequencer.stop()
        self.sequencer.release_all()
        if self.tempo_log is not None:
            self.sequencer.remove_listener(self._tempo_event)
            self.tempo_log.close()
            self.tempo_log = None
        if self._midi_adapter is not None:
            if self._realtime in self._midi_adapter.realtime_listeners:
                self._midi_adapter.realtime_listeners.remove(self._realtime)
            self._midi_adapter = None
        for controller in reversed(self.controllers):
            try:
                await controller.stop()
            except Exception:  # one broken controller must not keep the ports open
                log.exception("sequencer: error stopping a controller")
        self.controllers.clear()
        if self.ports is not None:
            ports, self.ports = self.ports, None
            await ports.stop()

    def _join_link(self) -> None:
        config, seq = self.config, self.sequencer
        self.link = LinkSession(
            seq.tempo, config.link_quantum, config.link_start_stop, seq.clock.now
        )
        self.link.open()
        seq.join_link(self.link)

    async def _start_controllers(self, engine: Engine) -> None:
        """The ``controllers`` of the config, each with its profile's rules and LEDs."""
        if not self.config.controllers:
            return
        from impsy.sequencer.controllers.port import ControllerPort, load_profile

        for entry in self.config.controllers:
            controller = ControllerPort(
                load_profile(entry.profile, tuple(self.commands)),
                self.sequencer,
                self.commands,
                engine,
                entry.in_device,
                entry.out_device,
                api=self._api,
            )
            await controller.start()
            self.controllers.append(controller)

    async def _open_ports(self) -> None:
        names = {t.port for p in self.sequencer.bank.patterns for t in p.tracks if not t.plays_osc}
        names |= set(self.config.clock_out)
        clock_in = self.config.clock_in if self.config.clock == "follow" else ""
        if not names and not clock_in:
            return
        from impsy.io.midi.ports import Port

        self._outputs = {name: Port(name, is_input=False) for name in sorted(names)}
        inputs = []
        if clock_in:
            self._clock_in = Port(clock_in, is_input=True)
            inputs.append(self._clock_in)
        await self._start_ports(inputs)

    async def _start_ports(self, inputs: list[Port]) -> None:
        """One port manager for ``inputs`` and every output in ``_outputs``; None if it fails."""
        from impsy.io.midi.backend import selected_api
        from impsy.io.midi.ports import PortManager

        self.ports = PortManager(
            selected_api(self._api), inputs, list(self._outputs.values()), self._midi_in
        )
        try:
            await self.ports.start()
        except BaseException:
            ports, self.ports = self.ports, None
            await ports.stop()
            raise

    def _open_output(self, name: str) -> None:
        """Open a track's port that was not open at start (a bank loaded or imported since).

        The port joins the watched outputs: connected on the next port check
        (every 0.5 s), or whenever the device appears; until then the track
        is silent, as with a port missing at start.
        """
        if self.engine is None or name in self._outputs:
            return
        from impsy.io.midi.ports import Port

        self._outputs[name] = Port(name, is_input=False)
        log.info("sequencer: opening MIDI output %r for a track of the loaded bank", name)
        task = asyncio.ensure_future(self._watch_outputs())
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _watch_outputs(self) -> None:
        if self.ports is not None:
            self.ports.outputs = tuple(self._outputs.values())  # the watcher connects them
            return
        try:
            await self._start_ports([])
        except Exception as err:  # e.g. no MIDI system at all: the track stays silent
            self._warn.warn("open outputs", f"sequencer: cannot open MIDI outputs: {err}")

    def _open_bank_outputs(self) -> None:
        for pattern in self.sequencer.bank.patterns:
            for track in pattern.tracks:
                if not track.plays_osc:
                    self._open_output(track.port)

    def describe(self) -> str:
        seq = self.sequencer
        tracks = ", ".join(
            f"{t.name} ({'OSC' if t.plays_osc else repr(t.port)} ch {t.channel})"
            for t in seq.pattern.tracks
        )
        controllers = "".join(f"; {c.describe()}" for c in self.controllers)
        clock = self.config.clock
        if seq.link is not None:
            peers = seq.link.peers
            clock += f" ({peers} peer{'' if peers == 1 else 's'}, quantum {seq.link.quantum})"
        return (
            f"sequencer {seq.tempo:g} BPM, clock {clock}, "
            f"{len(seq.bank.patterns)} pattern(s); tracks {tracks}{controllers}"
        )

    def health(self) -> dict[str, object]:
        missing = [p.key for p in self._outputs.values() if p.midi is None]
        if self._clock_in is not None and self._clock_in.midi is None:
            missing.append(self._clock_in.key)
        for controller in self.controllers:
            missing += controller.health().get("missing_ports", [])
        state = "waiting" if missing else "open"
        return {
            "name": self.name,
            "description": self.describe(),
            "state": state,
            "missing_ports": missing,
            "playing": self.sequencer.playing,
            "tempo": self.sequencer.tempo,
            "seq_lateness_p50_ms": self.sequencer.lateness.percentile_ms(50),
            "seq_lateness_p99_ms": self.sequencer.lateness.percentile_ms(99),
            "seq_lateness_max_ms": self.sequencer.lateness.max_s * 1000,
            "seq_events": self.sequencer.lateness.count,
            "controllers": [c.health() for c in self.controllers],
            "link": self.sequencer.link.status() if self.sequencer.link is not None else None,
        }

    # -------------------------------------------------------------- sound
    def _output(
        self, index: int, track: Track, message: list[int], due: float | None = None
    ) -> None:
        """One message of a track; ``due``: it is handed over ahead, stamped with that instant
        (OSC tracks with a look-ahead)."""
        if track.plays_osc:
            if self.osc is None:
                self._warn.warn(
                    "no osc",
                    f"sequencer: track {track.name!r} plays through OSC but there is no [osc] "
                    "section; it is silent",
                )
                return
            kind = message[0] & 0xF0
            if kind == NOTE_ON:
                address, args = PLAY_ADDRESS, [index, message[1], message[2]]
            elif kind == NOTE_OFF:
                address, args = PLAY_ADDRESS, [index, message[1], 0]
            else:
                address, args = CC_ADDRESS, [index, message[1], message[2]]
            if due is None:
                self.osc.send_message(address, args)
            else:
                self.osc.send_message_at(address, args, due, self.osc_ahead_s)
            observer = self.osc_observer
            if observer is not None:
                observer(address, args, due)
            return
        port = self._outputs.get(track.port)
        if port is None:
            self._open_output(track.port)
            return
        if port.midi is not None:
            port.midi.send_message(message)

    def _clock_output(self, message: list[int]) -> None:
        for name in self.config.clock_out:
            port = self._outputs.get(name)
            if port is not None and port.midi is not None:
                port.midi.send_message(message)

    # -------------------------------------------------------------- clock in
    def _midi_in(self, port: Port, message: list[int], when: float) -> None:
        if message and message[0] >= 0xF0:
            self.sequencer.clock_message(message, self._loop_time(when))
            self._follow_tempo()

    def _realtime(self, message: Any) -> None:  # a mido.Message from the [midi] adapter
        self.sequencer.clock_message(message.bytes())
        self._follow_tempo()

    # -------------------------------------------------------------- tempo map
    def _follow_tempo(self) -> None:
        """Follow mode: the master's tempo as estimated, which moves with every tick."""
        seq = self.sequencer
        if self.tempo_log is not None and seq.playing and seq.estimator.bpm is not None:
            self.tempo_log.observe(seq.tempo)

    def _tempo_event(self, event: SequencerEvent) -> None:
        """The tempo when playing starts, and each change while it plays.

        Following, the tempo is not known until the master's ticks say it:
        ``_follow_tempo`` records it.
        """
        seq = self.sequencer
        if self.tempo_log is None or not seq.playing or seq.clock_source == "follow":
            return
        if event.kind in ("transport", "tempo"):
            self.tempo_log.observe(seq.tempo, exact=True)

    def _loop_time(self, monotonic: float) -> float:
        """The sequencer's clock for a ``time.monotonic()`` stamp (the loop uses the same)."""
        return self.sequencer.clock.now() - (time.monotonic() - monotonic)

    # -------------------------------------------------------------- the model
    def send(self, values: np.ndarray) -> None:
        """A prediction (or an input_thru echo): onto the model track's grid."""
        if self.sequencer.model_track < 0:
            return
        note = self.mapping.to_grid(values)
        if note is None:
            return
        engine = self.engine
        if engine is not None and engine.responding and self._response_until is None:
            bars = self.config.response_bars
            if bars > 0:
                self._response_until = self.sequencer.next_bar + bars
        self.sequencer.place_model_note((note.note,), note.velocity, note.cc)

    def release(self) -> None:
        self._response_until = None
        self.sequencer.release_model()

    def _bar(self, bar: int) -> None:
        engine = self.engine
        if engine is None or self._response_until is None:
            return
        if not engine.responding:
            self._response_until = None
        elif bar >= self._response_until:
            self._response_until = None
            engine.end_response()

    def _gesture(self, note: int, velocity: int, cc: dict[int, int]) -> None:
        if self.engine is not None:
            updates = self.mapping.to_updates(note, velocity, cc)
            if updates:
                self.engine.user_input(updates, "sequencer")

    def send_status(self) -> None:
        """``/impsy/seq/status`` name/value pairs and ``/impsy/seq/histogram`` to the OSC client."""
        if self.osc is None:
            raise CommandError("seq/status replies over OSC, but there is no [osc] section")
        snap = self.sequencer.snapshot()
        late = snap["lateness"]
        values = {
            "tempo": float(snap["tempo"]),
            "playing": int(snap["playing"]),
            "playhead": snap["playhead"],
            "pattern": snap["selected_pattern"],
            "track": snap["selected_track"],
            "lateness_count": late["count"],
            "lateness_p50_ms": float(late["p50_ms"]),
            "lateness_p99_ms": float(late["p99_ms"]),
            "lateness_max_ms": float(late["max_ms"]),
        }
        link = snap["clock"].get("link")
        if link is not None:
            values |= {
                "link_peers": link["peers"],
                "link_beat": float(link["beat"]),
                "link_phase": float(link["phase"]),
                "link_quantum": link["quantum"],
            }
        args: list[Any] = []
        for key, value in values.items():
            args += [key, value]
        counts = list(late["histogram"]["counts"])
        self.osc.send_message(STATUS_ADDRESS, args)
        self.osc.send_message(HISTOGRAM_ADDRESS, counts)
        observer = self.osc_observer
        if observer is not None:
            observer(STATUS_ADDRESS, args, None)
            observer(HISTOGRAM_ADDRESS, counts, None)

    # -------------------------------------------------------------- files
    def _file_failed(self, reason: str, detail: str) -> None:
        """MIDI file work that failed after its command returned (``PatternFiles``)."""
        if self.engine is not None:
            self.engine.bad_input("sequencer", reason, detail)
        else:
            log.warning("sequencer: %s: %s", reason, detail)
