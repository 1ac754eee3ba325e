"""Temperature guidance: which ``pitemp`` and ``sigmatemp`` make the model play like the data.

For each cell of a grid of ``(pi_temp, sigma_temp)`` the model plays on its
own: it is primed on a stretch of a real performance from the dataset (a
*seed state*), then each sampled event, as the engine would play it, is fed
back as the next input, for a number of steps. What it played is compared
with the dataset, feature by feature, and the cell with the smallest total
distance is recommended.

**As played.** Both sides are compared as the engine plays them: dt clamped
to at least ``min_dt`` (the engine's ``MIN_DT``, 1 ms; a NaN dt becomes
``min_dt`` too) and ``x_1..x_n`` clipped to ``[0, 1]`` (see
``impsy.engine.playback.plan_playback``, which this mirrors: the model layer
cannot import the engine). A free-running step feeds that played vector back.

**Features.** ``log10(dt)`` (timing is heard in ratios, and in seconds a few
long pauses would outweigh every short interval); for each output dimension
``x_j``, its values and its step-to-step changes ``x_j[t+1] - x_j[t]``
(within a performance or a free run, never across two).

**Distance.** Each feature's distance is the 1-D Wasserstein-1 distance
between the two samples' empirical distributions, ``W1 = integral |F_a(x) -
F_b(x)| dx`` (the mean absolute difference between matched quantiles),
computed exactly from the sorted samples. It is divided by the data's
*spread* for that feature, ``mean |x - median(x)|``, which is the W1 distance
from the data to a point mass at its median; so ``1.0`` means "as far from
the data as a model that always plays the data's median" and ``0`` means the
same distribution. (A feature with no spread in the data, say a dimension
never moved, is left in its own units.) The total weighs the three groups
equally, whatever the dimension::

    total = (d_dt + mean_j d_change_j + mean_j d_value_j) / 3

(for a dimension-1 model, dt alone). Ties go to the earlier cell in the grid.

**Noise.** Each cell is also scored on the even- and the odd-numbered seed
states' runs alone; how far those two totals differ estimates the sampling
noise (:attr:`Guidance.noise`), and :meth:`Guidance.close_to_best` lists the
cells the run cannot tell from the best.

**Determinism.** Everything random comes from ``seed``: the seed states
(which performances, where in them) and, for each seed state, the sampling
generator, which is the same in every cell (common random numbers, so cells
differ by their temperatures and not by luck). The model's own generator and
temperatures are not touched. No clock is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from impsy.clock import MIN_DT
from impsy.model.errors import ModelError
from impsy.model.nll import Steppable
from impsy.model.params import SCALE
from impsy.model.sampling import draw

DEFAULT_PI_TEMPS = (0.25, 0.5, 0.75, 1.0, 1.5)
DEFAULT_SIGMA_TEMPS = (0.0025, 0.005, 0.01, 0.02, 0.04)
"""The default grid: around IMPSY's defaults ``pitemp = 1.0``, ``sigmatemp = 0.01``."""
DEFAULT_STEPS = 8000
"""Events played per cell, shared among the seed states."""
DEFAULT_SEEDS = 16
"""Seed states: stretches of real performances the model is primed on before each run."""
DEFAULT_PRIME = 50
"""Rows in each seed state."""


# ------------------------------------------------------------------ distances
def wasserstein_1d(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> float:
    """The exact W1 distance between the empirical distributions of samples ``a`` and ``b``.

    ``integral |F_a(x) - F_b(x)| dx``, summed over the gaps between the merged
    sorted samples (where both CDFs are constant); the samples may differ in
    size. Raises ValueError for an empty sample. This is the definition;
    :class:`SortedSample` computes the same number faster against a large,
    fixed sample.
    """
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    if not len(a) or not len(b):
        raise ValueError("the W1 distance needs two non-empty samples")
    merged = np.concatenate([a, b])
    merged.sort(kind="stable")
    at = merged[:-1]
    cdf_a = np.searchsorted(a, at, side="right") / len(a)
    cdf_b = np.searchsorted(b, at, side="right") / len(b)
    return float(np.dot(np.abs(cdf_a - cdf_b), np.diff(merged)))


class SortedSample:
    """A sample kept sorted with its prefix sums, to measure W1 distances to it quickly.

    ``W1(a, b) = integral_0^1 |Q_a(u) - Q_b(u)| du`` with ``Q`` the quantile
    functions. ``Q_a`` is the constant ``a_i`` on ``[i/n, (i+1)/n)``, and on
    that interval ``Q_b`` is below ``a_i`` up to ``u* = #{b < a_i} / m`` and
    at or above it after, so each piece is exact through
    ``G(u) = integral_0^u Q_b``, which prefix sums give in O(1). The cost is
    O(n log m) for ``n`` new values against ``m`` fixed ones.
    """

    def __init__(self, values: np.ndarray | Sequence[float]) -> None:
        self.sorted = np.sort(np.asarray(values, dtype=np.float64).ravel())
        if not len(self.sorted):
            raise ValueError("the W1 distance needs two non-empty samples")
        self._prefix = np.concatenate([[0.0], np.cumsum(self.sorted)])

    def __len__(self) -> int:
        return len(self.sorted)

    def _integral(self, u: np.ndarray) -> np.ndarray:
        """``G(u)``, the integral of this sample's quantile function from 0 to ``u``."""
        m = len(self.sorted)
        k = np.minimum(np.floor(u * m).astype(np.int64), m - 1)
        return self._prefix[k] / m + (u - k / m) * self.sorted[k]

    def distance(self, values: np.ndarray | Sequence[float]) -> float:
        """``wasserstein_1d(values, this sample)``."""
        a = np.sort(np.asarray(values, dtype=np.float64).ravel())
        n = len(a)
        if not n:
            raise ValueError("the W1 distance needs two non-empty samples")
        u0 = np.arange(n) / n
        u1 = np.arange(1, n + 1) / n
        cross = np.searchsorted(self.sorted, a, side="left") / len(self.sorted)
        mid = np.clip(cross, u0, u1)
        g0, g_mid, g1 = self._integral(u0), self._integral(mid), self._integral(u1)
        below = a * (mid - u0) - (g_mid - g0)  # Q_b < a_i on [u0, mid)
        above = (g1 - g_mid) - a * (u1 - mid)  # Q_b >= a_i on [mid, u1)
        return float(np.sum(below) + np.sum(above))


def spread(a: np.ndarray | Sequence[float]) -> float:
    """``mean |a - median(a)|``: the W1 distance from ``a`` to a point mass at its median."""
    a = np.asarray(a, dtype=np.float64).ravel()
    if not len(a):
        raise ValueError("spread needs a non-empty sample")
    return float(np.abs(a - np.median(a)).mean())


def normalised_distance(sample: np.ndarray, data: np.ndarray) -> float:
    """``W1(sample, data) / spread(data)``; W1 itself when the data has no spread."""
    distance = wasserstein_1d(sample, data)
    data_spread = spread(data)
    return distance / data_spread if data_spread > 0.0 else distance


# ------------------------------------------------------------------- features
def as_played(rows: np.ndarray, min_dt: float = MIN_DT) -> np.ndarray:
    """``[dt, x_1..x_n]`` rows as the engine plays them: dt >= ``min_dt``, x in [0, 1]."""
    played = np.array(rows, dtype=np.float64, ndmin=2)
    dt = played[:, 0]
    dt[~(dt >= min_dt)] = min_dt  # NaN too
    np.clip(played[:, 1:], 0.0, 1.0, out=played[:, 1:])
    return played


@dataclass(frozen=True)
class Features:
    """The samples compared: log10 dt, and per output dimension its changes and its values."""

    log_dt: np.ndarray
    changes: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, performances: Sequence[np.ndarray], min_dt: float = MIN_DT) -> Features:
        """Features of performances (each ``(N_i, D)``), each taken as played."""
        played = [as_played(p, min_dt) for p in performances if len(p)]
        if not played:
            raise ValueError("no rows to take features from")
        rows = np.concatenate(played)
        moved = [np.diff(p[:, 1:], axis=0) for p in played if len(p) > 1]
        changes = np.concatenate(moved) if moved else np.zeros((0, rows.shape[1] - 1))
        return cls(
            np.log10(rows[:, 0]),
            tuple(changes[:, j] for j in range(changes.shape[1])),
            tuple(rows[:, j] for j in range(1, rows.shape[1])),
        )


@dataclass(frozen=True)
class Distances:
    """One cell's normalised distances (see the module doc) and their total."""

    dt: float
    changes: tuple[float, ...]
    values: tuple[float, ...]

    @property
    def change(self) -> float:
        """Mean over output dimensions of the change distances (NaN with none)."""
        return float(np.mean(self.changes)) if self.changes else math.nan

    @property
    def value(self) -> float:
        """Mean over output dimensions of the value distances (NaN with none)."""
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def total(self) -> float:
        """``(dt + change + value) / 3``; dt alone when there are no output dimensions."""
        if not self.values:
            return self.dt
        return (self.dt + self.change + self.value) / 3.0


class Reference:
    """The dataset's features, sorted, with their spreads: built once, compared with each cell."""

    def __init__(self, performances: Sequence[np.ndarray], min_dt: float = MIN_DT) -> None:
        if not any(len(p) > 1 for p in performances):
            raise ValueError("no performance has two or more rows")
        features = Features.of(performances, min_dt)
        self.dimension = len(features.values) + 1
        self.log_dt = _Target(features.log_dt)
        self.changes = tuple(_Target(c) for c in features.changes)
        self.values = tuple(_Target(v) for v in features.values)

    def distances(self, played: Features) -> Distances:
        """How far ``played`` is from the data, feature by feature."""
        if len(played.values) + 1 != self.dimension:
            raise ValueError(
                f"played dimension {len(played.values) + 1} but the data is dimension "
                f"{self.dimension}"
            )
        return Distances(
            self.log_dt.distance(played.log_dt),
            tuple(t.distance(c) for t, c in zip(self.changes, played.changes, strict=True)),
            tuple(t.distance(v) for t, v in zip(self.values, played.values, strict=True)),
        )


class _Target:
    """One feature of the data: its sorted sample and its spread."""

    def __init__(self, values: np.ndarray) -> None:
        self.sample = SortedSample(values)
        self.spread = spread(values)

    def distance(self, values: np.ndarray) -> float:
        """``W1(values, data) / spread``, or W1 itself when the data has no spread."""
        distance = self.sample.distance(values)
        return distance / self.spread if self.spread > 0.0 else distance


# ---------------------------------------------------------------- free running
@dataclass(frozen=True)
class SeedState:
    """Where a free run starts: the model is fed ``rows`` (a stretch of a performance) first."""

    performance: int
    start: int
    rows: np.ndarray


def seed_states(
    performances: Sequence[np.ndarray], count: int, prime: int, rng: np.random.Generator
) -> list[SeedState]:
    """``count`` stretches of up to ``prime`` rows from performances with two or more rows.

    Performances are drawn without replacement while there are enough, the
    start uniformly among those that leave a full stretch.
    """
    if count < 1 or prime < 1:
        raise ValueError("count and prime must be at least 1")
    eligible = [i for i, p in enumerate(performances) if len(p) > 1]
    if not eligible:
        raise ValueError("no performance has two or more rows")
    chosen = rng.choice(eligible, size=count, replace=count > len(eligible))
    states = []
    for index in chosen.tolist():
        rows = np.asarray(performances[index], dtype=np.float32)
        length = min(prime, len(rows))
        start = int(rng.integers(0, len(rows) - length + 1))
        states.append(SeedState(index, start, rows[start : start + length]))
    return states


def free_run(
    model: Steppable,
    prime_rows: np.ndarray,
    steps: int,
    pi_temp: float,
    sigma_temp: float,
    rng: np.random.Generator,
    min_dt: float = MIN_DT,
) -> np.ndarray:
    """``steps`` events the model plays on its own after being fed ``prime_rows``, as played.

    The model is reset first; each sampled event is clamped and clipped as the
    engine plays it (:func:`as_played`) and fed back. Returns ``(steps, D)``
    float64 rows; the prime rows are not included.
    """
    dimension, mixtures = model.dimension, model.mixtures
    out = np.empty((steps, dimension), dtype=np.float64)
    model.reset()
    raw = None
    for row in np.asarray(prime_rows, dtype=np.float32):
        raw = model.step(row).raw
    if raw is None:
        raise ValueError("free_run needs at least one prime row")
    unscale = 1.0 / SCALE
    for t in range(steps):
        event = draw(raw, dimension, mixtures, pi_temp, sigma_temp, rng, unscale)
        if not event[0] >= min_dt:
            event[0] = min_dt
        np.clip(event[1:], 0.0, 1.0, out=event[1:])
        out[t] = event
        raw = model.step(event).raw  # the played vector, as the engine feeds back
    return out


# -------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Cell:
    """One grid cell: its temperatures and how far the model's playing is from the data.

    ``halves`` are the totals of the even- and odd-numbered seed states' runs
    on their own (None with one seed state): how much they differ shows the
    sampling noise in ``distances.total``.
    """

    pi_temp: float
    sigma_temp: float
    distances: Distances
    halves: tuple[float, float] | None = None


@dataclass(frozen=True)
class Guidance:
    """The grid's results, in grid order (pi outer, sigma inner), and the recommendation."""

    cells: list[Cell]
    best: Cell
    steps: int
    seeds: list[SeedState]
    seed: int
    min_dt: float

    @property
    def noise(self) -> float:
        """An estimate of the standard error of a cell's total (NaN with one seed state).

        A cell's total is about the mean of its two halves' totals, so its
        standard error is about ``|half_a - half_b| / 2``. One cell's estimate
        is rough and some cells (high temperatures) are far noisier than
        others, so this is the median over the cells divided by 0.6745 (the
        median of ``|N(0, 1)|``): robust to a few wild cells.
        """
        gaps = [
            abs(a - b) / 2.0
            for cell in self.cells
            if cell.halves is not None
            for a, b in [cell.halves]
            if math.isfinite(a - b)
        ]
        return float(np.median(gaps)) / 0.6745 if gaps else math.nan

    def close_to_best(self) -> list[Cell]:
        """The cells (the best included) whose total is within twice :attr:`noise` of the best's."""
        noise = self.noise
        margin = 2.0 * noise if math.isfinite(noise) else 0.0
        limit = self.best.distances.total + margin
        return [cell for cell in self.cells if cell.distances.total <= limit]

    def edges(self) -> list[str]:
        """Where the best cell is at the end of a grid axis that has more than one value."""
        notes = []
        for name, value, axis in (
            ("pi", self.best.pi_temp, sorted({cell.pi_temp for cell in self.cells})),
            ("sigma", self.best.sigma_temp, sorted({cell.sigma_temp for cell in self.cells})),
        ):
            if len(axis) > 1 and value == axis[0]:
                notes.append(f"{name} {value:g} is the lowest tried")
            elif len(axis) > 1 and value == axis[-1]:
                notes.append(f"{name} {value:g} is the highest tried")
        return notes


def split_steps(steps: int, parts: int) -> list[int]:
    """``steps`` shared among ``parts`` as evenly as possible (earlier parts get the rest)."""
    return [steps // parts + (1 if i < steps % parts else 0) for i in range(parts)]


def check_grid(pi_temps: Sequence[float], sigma_temps: Sequence[float]) -> None:
    """Raise ModelError unless every temperature is a finite number above 0 (as the config's)."""
    if not len(pi_temps) or not len(sigma_temps):
        raise ModelError("the temperature grid is empty")
    if any(not (p > 0.0 and math.isfinite(p)) for p in pi_temps):
        raise ModelError("every pi temperature must be a finite number above 0")
    if any(not (s > 0.0 and math.isfinite(s)) for s in sigma_temps):
        raise ModelError("every sigma temperature must be a finite number above 0")


def guide(
    model: Steppable,
    performances: Sequence[np.ndarray],
    pi_temps: Sequence[float] = DEFAULT_PI_TEMPS,
    sigma_temps: Sequence[float] = DEFAULT_SIGMA_TEMPS,
    steps: int = DEFAULT_STEPS,
    seeds: int = DEFAULT_SEEDS,
    prime: int = DEFAULT_PRIME,
    seed: int = 0,
    min_dt: float = MIN_DT,
    progress: Callable[[Cell], None] | None = None,
) -> Guidance:
    """Play every ``(pi_temp, sigma_temp)`` and recommend the one closest to ``performances``.

    Each cell plays ``steps`` events in all, shared among ``seeds`` seed
    states of up to ``prime`` rows each. ``seed`` (an int >= 0) fixes every
    random choice. ``progress``, if given, is called with each finished cell.
    Raises ModelError for data the model cannot play or a bad grid. The model
    is left reset.
    """
    check_grid(pi_temps, sigma_temps)
    if seeds < 1 or prime < 1 or steps < 2 * seeds:
        raise ModelError("need seeds >= 1, prime >= 1 and at least 2 steps per seed state")
    dimensions = {np.shape(p)[1] if np.ndim(p) == 2 else -1 for p in performances}
    if dimensions - {model.dimension}:
        found = ", ".join(str(d) for d in sorted(dimensions))
        raise ModelError(
            f"the data has dimension {found} but the model is dimension {model.dimension}"
        )
    try:
        reference = Reference(performances, min_dt)
        states = seed_states(performances, seeds, prime, np.random.default_rng(seed))
    except ValueError as err:
        raise ModelError(f"the data cannot guide temperatures: {err}") from None
    shares = split_steps(steps, seeds)
    cells = []
    for pi_temp in pi_temps:
        for sigma_temp in sigma_temps:
            runs = [
                free_run(
                    model,
                    state.rows,
                    share,
                    float(pi_temp),
                    float(sigma_temp),
                    np.random.default_rng([seed, number]),  # the same in every cell
                    min_dt,
                )
                for number, (state, share) in enumerate(zip(states, shares, strict=True))
            ]
            halves = None
            if len(runs) > 1:
                halves = (
                    reference.distances(Features.of(runs[0::2], min_dt)).total,
                    reference.distances(Features.of(runs[1::2], min_dt)).total,
                )
            distances = reference.distances(Features.of(runs, min_dt))
            cell = Cell(float(pi_temp), float(sigma_temp), distances, halves)
            cells.append(cell)
            if progress is not None:
                progress(cell)
    model.reset()
    best = min(cells, key=_total_or_inf)  # the first of equals
    return Guidance(cells, best, steps, states, seed, min_dt)


def _total_or_inf(cell: Cell) -> float:
    total = cell.distances.total
    return total if math.isfinite(total) else math.inf
