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

A dataset with row weights (spans a performer marked good or bad) draws an
epoch's windows from those, with replacement, in proportion to each
window's weight: a window of rows weighted 2 is seen twice as often as an
unmarked one, one weighted 0 never. Validation windows are never drawn by
weight (they are fixed, every one scored); instead each one's loss counts in
proportion to the same window weight (:mod:`impsy.training.scoring`), so the
epoch that is kept is the one that does best on what the performer marked.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from impsy.training.network import SCALE

AUGMENTATIONS = ("permute", "flip")
"""Per-window changes that keep a performance's dynamics: ``permute`` shuffles which
column each control is in, ``flip`` mirrors a control (x -> 1 - x). Column 0 (dt) is
never touched. Controls are assumed to lie in 0..1, as IMPSY's interface data does."""


def augment_windows(
    windows: np.ndarray, augment: Sequence[str], rng: np.random.Generator
) -> np.ndarray:
    """A changed copy of ``(B, T, D)`` model-space windows: one draw per window.

    A model of 39 performances learns each player's habits per knob; seen
    with knobs shuffled and mirrored it has to learn what carries over to a
    new player: which control is moving, and that the others stay put.
    """
    out = windows.copy()
    batch, _, dimension = windows.shape
    controls = dimension - 1
    if "permute" in augment and controls > 1:
        order = np.argsort(rng.random((batch, controls)), axis=1) + 1
        out[:, :, 1:] = np.take_along_axis(out, order[:, None, :], axis=2)
    if "flip" in augment:
        flip = rng.random((batch, 1, controls)) < 0.5
        out[:, :, 1:] = np.where(flip, np.float32(SCALE) - out[:, :, 1:], out[:, :, 1:])
    return out


class WindowSource:
    """Performances concatenated once (scaled x10), with where each starts and ends."""

    def __init__(
        self,
        performances: Sequence[np.ndarray],
        length: int,
        augment: Sequence[str] = (),
        weights: Sequence[np.ndarray] | None = None,
    ) -> None:
        unknown = set(augment) - set(AUGMENTATIONS)
        if unknown:
            raise ValueError(f"unknown augmentation(s) {sorted(unknown)}; use {AUGMENTATIONS}")
        self.augment = tuple(augment)
        if length < 2:
            raise ValueError(f"a window needs at least 2 rows, got length {length}")
        keep = [i for i, p in enumerate(performances) if len(p) >= length]
        usable = [np.asarray(performances[i], dtype=np.float32) for i in keep]
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
        self.row_weights: np.ndarray | None = None
        """Each row's weight (marked spans, :mod:`impsy.dataset.marks`), None: all equal."""
        if weights is not None and usable:
            self.row_weights = np.concatenate(
                [np.asarray(weights[i], dtype=np.float64) for i in keep]
            )

    def window_weights(self, starts: np.ndarray) -> np.ndarray:
        """A window's weight: the mean weight of the rows it is scored on (rows 1..T)."""
        assert self.row_weights is not None
        cumulative = np.concatenate([[0.0], np.cumsum(self.row_weights)])
        return (cumulative[starts + self.length] - cumulative[starts + 1]) / (self.length - 1)

    def fixed_weights(self, step: int) -> np.ndarray | None:
        """The weights of :meth:`fixed_batches`' windows, in order; None: all equal."""
        if self.row_weights is None:
            return None
        return self.window_weights(self.starts(step))

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
            if self.row_weights is not None:  # drawn in proportion to their weight
                chance = self.window_weights(starts)
                if not chance.sum() > 0:
                    raise ValueError("every training window has weight 0")
                starts = rng.choice(starts, size=size, replace=True, p=chance / chance.sum())
            rng.shuffle(starts)
            starts = starts[:size]
            for first in range(0, size, batch_size):
                if not self.augment:
                    yield self.gather(starts[first : first + batch_size])
                    continue
                windows = self.data[starts[first : first + batch_size, None] + self._offsets]
                windows = augment_windows(windows, self.augment, rng)
                yield windows[:, :-1], windows[:, 1:]

    def fixed_batches(self, step: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One pass over fixed windows (offset 0), for validation: the same every epoch."""
        starts = self.starts(step)
        for first in range(0, len(starts), batch_size):
            yield self.gather(starts[first : first + batch_size])
