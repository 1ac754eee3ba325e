"""Training windows drawn lazily from whole performances.

A window is ``length = sequence_length + 1`` consecutive rows; the network
sees rows ``0..T-1`` and is scored on rows ``1..T``. IMPSY materialises every
window at step 1 (``T + 1`` copies of each row, 94k x 51 x 9 floats for its
9-D set) before training. Here the rows live once, in one scaled array, and
a window is just a start index; batches are gathered on demand.

Each epoch takes windows ``step`` rows apart from a random offset per
performance, shuffled: with ``step = T`` every row is a target about once
per epoch, and over epochs every alignment is seen, so an epoch costs
``1/T`` of IMPSY's and early stopping can act far sooner.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from impsy.training.network import SCALE


class WindowSource:
    """Performances concatenated once (scaled x10), with where each starts and ends."""

    def __init__(self, performances: Sequence[np.ndarray], length: int) -> None:
        if length < 2:
            raise ValueError(f"a window needs at least 2 rows, got length {length}")
        usable = [np.asarray(p, dtype=np.float32) for p in performances if len(p) >= length]
        self.length = length
        self.performances = len(usable)
        self.dimension = int(usable[0].shape[1]) if usable else 0
        if usable:
            self.data = np.concatenate(usable).astype(np.float32) * np.float32(SCALE)
        else:
            self.data = np.zeros((0, 0), dtype=np.float32)
        ends = np.cumsum([len(p) for p in usable], dtype=np.int64)
        self.bounds = list(
            zip((ends - [len(p) for p in usable]).tolist(), ends.tolist(), strict=True)
        )
        self._offsets = np.arange(length, dtype=np.int64)

    def starts(self, step: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Window starts ``step`` apart in every performance; random offsets if ``rng``."""
        chunks = []
        for begin, end in self.bounds:
            offset = int(rng.integers(step)) if rng is not None else 0
            chunks.append(np.arange(begin + offset, end - self.length + 1, step, dtype=np.int64))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def epoch_size(self, step: int) -> int:
        """Windows per epoch: the fewest any choice of offsets gives, so every epoch is equal."""
        return sum(
            max(0, (end - begin - self.length - (step - 1)) // step + 1)
            for begin, end in self.bounds
        )

    def gather(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` for these window starts: ``(B, T, D)`` each, y one row ahead of x."""
        windows = self.data[starts[:, None] + self._offsets]
        return windows[:, :-1], windows[:, 1:]

    def training_batches(
        self, step: int, batch_size: int, rng: np.random.Generator
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless shuffled batches, ``ceil(epoch_size / batch_size)`` per epoch."""
        size = self.epoch_size(step)
        while True:
            starts = self.starts(step, rng)
            rng.shuffle(starts)
            starts = starts[:size]
            for first in range(0, size, batch_size):
                yield self.gather(starts[first : first + batch_size])

    def fixed_batches(self, step: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One pass over fixed windows (offset 0), for validation: the same every epoch."""
        starts = self.starts(step)
        for first in range(0, len(starts), batch_size):
            yield self.gather(starts[first : first + batch_size])
