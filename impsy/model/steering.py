"""Steering one step's mixture: hold dimensions, restrict others, tilt dt, measure surprise.

The MDRNN's output for the next event is a mixture of diagonal Gaussians
(:mod:`impsy.model.params`). Two operations on such a mixture are exact and
cheap, and need no training:

* **Conditioning** on held dimensions. Within a component the dimensions are
  independent, so the conditional of the free dimensions given held values
  ``h`` is again a mixture of the same components restricted to the free
  dimensions, each reweighted by its likelihood of ``h``:
  ``logit'_k = logit_k + sum_{d held} log N(h_d; mu_kd, sigma_kd)``.
* **Truncation** to an allowed region (per dimension a union of intervals).
  The mixture restricted to a box is again a mixture, of truncated normals,
  each component reweighted by its mass inside the box (a product over
  dimensions of normal CDF differences). Sampling it is: pick a component by
  those weights, then in each dimension pick an interval by its mass and draw
  inside it by the inverse CDF. This is not clipping: it is exactly the
  distribution rejection sampling would give, without the rejections.

Order and temperatures. Held values are evidence about which component the
model is in, so they are weighed under the model's own density (no
temperature): the result is the model's conditional mixture, the quantity
whose NLL is the "conditional NLL" of a held-out set. The temperatures are
then applied to that mixture exactly as IMPSY applies them to the
unconditioned one (``softmax(logits / pi_temp)``, std ``sigma *
sqrt(sigma_temp)``). With nothing held this is IMPSY's draw. The dt tilt and
the regions act on that tempered mixture, i.e. on what would actually play:
a steered step is IMPSY's tempered draw from the conditional mixture,
reweighted by ``exp(-lambda dt)`` and conditioned on landing in the region.

Density control (dt, index 0): two exact tools, both offered.

* A **dt range** is just a region on dimension 0 (a hard floor/ceiling on the
  gap between notes).
* A **tilt** ``lambda`` (per second) multiplies the dt density by
  ``exp(-lambda * dt)``. For a Gaussian component this is again a Gaussian:
  ``N(x; m, s^2) exp(-l x) = N(x; m - l s^2, s^2) exp(-l m + l^2 s^2 / 2)``, so
  the mean shifts by ``-l s^2`` and the component's log weight changes by
  ``-l m + l^2 s^2 / 2`` (``l`` = ``lambda / SCALE`` in model space). It is the
  density knob because it is soft and smooth: a knob can sweep it and the
  music gets steadily denser (``lambda > 0``) or sparser (``lambda < 0``),
  mostly by favouring the components (rhythms) the model already has with
  shorter or longer gaps; it never empties the distribution, so it never
  needs the fallback, and it composes exactly with a dt range.

Fallback. If the region's total probability under the (conditioned,
tempered, tilted) mixture is below :data:`MIN_MASS`, the step reports a
fallback: the component is still picked by its (log-space, exact) weight
inside the region, and each restricted dimension gets the allowed value
nearest that component's mean. That is the limit the exact truncated
distribution tends to as its mass vanishes (a Gaussian tail beyond ``z``
standard deviations puts its mass within about ``s / z`` of the boundary), so
the fallback differs from exact sampling by less than ``0.21 s`` at the
threshold (``z ~= 4.75``), while making the conflict explicit and countable.
It is also the only answer when ``sigma_temp`` is 0 and no component mean is
allowed. Held values that no component can explain (every likelihood
underflows) fall back to the unconditioned weights, also reported.

The surprise of an incoming event is its negative log-likelihood under the
prediction made just before it, computed the way :mod:`impsy.model.nll`
(and so ``impsy evaluate``) does: model space, no temperatures, values
rounded to float32 as a dataset stores them.

Numerics are plain Python floats: for the handful of components and
dimensions involved, per-call NumPy overhead would cost more than the
arithmetic. Normal tails are computed in log space (``erfc`` down to
``1e-266``, Laplace's continued fraction beyond) and inverted by
Wichura's AS241 (the standard library's ``NormalDist.inv_cdf``) or Newton
steps past ``exp(-700)``, so a narrow range 50 standard deviations from
every mean is sampled exactly, not clipped. Sums stop once what is left is
below ``exp(-40)`` of what was summed (below float64 resolution), which
bounds the work for pitch sets of many small intervals and skips
components whose weight cannot matter. A pitch set costs about a quarter of
a microsecond per interval within nine standard deviations of a component,
so for regions of several intervals the component is first picked by up to
:data:`_TRIES` rejection tries, which is exact and usually walks only the
chosen component (see ``Steering._choose``).

Use. The engine builds a :class:`Steering` from the roles (the held
dimensions), the regions (:meth:`Region.between` for a range,
:meth:`Region.notes` with :func:`scale_notes` for a key) and the dt tilt,
and makes a new one on every live change. Per step it calls
:meth:`Steering.draw` on the raw MDN output with the held values, its
temperatures and its generator, plays and feeds back the event, and counts
the fallback flag. Per performer gesture, :func:`surprise` of the gesture
under the raw output of the step before it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from impsy.mapping.midi import to_seven_bit
from impsy.mapping.note_values import Interval, note_intervals
from impsy.model.params import SCALE
from impsy.model.sampling import draw as _plain_draw

MIN_MASS = 1e-6
"""Below this total probability of the allowed region a step falls back (see the module doc)."""

_NEGLIGIBLE = 40.0
"""A term ``exp(-40) ~= 4e-18`` times the running total cannot change a float64 sum."""
_NEGLIGIBLE_RATIO = math.exp(-_NEGLIGIBLE)
_LINEAR_FLOOR = 1e-280
"""Above this a region's mass summed in linear space is exact to float64 (see ``walk``)."""
_PRODUCT_FLOOR = 1e-200
"""Above this the best component's weight x region mass, formed in linear space, is exact
(every factor was above :data:`_LINEAR_FLOOR`, or its term is negligible next to this)."""

_UNSCALE = 1.0 / SCALE
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2PI = math.log(2.0 * math.pi)
_HALF_ULP = 2.0**-54
"""Half the spacing of ``Generator.random()`` draws (multiples of 2**-53 in [0, 1))."""
_INF = math.inf
_inv_cdf = NormalDist().inv_cdf
_log, _exp, _erf, _erfc, _sqrt = math.log, math.exp, math.erf, math.erfc, math.sqrt
_log1p, _expm1 = math.log1p, math.expm1


# --- normal tails in log space -------------------------------------------------------------


def log_upper_tail(z: float) -> float:
    """``log P(Z > z)`` for a standard normal ``Z``, accurate far into the tail.

    ``erfc`` keeps full relative precision until its result leaves the normal
    float range (``z ~= 37.5``); from ``z = 35`` Laplace's continued fraction for
    the Mills ratio ``Q(z) / phi(z)`` takes over, so the log stays exact where
    ``Q(z)`` itself would underflow to 0.
    """
    if z < 35.0:
        if z == -_INF:
            return 0.0
        return _log(0.5 * _erfc(z * _SQRT_HALF))
    if z == _INF:
        return -_INF
    return -0.5 * z * z - _LOG_SQRT_2PI - _log(_mills_denominator(z))


def _mills_denominator(z: float) -> float:
    """``phi(z) / Q(z)`` as the continued fraction ``z + 1/(z + 2/(z + 3/(z + ...)))`` (z >= 35).

    Eight levels are past float64 convergence for ``z >= 35`` (six already
    agree with sixty to 1e-17 there, and fewer are needed as ``z`` grows).
    """
    return z + 1.0 / (
        z + 2.0 / (z + 3.0 / (z + 4.0 / (z + 5.0 / (z + 6.0 / (z + 7.0 / (z + 8.0 / z))))))
    )


def upper_tail_quantile(log_p: float) -> float:
    """The ``z`` with ``log P(Z > z) = log_p``: the inverse of :func:`log_upper_tail`.

    AS241 (``NormalDist.inv_cdf``, relative error about 1e-16) while
    ``exp(log_p)`` is a normal float; beyond that Newton steps on the log tail
    from the asymptotic start ``z^2 ~= t - log t - log 2 pi`` (``t = -2 log_p``),
    which converge quadratically (the second step already changes ``z`` by
    less than 1e-10, the third by nothing).
    """
    if log_p > -700.0:
        p = _exp(log_p)
        return -_inv_cdf(p) if p < 1.0 else -_INF
    if log_p == -_INF:
        return _INF
    t = -2.0 * log_p
    z = _sqrt(t - _log(t) - _LOG_2PI)
    for _ in range(3):
        f = _mills_denominator(z)
        log_q = -0.5 * z * z - _LOG_SQRT_2PI - _log(f)
        z += (log_q - log_p) / f
    return z


def interval_log_mass(a: float, b: float) -> float:
    """``log P(a <= Z <= b)`` for a standard normal, ``a <= b`` (either may be infinite).

    Wholly in one tail it is ``log Q(a) + log(1 - Q(b)/Q(a))`` with both tails in
    log space (no underflow at any distance); across 0 it is a difference of
    ``erf`` values of opposite sign, which has no cancellation. Empty (``a ==
    b``) gives ``-inf``.
    """
    if a >= 0.0:
        la = log_upper_tail(a)
        lb = log_upper_tail(b)
    elif b <= 0.0:
        la = log_upper_tail(-b)
        lb = log_upper_tail(-a)
    else:
        return _log(0.5 * (_erf(b * _SQRT_HALF) - _erf(a * _SQRT_HALF)))
    if lb >= la:
        return -_INF
    return la + _log(-_expm1(lb - la))


def truncated_standard_normal(a: float, b: float, u: float) -> float:
    """The ``u``-quantile of a standard normal ``Z`` truncated to ``[a, b]``, ``0 <= u < 1``.

    Inverse-CDF sampling, so one uniform gives one exact draw and the result is
    a monotone function of ``u`` (tests can check it exactly). In a tail the
    target tail probability ``Q(a) - u (Q(a) - Q(b))`` is formed in log space;
    across 0 the CDF is used from whichever end keeps precision. The result is
    clamped to ``[a, b]`` against the last rounding. ``u = 0`` is read as
    ``2**-54`` so an infinite end is never returned.
    """
    if u <= 0.0:
        u = _HALF_ULP
    if a >= 0.0:
        return min(max(_tail_quantile(a, b, u), a), b)
    if b <= 0.0:
        return min(max(-_tail_quantile_from_top(-b, -a, u), a), b)
    mass = 0.5 * (_erf(b * _SQRT_HALF) - _erf(a * _SQRT_HALF))
    below = 0.5 * _erfc(-a * _SQRT_HALF)  # P(Z < a)
    p = below + u * mass
    if p <= 0.5:
        z = _inv_cdf(p) if p > 0.0 else a
    else:
        q = 0.5 * _erfc(b * _SQRT_HALF) + (1.0 - u) * mass  # P(Z > z), without 1 - p
        z = -_inv_cdf(q) if q > 0.0 else b
    return min(max(z, a), b)


def _tail_quantile(a: float, b: float, u: float) -> float:
    """The ``u``-quantile of ``Z`` truncated to ``[a, b]`` with ``0 <= a``.

    Solves ``Q(z) = Q(a) - u (Q(a) - Q(b))`` with both sides as logs.
    """
    la = log_upper_tail(a)
    lb = log_upper_tail(b)
    if lb >= la:
        return a
    return upper_tail_quantile(la + _log1p(u * _expm1(lb - la)))


def _tail_quantile_from_top(a: float, b: float, u: float) -> float:
    """The ``(1 - u)``-quantile of ``Z`` truncated to ``[a, b]`` with ``0 <= a``, for ``u > 0``.

    Solves ``Q(z) = Q(b) + u (Q(a) - Q(b))``: the mirror image of a lower-tail
    draw. ``1 - u`` is never formed where it would round to 1.
    """
    la = log_upper_tail(a)
    lb = log_upper_tail(b)
    if lb >= la:
        return a
    if u < 0.5:
        return upper_tail_quantile(la + _log(u + (1.0 - u) * _exp(lb - la)))
    return upper_tail_quantile(la + _log1p((1.0 - u) * _expm1(lb - la)))


# --- regions --------------------------------------------------------------------------------


class Region:
    """What one dimension may take: a union of closed intervals in data space.

    Intervals are sorted and merged (touching ones too: adjacent notes make one
    interval), so the engine can search them by bisection. Ends may be
    infinite. A region is immutable; steering changes make new ones.
    """

    __slots__ = ("intervals",)

    intervals: tuple[Interval, ...]

    def __init__(self, intervals: Iterable[Sequence[float]]) -> None:
        cleaned: list[Interval] = []
        for pair in intervals:
            lo, hi = (float(value) for value in pair)
            if not lo <= hi:  # also NaN
                raise ValueError(f"an allowed interval needs low <= high, got [{lo}, {hi}]")
            cleaned.append((lo, hi))
        if not cleaned:
            raise ValueError("an allowed region needs at least one interval")
        cleaned.sort()
        merged = [cleaned[0]]
        for lo, hi in cleaned[1:]:
            last_lo, last_hi = merged[-1]
            if lo <= math.nextafter(last_hi, _INF):
                merged[-1] = (last_lo, max(last_hi, hi))
            else:
                merged.append((lo, hi))
        object.__setattr__(self, "intervals", tuple(merged))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Region is immutable")

    @classmethod
    def between(cls, low: float = -_INF, high: float = _INF) -> Region:
        """One range ``[low, high]``."""
        return cls([(low, high)])

    @classmethod
    def notes(
        cls,
        notes: Iterable[int],
        encode: Callable[[float], int] = to_seven_bit,
        span: int = 127,
    ) -> Region:
        """The values a note dimension plays as one of ``notes`` (see :func:`note_intervals`)."""
        return cls(note_intervals(notes, encode, span))

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in one of the intervals."""
        i = bisect_right(self.intervals, (value, _INF)) - 1
        return i >= 0 and value <= self.intervals[i][1]

    def nearest(self, value: float) -> float:
        """The allowed value nearest ``value`` (the lower one on a tie)."""
        intervals = self.intervals
        i = bisect_right(intervals, (value, _INF)) - 1
        if i >= 0 and value <= intervals[i][1]:
            return value
        below = intervals[i][1] if i >= 0 else None
        above = intervals[i + 1][0] if i + 1 < len(intervals) else None
        if below is None:
            return above  # type: ignore[return-value]
        if above is None or value - below <= above - value:
            return below
        return above

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Region) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(self.intervals)

    def __repr__(self) -> str:
        return f"Region({list(self.intervals)!r})"


def scale_notes(root: int, steps: Iterable[int], low: int = 0, high: int = 127) -> list[int]:
    """Every MIDI note in ``low..high`` whose pitch class is ``root + step`` for some step.

    ``scale_notes(62, (0, 2, 4, 5, 7, 9, 11))`` is D major over the whole
    keyboard (the root's octave does not matter).
    """
    classes = {(root + step) % 12 for step in steps}
    return [note for note in range(low, high + 1) if note % 12 in classes]


class _CompiledRegion:
    """A region's bounds in data space and in model space (x ``SCALE``), as flat lists."""

    __slots__ = ("region", "lo", "hi", "lo_m", "hi_m", "single", "lo0", "hi0")

    def __init__(self, region: Region) -> None:
        self.region = region
        self.lo = [lo for lo, _ in region.intervals]
        self.hi = [hi for _, hi in region.intervals]
        self.lo_m = [lo * SCALE for lo in self.lo]
        self.hi_m = [hi * SCALE for hi in self.hi]
        self.single = len(self.lo) == 1
        self.lo0, self.hi0 = self.lo_m[0], self.hi_m[-1]  # model-space hull

    def mass(self, m: float, s: float) -> float:
        """``P(X in region)`` for ``X ~ N(m, s^2)`` in model space, in linear space.

        Exact to float64 relative precision down to :data:`_LINEAR_FLOOR`; below it
        (and only there) the caller must use :meth:`log_mass`. ``s = 0`` is a point.
        """
        if s == 0.0:
            return 1.0 if self.region.contains(m * _UNSCALE) else 0.0
        if self.single:
            c = _SQRT_HALF / s
            a = (self.lo_m[0] - m) * c
            b = (self.hi_m[0] - m) * c
            if a >= 0.0:
                return 0.5 * (_erfc(a) - _erfc(b))
            if b <= 0.0:
                return 0.5 * (_erfc(-b) - _erfc(-a))
            return 0.5 * (_erf(b) - _erf(a))
        return self.walk(m, s)[0]

    def log_mass(self, m: float, s: float) -> float:
        """``log P(X in region)`` for ``X ~ N(m, s^2)`` in model space (``s = 0``: a point)."""
        if s == 0.0:
            return 0.0 if self.region.contains(m * _UNSCALE) else -_INF
        if self.single:
            return interval_log_mass((self.lo_m[0] - m) / s, (self.hi_m[0] - m) / s)
        total, _ = self.walk(m, s)
        if total > _LINEAR_FLOOR:
            return _log(total)
        return self.walk_log(m, s)[0]

    def walk(self, m: float, s: float, floor: float = 0.0) -> tuple[float, list[tuple[float, int]]]:
        """The mass and ``(2 x mass, interval)`` of every interval that counts, in linear space.

        Starts at the interval holding (or the two flanking) the mean and goes
        outwards; a side stops once the whole tail beyond its next interval is
        below ``exp(-40)`` of the total so far, or below ``floor`` (a mass the
        caller knows is negligible next to the step's other components), so the
        cost depends on how many intervals lie within reach of the component,
        not on how many the pitch set has. Each mass is a difference of ``erfc``
        values on the side away from the mean, so it keeps its relative
        precision; masses past about 37 standard deviations underflow to 0,
        which is exact enough whenever the total is above :data:`_LINEAR_FLOOR`
        (otherwise :meth:`walk_log` is used). Masses are kept doubled (``erfc``
        differences as they come) to save a multiplication per interval.
        """
        lo_m, hi_m = self.lo_m, self.hi_m
        n = len(lo_m)
        c = _SQRT_HALF / s
        erfc = _erfc
        ratio = _NEGLIGIBLE_RATIO
        j = bisect_right(lo_m, m) - 1
        visited: list[tuple[float, int]] = []
        append = visited.append
        total = 0.0  # doubled
        if j >= 0 and m <= hi_m[j]:
            total = _erf((hi_m[j] - m) * c) - _erf((lo_m[j] - m) * c)
            append((total, j))
            left, right = j - 1, j + 1
        else:
            left, right = j, j + 1
        floor = 2.0 * floor
        limit = total * ratio
        if limit < floor:
            limit = floor
        while right < n:  # intervals above the mean
            upper = erfc((lo_m[right] - m) * c)  # bounds all the mass from here up
            if upper <= limit or upper == 0.0:
                break
            mass = upper - erfc((hi_m[right] - m) * c)
            append((mass, right))
            total += mass
            limit = total * ratio
            if limit < floor:
                limit = floor
            right += 1
        while left >= 0:  # intervals below the mean, mirrored
            upper = erfc((m - hi_m[left]) * c)
            if upper <= limit or upper == 0.0:
                break
            mass = upper - erfc((m - lo_m[left]) * c)
            append((mass, left))
            total += mass
            limit = total * ratio
            if limit < floor:
                limit = floor
            left -= 1
        return 0.5 * total, visited

    def walk_log(self, m: float, s: float) -> tuple[float, list[tuple[float, int]]]:
        """:meth:`walk` in log space, for regions whose every interval is far in the tail."""
        lo_m, hi_m = self.lo_m, self.hi_m
        n = len(lo_m)
        j = bisect_right(lo_m, m) - 1
        visited: list[tuple[float, int]] = []
        ref = -_INF  # running log-sum-exp: total = exp(ref) * acc
        acc = 0.0
        if j >= 0 and m <= hi_m[j]:
            ref = interval_log_mass((lo_m[j] - m) / s, (hi_m[j] - m) / s)
            acc = 1.0
            visited.append((ref, j))
            left, right = j - 1, j + 1
        else:
            left, right = j, j + 1
        while right < n:
            la = log_upper_tail((lo_m[right] - m) / s)
            if ref > -_INF and la < ref + _log(acc) - _NEGLIGIBLE:
                break
            lb = log_upper_tail((hi_m[right] - m) / s)
            mass = la + _log(-_expm1(lb - la)) if lb < la else -_INF
            visited.append((mass, right))
            ref, acc = _add_log(ref, acc, mass)
            right += 1
        while left >= 0:
            la = log_upper_tail((m - hi_m[left]) / s)
            if ref > -_INF and la < ref + _log(acc) - _NEGLIGIBLE:
                break
            lb = log_upper_tail((m - lo_m[left]) / s)
            mass = la + _log(-_expm1(lb - la)) if lb < la else -_INF
            visited.append((mass, left))
            ref, acc = _add_log(ref, acc, mass)
            left -= 1
        total = ref + _log(acc) if ref > -_INF else -_INF
        return total, visited

    def sample(
        self,
        m: float,
        s: float,
        u_interval: float,
        u_position: float,
        visited: list[tuple[float, int]] | None = None,
    ) -> float:
        """A data-space draw of ``N(m, s^2)`` (model space) truncated to the region.

        The interval is chosen by its mass with ``u_interval``, the value inside
        it by the inverse CDF at ``u_position``; the result is clamped to the
        chosen interval's data-space bounds, so rounding in ``/ SCALE`` can never
        put it outside. ``visited`` reuses the intervals a weighting :meth:`walk`
        already found for this component.
        """
        if s == 0.0:
            return self.region.nearest(m * _UNSCALE)
        if self.single:
            i = 0
        else:
            total = 1.0
            if visited is None:
                total, visited = self.walk(m, s)
            if total > _LINEAR_FLOOR:
                weights = [mass for mass, _ in visited]
                total = sum(weights)
            else:
                total, visited = self.walk_log(m, s)
                top = max(mass for mass, _ in visited)
                weights = [_exp(mass - top) for mass, _ in visited]
                total = sum(weights)
            threshold = u_interval * total
            running = 0.0
            i = visited[-1][1]
            for weight, (_, index) in zip(weights, visited, strict=True):
                running += weight
                if running >= threshold and weight > 0.0:
                    i = index
                    break
        z = truncated_standard_normal((self.lo_m[i] - m) / s, (self.hi_m[i] - m) / s, u_position)
        value = (m + s * z) * _UNSCALE
        return min(max(value, self.lo[i]), self.hi[i])


def _add_log(ref: float, acc: float, log_term: float) -> tuple[float, float]:
    """Add ``exp(log_term)`` to the running total ``exp(ref) * acc`` without overflow."""
    if log_term == -_INF:
        return ref, acc
    if log_term <= ref:
        return ref, acc + _exp(log_term - ref)
    return log_term, acc * _exp(ref - log_term) + 1.0


# --- the steered step -----------------------------------------------------------------------

_Found = list[list[list[tuple[float, int]] | None] | None] | None

_TRIES = 2
"""Rejection tries before weighing every component, for regions with pitch sets."""


class Steering:
    """One model's steering, compiled: which dimensions are held, regions, dt tilt.

    Indices count the model's event ``[dt, x1..xn]``: 0 is dt, ``i`` is ``x_i``.
    A held dimension ignores any region given for it (the performer's value
    wins), and a held dt ignores the tilt. A Steering is never changed after
    it is built: a live change makes a new one (:meth:`replace`, cheap),
    which the engine swaps in between steps. ``min_mass`` 0 falls back only
    where the region has no mass at all.

    Per step the engine calls :meth:`draw` with the step's raw MDN output,
    the current held values, its temperatures and its generator, and feeds the
    returned event back to the model as usual.
    """

    __slots__ = (
        "dimension",
        "mixtures",
        "held",
        "regions",
        "dt_tilt",
        "min_mass",
        "plain",
        "_restricted",
        "_tilt",
        "_log_min_mass",
        "_gather",
        "_held_at",
        "_restricted_at",
        "_dt_at",
        "_dt_slot",
        "_single",
    )

    def __init__(
        self,
        dimension: int,
        mixtures: int,
        *,
        held: Iterable[int] = (),
        regions: Mapping[int, Region] | None = None,
        dt_tilt: float = 0.0,
        min_mass: float = MIN_MASS,
    ) -> None:
        self.dimension = dimension
        self.mixtures = mixtures
        held = tuple(sorted(set(int(d) for d in held)))
        regions = dict(regions or {})
        for d in (*held, *regions):
            if not 0 <= d < dimension:
                raise ValueError(f"dimension index {d} is outside 0..{dimension - 1}")
        for d, region in regions.items():
            if not isinstance(region, Region):
                raise TypeError(f"region for dimension {d} is not a Region: {region!r}")
        if not math.isfinite(dt_tilt):
            raise ValueError(f"dt tilt must be finite, got {dt_tilt}")
        if not 0.0 <= min_mass < 1.0:
            raise ValueError(f"min_mass must be in [0, 1), got {min_mass}")
        self.held = held
        self.regions = {d: regions[d] for d in sorted(regions)}
        self.dt_tilt = float(dt_tilt)
        self.min_mass = float(min_mass)
        self._restricted = tuple(
            (d, _CompiledRegion(regions[d])) for d in sorted(regions) if d not in held
        )
        self._tilt = self.dt_tilt / SCALE if 0 not in held else 0.0
        restricted_dims = [d for d, _ in self._restricted]
        self._dt_slot = 2 * restricted_dims.index(0) if 0 in restricted_dims else -1
        self._single = all(region.single for _, region in self._restricted)
        # 0 falls back only where the region has no mass at all
        self._log_min_mass = math.log(self.min_mass) if self.min_mass > 0.0 else -_INF
        self.plain = not held and not self._restricted and self._tilt == 0.0
        """True when nothing is steered: :meth:`draw` is then exactly IMPSY's draw."""
        # One gather per step brings every parameter the weights need into Python floats:
        # logits, then (mu, sigma) per component for the held dims, the restricted dims and dt.
        kd = mixtures * dimension
        index = list(range(2 * kd, 2 * kd + mixtures))
        self._held_at = len(index)
        for k in range(mixtures):
            for d in held:
                index += [k * dimension + d, kd + k * dimension + d]
        self._restricted_at = len(index)
        for k in range(mixtures):
            for d, _ in self._restricted:
                index += [k * dimension + d, kd + k * dimension + d]
        self._dt_at = len(index)
        if self._tilt:
            for k in range(mixtures):
                index += [k * dimension, kd + k * dimension]
        self._gather = np.array(index, dtype=np.intp)

    def replace(
        self,
        *,
        held: Iterable[int] | None = None,
        regions: Mapping[int, Region] | None = None,
        dt_tilt: float | None = None,
        min_mass: float | None = None,
    ) -> Steering:
        """A copy with the given parts changed (``regions`` replaces the whole mapping)."""
        return Steering(
            self.dimension,
            self.mixtures,
            held=self.held if held is None else held,
            regions=self.regions if regions is None else regions,
            dt_tilt=self.dt_tilt if dt_tilt is None else dt_tilt,
            min_mass=self.min_mass if min_mass is None else min_mass,
        )

    def draw(
        self,
        raw: np.ndarray,
        held_values: Sequence[float] | np.ndarray,
        pi_temp: float,
        sigma_temp: float,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, bool]:
        """The next event (data space, float64) and whether the step fell back.

        ``raw`` is the step's MDN output; ``held_values`` a whole event ``[dt,
        x1..xn]`` in data space, of which only the held indices are read (and
        returned unchanged, bit for bit). Draws from ``rng``, in this order:

        * with no region: one ``random()`` picks the component (IMPSY's rule:
          the first whose cumulative weight reaches it);
        * with regions: one ``random(n)`` instead, whose first value picks the
          component, then two per restricted dimension in index order (the
          interval, then the position inside it by the inverse CDF), then, when
          some region has several intervals, two per rejection try (see
          :data:`_TRIES`);
        * then one ``normal(0, sqrt(sigma_temp), D)``, every dimension's offset as
          in IMPSY; held and restricted dimensions overwrite theirs.

        So with nothing steered this is :func:`impsy.model.sampling.draw` itself,
        and with only held dimensions it draws what IMPSY's draw would, from
        the conditional weights.
        """
        if self.plain:
            return (
                _plain_draw(raw, self.dimension, self.mixtures, pi_temp, sigma_temp, rng, _UNSCALE),
                False,
            )
        g, weights_log, weights, dt_means, scale, held_fallback = self._prior(
            raw, held_values, pi_temp, sigma_temp
        )
        restricted = self._restricted
        lists = None
        if not restricted:
            k = _pick(weights, rng.random())
        elif self._single:
            uniforms = rng.random(1 + 2 * len(restricted)).tolist()
            weights, log_mass, _ = self._restrict(g, weights_log, weights, scale)
            k = _pick(weights, uniforms[0])
        else:
            uniforms = rng.random(1 + 2 * len(restricted) + 2 * _TRIES).tolist()
            k, lists, log_mass = self._choose(g, weights_log, weights, scale, uniforms)
        dimension = self.dimension
        start = k * dimension
        kd = self.mixtures * dimension
        sample = rng.normal(0.0, scale, dimension)
        sample *= raw[kd + start : kd + start + dimension]
        sample += raw[start : start + dimension]
        if dt_means is not None:
            sample[0] += dt_means[k] - raw[start]  # the tilted mean
        sample *= _UNSCALE
        for d in self.held:
            sample[d] = held_values[d]
        if not restricted:
            return sample, held_fallback
        snap = log_mass < self._log_min_mass or log_mass == -_INF
        at = self._restricted_at + 2 * k * len(restricted)
        u = 1
        for r, (d, region) in enumerate(restricted):
            m = g[at]  # the tilted mean for a tilted dt
            if snap:
                sample[d] = region.region.nearest(m * _UNSCALE)
            else:
                visited = lists[r] if lists is not None else None
                s = g[at + 1] * scale
                sample[d] = region.sample(m, s, uniforms[u], uniforms[u + 1], visited)
            at += 2
            u += 2
        return sample, held_fallback or snap

    def weigh(
        self,
        raw: np.ndarray,
        held_values: Sequence[float] | np.ndarray,
        pi_temp: float,
        sigma_temp: float,
    ) -> Weighing:
        """The component probabilities a step picks from, the region's mass, and the fallback.

        For display (how much the steering fights the model) and for tests;
        :meth:`draw` picks by exactly these probabilities (directly, or by
        rejection that gives the same distribution).
        """
        g, weights_log, weights, _, scale, held_fallback = self._prior(
            raw, held_values, pi_temp, sigma_temp
        )
        log_mass = 0.0
        if self._restricted:
            weights, log_mass, _ = self._restrict(g, weights_log, weights, scale)
        total = sum(weights)
        snap = log_mass < self._log_min_mass or log_mass == -_INF
        return Weighing([w / total for w in weights], log_mass, held_fallback or snap)

    def _prior(
        self,
        raw: np.ndarray,
        held_values: Sequence[float] | np.ndarray,
        pi_temp: float,
        sigma_temp: float,
    ) -> tuple[list[float], list[float], list[float], list[float] | None, float, bool]:
        """Steps 1-3: ``(gathered floats, log weights, weights, tilted dt means, std factor,
        held fallback)``; the weights are linear with the largest 1, ready to pick from."""
        mixtures = self.mixtures
        g = raw[self._gather].tolist()
        held_fallback = False

        # 1. Condition on the held values (the model's own density, no temperature).
        logits = g[:mixtures]
        held = self.held
        if held:
            targets = [float(held_values[d]) * SCALE for d in held]
            if not math.isfinite(sum(targets)):  # NaN or infinity anywhere
                raise ValueError("held values must be finite numbers")
            conditioned = []
            at = self._held_at
            for k in range(mixtures):
                squares = 0.0
                sigmas = 1.0  # one log per component, not one per held dimension
                for t in targets:
                    s = g[at + 1]
                    z = (t - g[at]) / s
                    squares += z * z
                    sigmas *= s
                    at += 2
                if 0.0 < sigmas < _INF:
                    conditioned.append(logits[k] - _log(sigmas) - 0.5 * squares)
                else:  # a product out of float range: the logs one by one
                    base = at - 2 * len(targets)
                    logs = math.fsum(_log(g[base + 2 * i + 1]) for i in range(len(targets)))
                    conditioned.append(logits[k] - logs - 0.5 * squares)
            if max(conditioned) > -_INF:
                logits = conditioned
            else:
                held_fallback = True  # no component explains the held values: unconditioned

        # 2. Temperatures, as IMPSY applies them.
        inv_temp = 1.0 / pi_temp
        weights_log = [x * inv_temp for x in logits]
        scale = _sqrt(sigma_temp)

        # 3. Exponential tilt of dt: each component stays a Gaussian, shifted and reweighted.
        tilt = self._tilt
        dt_means: list[float] | None = None
        if tilt != 0.0:
            dt_means = []
            at = self._dt_at
            for k in range(mixtures):
                m = g[at]
                s = g[at + 1] * scale
                var = s * s
                weights_log[k] += -tilt * m + 0.5 * tilt * tilt * var
                dt_means.append(m - tilt * var)
                at += 2
            if self._dt_slot >= 0:  # a restricted dt reads the tilted means from `g`
                at = self._restricted_at + self._dt_slot
                width = 2 * len(self._restricted)
                for k in range(mixtures):
                    g[at] = dt_means[k]
                    at += width
        top = max(weights_log)
        weights = [_exp(x - top) for x in weights_log]
        return g, weights_log, weights, dt_means, scale, held_fallback

    def _restrict(
        self, g: list[float], weights_log: list[float], weights: list[float], scale: float
    ) -> tuple[list[float], float, _Found]:
        """Step 4, every component: ``(weights x region mass, log region mass, intervals)``.

        The region's mass is the weighted mean of the components' masses. Masses
        are multiplied in linearly (the weights are linear already); only when
        every product is below :data:`_PRODUCT_FLOOR` is this redone in log
        space. ``intervals`` holds, per component and restricted dimension, the
        intervals a walk found (None for single ranges and in log space), so
        sampling does not walk again.
        """
        restricted = self._restricted
        mixtures = self.mixtures
        width = 2 * len(restricted)
        first = weights.index(1.0)  # the likeliest first, so `best` bounds the rest
        final = [0.0] * mixtures
        best = 0.0
        found: _Found = None
        if self._single:  # ranges only: the masses inlined (ranges are the common case)
            for k in (first, *range(first), *range(first + 1, mixtures)):
                product = weights[k]
                if product <= best * _NEGLIGIBLE_RATIO:
                    continue  # mass <= 1, so this weight is invisible next to `best`
                at = self._restricted_at + k * width
                for _, region in restricted:
                    m = g[at]
                    s = g[at + 1] * scale
                    if s > 0.0:
                        c = _SQRT_HALF / s
                        a = (region.lo0 - m) * c
                        b = (region.hi0 - m) * c
                        if a >= 0.0:
                            product *= 0.5 * (_erfc(a) - _erfc(b))
                        elif b <= 0.0:
                            product *= 0.5 * (_erfc(-b) - _erfc(-a))
                        else:
                            product *= 0.5 * (_erf(b) - _erf(a))
                    else:
                        product *= region.mass(m, s)
                    at += 2
                final[k] = product
                if product > best:
                    best = product
        else:
            found = [None] * mixtures
            for k in (first, *range(first), *range(first + 1, mixtures)):
                product = weights[k]
                if product <= best * _NEGLIGIBLE_RATIO:
                    continue
                # mass this component's weight makes negligible: its walks may stop there
                product, found[k] = self._component_mass(k, g, scale, product, best)
                final[k] = product
                if product > best:
                    best = product
        if best > _PRODUCT_FLOOR:
            return final, _log(sum(final) / sum(weights)), found
        return self._restrict_log(g, weights_log, scale)

    def _component_mass(
        self,
        k: int,
        g: list[float],
        scale: float,
        weight: float = 1.0,
        best: float = 0.0,
        below: float = 0.0,
    ) -> tuple[float, list[list[tuple[float, int]] | None]]:
        """``weight`` x component ``k``'s mass in the region, and the intervals its walks found.

        A walk may stop once what is left is below ``exp(-40) * best / weight``:
        negligible next to a component already weighed at ``best``. With
        ``below``, the dimensions stop as soon as the product falls below it
        (each mass is at most 1, so it can only fall further): a rejection try
        learns that it is rejected after the first dimension or two, and the
        product returned is then some value below ``below``, not the mass.
        """
        at = self._restricted_at + k * 2 * len(self._restricted)
        lists: list[list[tuple[float, int]] | None] = []
        product = weight
        for _, region in self._restricted:
            m = g[at]
            s = g[at + 1] * scale
            if region.single or s == 0.0:
                product *= region.mass(m, s)
                lists.append(None)
            else:
                mass, visited = region.walk(m, s, best * _NEGLIGIBLE_RATIO / product)
                product *= mass
                lists.append(visited)
            if product == 0.0 or product < below:
                break
            at += 2
        return product, lists

    def _choose(
        self,
        g: list[float],
        weights_log: list[float],
        weights: list[float],
        scale: float,
        uniforms: list[float],
    ) -> tuple[int, list[list[tuple[float, int]] | None] | None, float]:
        """The component for a region with pitch sets: ``(k, its intervals, log region mass)``.

        Walking a pitch set is the expensive part of a step, and only the chosen
        component's walks are needed, so first up to :data:`_TRIES` rejection
        tries: pick ``k`` by the weights before the region, accept it with
        probability its mass there. An accepted ``k`` is distributed exactly as
        the region-weighted pick, and any mixture of that with the full pick
        (when every try is rejected) is too. The fallback needs to know whether
        the region's total mass is below ``min_mass``: an accepted component
        bounds it from below; only if that bound is not enough is every
        component weighed (then the returned log mass is exact; otherwise it is
        0, meaning "not below the threshold").
        """
        total = sum(weights)
        u = 1 + 2 * len(self._restricted)
        for _ in range(_TRIES):
            k = _pick(weights, uniforms[u])
            mass, lists = self._component_mass(k, g, scale, below=uniforms[u + 1])
            if uniforms[u + 1] < mass:
                if weights[k] * mass >= self.min_mass * total:
                    return k, lists, 0.0
                _, log_mass, _ = self._restrict(g, weights_log, weights, scale)
                return k, lists, log_mass
            u += 2
        final, log_mass, found = self._restrict(g, weights_log, weights, scale)
        k = _pick(final, uniforms[0])
        return k, found[k] if found is not None else None, log_mass

    def _restrict_log(
        self, g: list[float], weights_log: list[float], scale: float
    ) -> tuple[list[float], float, _Found]:
        """Step 4 in log space, for a region (nearly) out of every component's reach."""
        restricted = self._restricted
        mixtures = self.mixtures
        width = 2 * len(restricted)
        top = max(weights_log)
        before = top + _log(sum(_exp(x - top) for x in weights_log))
        final = [-_INF] * mixtures
        for k in range(mixtures):
            acc = weights_log[k]
            at = self._restricted_at + k * width
            for _, region in restricted:
                acc += region.log_mass(g[at], g[at + 1] * scale)
                at += 2
            final[k] = acc
        best = max(final)
        if best == -_INF:  # no mass at all (sigma_temp 0, or beyond float range)
            return [_exp(x - top) for x in weights_log], -_INF, None
        log_mass = best + _log(sum(_exp(x - best) for x in final)) - before
        return [_exp(x - best) for x in final], log_mass, None


def _pick(weights: list[float], u: float) -> int:
    """IMPSY's rule: the first component whose cumulative weight reaches ``u`` x the total."""
    threshold = u * sum(weights)
    running = 0.0
    for k, weight in enumerate(weights):
        running += weight
        if running >= threshold:
            return k
    return len(weights) - 1


class Weighing(NamedTuple):
    """What a steered step picks its component from (see :meth:`Steering.weigh`)."""

    probabilities: list[float]
    """Per component, after conditioning, temperatures, tilt and region."""
    region_log_mass: float
    """``log P(region)`` under the conditioned, tempered, tilted mixture (0 with no region)."""
    fallback: bool
    """Whether the step falls back (held values unexplained or region below ``min_mass``)."""


# --- likelihoods ----------------------------------------------------------------------------


def log_prob(
    raw: np.ndarray,
    x: Sequence[float] | np.ndarray,
    dimension: int,
    mixtures: int,
    dims: Sequence[int] | None = None,
) -> float:
    """``log p(x)`` under one step's mixture, model space, no temperatures.

    ``x`` is a data-space event; each value is rounded to float32 and
    multiplied by ``SCALE`` in float64, exactly as :func:`impsy.model.nll.performance_nll`
    forms its targets from a dataset. With ``dims`` it is the marginal density
    of those dimensions (the same mixture over fewer dimensions), so a
    conditional log-likelihood is ``log_prob(all) - log_prob(held dims)``.
    """
    v = np.asarray(raw).tolist()  # float32 or float64 values, exactly, as Python floats
    use = range(dimension) if dims is None else tuple(dims)
    targets = [value * SCALE for value in np.asarray(x, dtype=np.float32).tolist()]
    kd = mixtures * dimension
    logits = v[2 * kd :]
    top = max(logits)
    log_norm = top + _log(sum(_exp(value - top) for value in logits))
    constant = -0.5 * len(use) * _LOG_2PI
    joint = []
    for k in range(mixtures):
        base = k * dimension
        sig = kd + base
        sigma_product = 1.0  # one log per component instead of one per dimension
        squares = 0.0
        for d in use:
            s = v[sig + d]
            z = (targets[d] - v[base + d]) / s
            sigma_product *= s
            squares += z * z
        if 0.0 < sigma_product < _INF:
            log_sigma = _log(sigma_product)
        else:  # a product out of float range: sum the logs instead
            log_sigma = math.fsum(_log(v[sig + d]) for d in use)
        joint.append(logits[k] - log_norm + constant - log_sigma - 0.5 * squares)
    best = max(joint)
    if best == -_INF:
        return -_INF
    return best + _log(sum(_exp(value - best) for value in joint))


def surprise(
    raw: np.ndarray, x: Sequence[float] | np.ndarray, dimension: int, mixtures: int
) -> float:
    """How unexpected the event ``x`` was: ``-log p(x)`` under the prediction made just before it.

    ``raw`` is the MDN output of the step that preceded ``x`` (the model fed
    the event before ``x``). The value is in nats, model space, the units of
    ``impsy evaluate``: over a performance replayed from a reset state, the
    surprises of rows 1..N-1 are :func:`impsy.model.nll.performance_nll`.
    To equal ``impsy evaluate`` on a run's log, the model state behind ``raw``
    must have seen what the dataset built from that log holds: the
    performer's rows only (the model's own output is not in it), from a reset
    at the log's start, with dt taken from the logged timestamps.
    """
    return -log_prob(raw, x, dimension, mixtures)
