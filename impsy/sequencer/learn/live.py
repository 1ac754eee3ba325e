"""A pattern model in a running sequencer: its knobs as commands, its bars at the bar line.

The model is a file in the patterns folder (``patterns.npz``, what ``impsy
patterns train`` writes), loaded at start when it is there. Every change of
the knobs (a knob, ``generate``, ``vary``, ``interpolate``, the threshold)
decodes a bar, and the bar is written into the current pattern's first
tracks (model track ``t`` into sequencer track ``t``) at the next bar line
while playing, at once while stopped: the music changes on the one, never
mid-bar. Each write is one undo entry per track. The randomness of
``generate`` and ``vary`` comes from one seeded generator.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from impsy.errors import CommandError
from impsy.sequencer.learn.corpus import bars_from_pattern
from impsy.sequencer.learn.knobs import PatternKnobs
from impsy.sequencer.learn.vae import PatternVAE

if TYPE_CHECKING:
    from impsy.sequencer.sequencer import Sequencer

log = logging.getLogger("impsy")

MODEL_NAME = "patterns.npz"
"""The pattern model's file in the patterns folder."""


class PatternLearning:
    """The ``learn/...`` commands' target: a pattern model, its knobs and what is due."""

    def __init__(self, sequencer: Sequencer, folder: Path, seed: int | None = None) -> None:
        self.sequencer = sequencer
        self.path = Path(folder) / MODEL_NAME
        self.knobs: PatternKnobs | None = None
        self.pending = False
        self.rng = np.random.default_rng(seed)
        if self.path.is_file():
            try:
                self.use(PatternVAE.load(self.path))
            except ValueError as err:  # a damaged file must not stop the performance
                log.warning("pattern model not loaded: %s", err)
        sequencer.bar_listeners.append(self._bar)

    def use(self, model: PatternVAE) -> None:
        """Play with ``model`` from now on (the knobs start at its centre)."""
        threshold = self.knobs.threshold if self.knobs is not None else 0.5
        self.knobs = PatternKnobs(model, threshold)

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

    def status(self) -> dict[str, Any]:
        """Flat name/value pairs (an OSC reply carries no lists)."""
        if self.knobs is None:
            return {"model": "", "knobs": 0, "pending": int(self.pending)}
        out: dict[str, Any] = {
            "model": str(self.path),
            "knobs": self.knobs.model.latent,
            "tracks": self.knobs.model.tracks,
            "threshold": self.knobs.threshold,
            "pending": int(self.pending),
        }
        for index, value in enumerate(self.knobs.point):
            out[f"knob{index}"] = float(value)
        return out

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
        if self.pending:
            self.pending = False
            self._write()

    def _write(self) -> None:
        if self.knobs is None:
            return
        bar = self.knobs.bar()
        self.sequencer.editor.write_bar(bar.on, bar.velocity)
