"""A pattern model in a running sequencer: its knobs as commands, its bars at the bar line.

The model is a file in the patterns folder (``patterns.npz``, what ``impsy
patterns train`` writes), loaded at start when it is there. Every change of
the knobs (a knob, ``generate``, ``vary``, ``interpolate``, the threshold)
decodes a bar, and the bar is written into the current pattern's first
tracks (model track ``t`` into sequencer track ``t``) at the next bar line
while playing, at once while stopped: the music changes on the one, never
mid-bar. Each write is one undo entry per track. The randomness of
``generate`` and ``vary`` comes from one seeded generator.

With ``learn/to ghost`` the bar is proposed instead, at the same moment:
its steps become ghost steps on those tracks (the sequencer's ghost
mechanism, ``ModelLane.propose``), heard where the track is silent, and
``seq/accept`` writes them in (they join what the track plays; nothing is
turned off) or ``seq/reject`` drops them. A new bar replaces the last
proposal, so turning a knob shows its bar without touching the pattern.

A model trained while playing comes in at a bar line, its knobs at its
centre. If the old model's last bar is still what the tracks play (nobody
has edited them or switched pattern since), or its proposal is still
waiting, the new model's bar takes its place at that same bar line: you
hear what you trained on the one, whole bars from the old model up to it
and from the new one after. A pattern you made by hand is never
overwritten by a training finishing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from impsy.engine.table import Pending
from impsy.errors import CommandError
from impsy.sequencer.learn.audio import AUDIO_SUFFIXES
from impsy.sequencer.learn.corpus import bars_from_pattern
from impsy.sequencer.learn.knobs import DecodedBar, PatternKnobs
from impsy.sequencer.learn.vae import PatternVAE
from impsy.sequencer.learn.view import knobs_view, map_axes
from impsy.sequencer.model_lane import Ghost

if TYPE_CHECKING:
    from impsy.sequencer.sequencer import Sequencer

log = logging.getLogger("impsy")

MODEL_NAME = "patterns.npz"
"""The pattern model's file in the patterns folder."""
TRAIN_NICE = 19
"""Where the idle policy is not available, training runs this much nicer than the performance."""
TARGETS = ("track", "ghost")
"""Where a decoded bar goes: into the tracks, or proposed as ghost steps."""


class PatternLearning:
    """The ``learn/...`` commands' target: a pattern model, its knobs and what is due."""

    def __init__(
        self,
        sequencer: Sequencer,
        folder: Path,
        seed: int | None = None,
        bank_file: Path | None = None,
    ) -> None:
        self.sequencer = sequencer
        self.path = Path(folder) / MODEL_NAME
        self.bank_file = bank_file
        """The bank's own file, which training leaves out of the folder: the bank as it is
        now is given instead."""
        self.knobs: PatternKnobs | None = None
        self.pending = False
        self.training: asyncio.Task[None] | None = None
        self._next_model: PatternVAE | None = None  # trained, waiting for the bar line
        self._next_axes: np.ndarray | None = None  # its map's axes
        self.rng = np.random.default_rng(seed)
        self.to = "track"
        """Where decoded bars go (``TARGETS``)."""
        self.last_knob = 0
        """The knob ``learn/knob`` moved last: that row's current value is it and its value."""
        self.generation = 0
        """Counts the models used: the web UI fetches the map again when it changes."""
        self._axes = np.eye(2)
        self._written: tuple[str, Any, tuple[tuple[bool, ...], ...]] | None = None
        """The last bar given: where it went, the pattern it went on, what its tracks then
        played (to tell, when a new model comes, whether the tracks still play it)."""
        if self.path.is_file():
            try:
                self.use(PatternVAE.load(self.path))
            except ValueError as err:  # a damaged file must not stop the performance
                log.warning("pattern model not loaded: %s", err)
        sequencer.bar_listeners.append(self._bar)

    def use(self, model: PatternVAE, axes: np.ndarray | None = None) -> None:
        """Play with ``model`` from now on (the knobs start at its centre); ``axes``: its
        map's, when already worked out (off the loop)."""
        threshold = self.knobs.threshold if self.knobs is not None else 0.5
        self.knobs = PatternKnobs(model, threshold)
        self._axes = map_axes(model)[0] if axes is None else axes
        self.generation += 1

    def _need(self) -> PatternKnobs:
        if self.knobs is None:
            raise CommandError(
                f"no pattern model: train one (impsy patterns train LOOPS -o {self.path})"
            )
        return self.knobs

    # ------------------------------------------------------------ the commands
    def knob(self, index: int, value: float) -> None:
        knobs = self._need()
        try:
            knobs.set_knob(index, value)
        except ValueError as err:
            raise CommandError(str(err)) from None
        self.last_knob = index
        self._queue()

    def generate(self) -> None:
        self._need().generate(self.rng)
        self._queue()

    def vary(self, amount: float = 1.0) -> None:
        self._need().vary(self.rng, amount)
        self._queue()

    def interpolate(self, a: int, b: int, t: float) -> None:
        """The point ``t`` of the way from bank pattern ``a``'s first bar to ``b``'s."""
        knobs = self._need()
        knobs.interpolate(self._first_bar(a), self._first_bar(b), t)
        self._queue()

    def threshold(self, value: float) -> None:
        try:
            self._need().set_threshold(value)
        except ValueError as err:
            raise CommandError(str(err)) from None
        self._queue()

    def set_to(self, where: str) -> None:
        """Decoded bars go into the tracks (``track``) or are proposed as ghosts (``ghost``)."""
        if where not in TARGETS:
            raise CommandError(f"learn/to: expected one of {', '.join(TARGETS)}, got {where!r}")
        self.to = where

    def train(self, seconds: float = 10.0, latent: int = 4) -> Pending:
        """Train a new model on the bank (as it is now) and the MIDI files of the patterns
        folder, in a process of its own at a lower priority, while the music goes on; it is
        swapped in at the next bar line (at once when stopped). The outcome reaches the
        sender when the work is done."""
        if self.training is not None and not self.training.done():
            raise CommandError("a pattern model is training already")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[object] = loop.create_future()
        self.training = loop.create_task(self._train(seconds, latent, done))
        return Pending(done)

    async def _train(self, seconds: float, latent: int, done: asyncio.Future[object]) -> None:
        # All of it on a worker thread: writing the bank, starting the process, waiting,
        # reading the model back. The loop only hears how it ended.
        job = (self.sequencer.state.bank, self.path, seconds, latent, self.bank_file)
        try:
            model, summary = await asyncio.to_thread(_train_job, *job)
            axes = await asyncio.to_thread(lambda: map_axes(model)[0])
        except CommandError as err:
            done.set_exception(err)
            return
        except (OSError, ValueError) as err:
            done.set_exception(CommandError(f"pattern training failed: {err}"))
            return
        self.arrive(model, axes)
        log.info("pattern model trained: %s", summary)
        done.set_result(str(self.path))

    def arrive(self, model: PatternVAE, axes: np.ndarray | None = None) -> None:
        """A newly trained model: it comes in at the next bar line while playing, at once
        when stopped (see the module docstring for the bar it brings)."""
        if self.sequencer.playing:
            self._next_model, self._next_axes = model, axes
        else:
            self._swap(model, axes)

    def status(self) -> dict[str, Any]:
        """Flat name/value pairs (an OSC reply carries no lists)."""
        training = int(self.training is not None and not self.training.done())
        if self.knobs is None:
            return {
                "model": "",
                "knobs": 0,
                "pending": int(self.pending),
                "training": training,
                "to": self.to,
            }
        out: dict[str, Any] = {
            "model": str(self.path),
            "knobs": self.knobs.model.latent,
            "tracks": self.knobs.model.tracks,
            "threshold": self.knobs.threshold,
            "pending": int(self.pending),
            "training": training,
            "to": self.to,
        }
        for index, value in enumerate(self.knobs.point):
            out[f"knob{index}"] = float(value)
        return out

    # ------------------------------------------------------------ what the web UI draws
    def view(self) -> dict[str, Any]:
        """The status, and where the knobs are on the map and what they decode to (a decode:
        tens of microseconds, so this runs on the loop)."""
        out: dict[str, Any] = {"status": self.status(), "generation": self.generation}
        if self.knobs is not None:
            out.update(knobs_view(self.knobs, self._axes))
        return out

    def loops(self) -> list[str]:
        """The audio loops in the patterns folder (by bare name; for a worker thread)."""
        folder = self.path.parent
        if not folder.is_dir():
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and not p.name.startswith(".")
        )

    # ------------------------------------------------------------ the bar line
    def _first_bar(self, index: int) -> np.ndarray:
        model = self._need().model
        patterns = self.sequencer.state.bank.patterns
        if not 0 <= index < len(patterns):
            raise CommandError(f"pattern must be 0-{len(patterns) - 1}, got {index}")
        bar = bars_from_pattern(patterns[index], model.steps)[0]
        fitted = np.zeros((model.tracks, model.steps, bar.shape[2]))
        count = min(model.tracks, len(bar))
        fitted[:count] = bar[:count]  # tracks beyond the model's are not its to read
        return fitted

    def _queue(self) -> None:
        if self.sequencer.playing:
            self.pending = True
        else:
            self._write()

    def _bar(self, _number: int) -> None:
        if self._next_model is not None:  # a model trained meanwhile: from this bar on
            model, self._next_model = self._next_model, None
            self._swap(model, self._next_axes)
        if self.pending:
            self.pending = False
            self._write()

    def _swap(self, model: PatternVAE, axes: np.ndarray | None) -> None:
        """The new model from now on; its bar in place of the old one's if that still plays."""
        takes_over = self._still_playing()
        self.use(model, axes)
        if takes_over:
            self.pending = False
            self._write()

    def _still_playing(self) -> bool:
        """Whether the last bar given is still what the tracks play (or still proposed)."""
        if self.knobs is None or self._written is None:
            return False
        where, pattern, grid = self._written
        state, lane = self.sequencer.state, self.sequencer.lane
        if pattern is not state.pattern:
            return False
        if where == "ghost":
            return bool(lane.proposal) and lane.proposed_on is pattern
        return _grid(pattern, len(grid)) == grid

    def _write(self) -> None:
        if self.knobs is None:
            return
        bar = self.knobs.bar()
        pattern = self.sequencer.state.pattern
        if self.to == "ghost":
            self.sequencer.lane.propose(bar_ghosts(pattern.tracks, bar))
        else:
            self.sequencer.editor.write_bar(bar.on, bar.velocity)
        self._written = (self.to, pattern, _grid(pattern, len(bar.on)))


def _grid(pattern: Any, tracks: int) -> tuple[tuple[bool, ...], ...]:
    """Which steps of the pattern's first ``tracks`` tracks play."""
    return tuple(tuple(step.on for step in track.steps) for track in pattern.tracks[:tracks])


def bar_ghosts(tracks: list[Any], bar: DecodedBar) -> dict[tuple[int, int], Ghost]:
    """A decoded bar as ghost steps: model track ``t`` on sequencer track ``t``, every bar of
    it, each step from the nearest sixteenth (as ``Editor.write_bar`` writes a bar), with
    the notes the track's step has."""
    ghosts: dict[tuple[int, int], Ghost] = {}
    sixteenths = bar.on.shape[1]
    for t, (row_on, row_velocity) in enumerate(zip(bar.on, bar.velocity, strict=True)):
        if t >= len(tracks):
            break
        per_bar = 4 * tracks[t].steps_per_beat
        for index, step in enumerate(tracks[t].steps):
            slot = min(sixteenths - 1, (index % per_bar) * sixteenths // per_bar)
            if row_on[slot]:
                ghosts[(t, index)] = Ghost(tuple(step.notes), int(row_velocity[slot]), {})
    return ghosts


def _train_job(
    bank: Any, target: Path, seconds: float, latent: int, saved_bank: Path | None = None
) -> tuple[PatternVAE, str]:
    """On a worker thread: train on ``bank`` and the files beside ``target`` but ``saved_bank``,
    put the model at ``target``; the model and the trainer's summary line."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="impsy-patterns-") as tmp:
        bank_file = Path(tmp) / "bank.json"
        _write_bank(bank, bank_file)
        out = Path(tmp) / MODEL_NAME
        sources = [str(bank_file)]
        if target.parent.is_dir():
            sources.append(str(target.parent))
        argv = [sys.executable, "-m", "impsy", "patterns", "train", *sources]
        argv += ["-o", str(out), "--seconds", repr(seconds), "--latent", str(latent)]
        if saved_bank is not None:
            argv += ["--exclude", str(saved_bank)]
        result = subprocess.run(
            _background(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
        lines = result.stdout.decode(errors="replace").strip().splitlines()
        if result.returncode != 0 or not out.is_file():
            reasons = [line.strip() for line in lines if line.strip().startswith("skipped")]
            why = "; ".join([*reasons, lines[-1]] if lines else [f"exit {result.returncode}"])
            raise CommandError(f"pattern training failed: {why}")
        model = PatternVAE.load(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, target)
    summary = next((line for line in lines if " bars of " in line), str(target))
    return model, summary


def _write_bank(bank: Any, path: Path) -> None:
    """The bank as JSON for the training process, a pattern at a time: this runs on a worker
    thread, and encoding JSON holds the interpreter until it is done, so small pieces keep
    the loop's thread waiting at most a fraction of a millisecond."""
    import json

    pieces = [json.dumps(pattern.to_dict()) for pattern in list(bank.patterns)]
    song = json.dumps(list(bank.song))
    path.write_text('{"song": ' + song + ', "patterns": [' + ", ".join(pieces) + "]}")


def _background(argv: list[str]) -> list[str]:
    """``argv`` run at the lowest priority the system offers, without a ``preexec_fn`` (which
    would make Python copy this whole process to start it).

    Linux's idle policy (``chrt --idle 0``): the training gets a processor only
    when nothing else wants one, so the music's deadlines never wait for it;
    else ``nice -n 19``; else as it is (Windows)."""
    chrt, nice = shutil.which("chrt"), shutil.which("nice")
    if chrt and sys.platform.startswith("linux"):
        return [chrt, "--idle", "0", *argv]
    if nice:
        return [nice, "-n", str(TRAIN_NICE), *argv]
    return argv
