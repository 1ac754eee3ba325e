"""Which values a note dimension plays as which MIDI note, exactly, and notes inside a range.

Shared by the steering maths (:mod:`impsy.model.steering`), the live
steering settings and the config check, so a range and a note set that the
config accepts are exactly those the engine can play.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from impsy.mapping.midi import to_seven_bit

Interval = tuple[float, float]
_INF = math.inf


def note_intervals(
    notes: Iterable[int], encode: Callable[[float], int] = to_seven_bit, span: int = 127
) -> tuple[Interval, ...]:
    """For each MIDI note, the closed interval of values ``encode`` plays as that note.

    The default is impsy's note mapping (``value = note / 127``, played as
    ``floor(clip(value, 0, 1) * 127 + 0.5)``, IMPSY's rounding). The bounds are
    found exactly as floats: from ``(n -+ 0.5) / span`` they are nudged one ulp at
    a time until they are the smallest and largest floats ``encode`` turns into
    ``n``, so a value sampled inside never rounds to a neighbouring note. Because
    ``encode`` clips, note 0 extends to ``-inf`` and note ``span`` to ``+inf``.
    ``encode`` must be non-decreasing. Adjacent notes give touching intervals,
    which :class:`Region` merges.
    """
    result: list[Interval] = []
    for note in sorted(set(int(n) for n in notes)):
        if not 0 <= note <= span:
            raise ValueError(f"note {note} is outside 0..{span}")
        lo = -_INF if note == 0 else _edge(encode, note, (note - 0.5) / span, lower=True)
        hi = _INF if note == span else _edge(encode, note, (note + 0.5) / span, lower=False)
        result.append((lo, hi))
    return tuple(result)


def _edge(encode: Callable[[float], int], note: int, guess: float, lower: bool) -> float:
    """The extreme float (lowest if ``lower``) that ``encode`` maps to ``note``, near ``guess``."""
    value = guess
    if lower:
        while encode(value) >= note:  # step down out of the note...
            value = math.nextafter(value, -_INF)
        while encode(value) < note:  # ...then up to its first value
            value = math.nextafter(value, _INF)
    else:
        while encode(value) <= note:
            value = math.nextafter(value, _INF)
        while encode(value) > note:
            value = math.nextafter(value, -_INF)
    if encode(value) != note:
        raise ValueError(f"the note rule never plays note {note}")
    return value


def notes_in_range(notes: Iterable[int], low: float, high: float) -> tuple[Interval, ...]:
    """The values inside ``low..high`` that play one of ``notes`` (empty: none can)."""
    return tuple(
        (max(lo, low), min(hi, high))
        for lo, hi in note_intervals(notes)
        if lo <= high and hi >= low
    )
