"""Audio loops as bars: onsets found by spectral flux in three bands, snapped to sixteenths.

A drum loop (WAV, and FLAC or OGG with the ``audio`` extra) becomes bars of
three tracks: low (below 150 Hz: kicks, bass), mid (150 Hz-2 kHz: snares,
toms) and high (above 5 kHz: hats, cymbals). Per band the detector is the
rise of the band's level in dB from one frame to the next (a band-wise
spectral flux, ~5.8 ms hops at 44.1 kHz), and an onset is a local peak of
it above the band's median plus ``sensitivity`` times its median absolute
deviation, within 15 dB of the band's loudest moment (a snare's noise
leaking into the kick's band is quieter than the kick), reaching well above
the band's median level within three frames (a band with nothing in it but
noise rises and falls by chance, never that far), at least 50 ms after the
last one. How far a rise and a peak must reach is scaled to how much the
band's level wanders by chance (``spread``, measured in the loop's quieter
half): hiss in the low band (four FFT bins) wanders by about 3 dB, in the
high band (hundreds of bins) by a tenth of that, so a soft click in hiss
that stands 4 dB above the high band's background is plain there and would
be chance in the low band. The rise must be 3 spreads (2 to 6 dB), the
peak 4 spreads above the background (3 to 10 dB); the upper ends were the
fixed rules once, which lost half of the soft clicks in 3 % hiss. Each
onset plays its nearest sixteenth, keeps its offset from it (the loop's
micro-timing, as Deep Steps kept it) and gives a velocity from its
strength relative to the loop's strongest. The loop's length in bars is its
duration over a bar at ``tempo`` (four beats), rounded; it must be whole
bars within 5 %.

Why this and not librosa: librosa's onset detector is the same idea with
more options, but brings numba and scipy (hundreds of MB, slow to install
on a Raspberry Pi); this is 60 lines of NumPy on the runtime install, and
the bands give drum parts for free.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from impsy.sequencer.learn.corpus import BEATS_PER_BAR, CorpusError
from impsy.sequencer.learn.vae import FEATURES
from impsy.sequencer.timeline import nearest

BANDS = (("low", 0.0, 150.0), ("mid", 150.0, 2000.0), ("high", 5000.0, 20000.0))
"""(name, lowest Hz, highest Hz): one track each."""
FRAME = 1024
HOP = 256
MIN_GAP_S = 0.05
LOUD_DB = 15.0
"""A band's onset must reach within this of the band's loudest moment (leaks are quieter)."""
RISE_SPREADS = 3.0
"""...and its level must rise from one frame to the next by this many times the band's chance
spread (``spread``), between ``MIN_RISE_DB`` and ``MAX_RISE_DB``..."""
MIN_RISE_DB, MAX_RISE_DB = 2.0, 6.0
BACKGROUND_SPREADS = 4.0
"""...to this many spreads above the band's median level within ``AHEAD`` frames, between
``MIN_BACKGROUND_DB`` and ``MAX_BACKGROUND_DB`` (noise alone in a band made most of the
onsets found in synthesised loops of clicks without this rule; benchmarks/patterns.py)."""
MIN_BACKGROUND_DB, MAX_BACKGROUND_DB = 3.0, 10.0
AHEAD = 3
MAX_SECONDS = 120.0
WHOLE_BARS_TOLERANCE = 0.05
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass
class Onsets:
    """What the detector found in one loop, for the bars and for showing it."""

    rate: int
    times: list[np.ndarray]
    """Per band, onset times in seconds."""
    strengths: list[np.ndarray]
    """Per band, each onset's flux (relative: 1 is the loop's strongest onset)."""
    flux: np.ndarray
    """(bands, frames) the detection functions, for drawing them under the waveform."""
    seconds: float
    thresholds: list[float]
    """Per band, the flux a peak had to pass to count (drawn with the flux)."""

    def frame_time(self, frame: int | np.ndarray) -> float | np.ndarray:
        """When flux frame ``frame`` says an onset happened (as ``times`` are reckoned)."""
        return (np.asarray(frame) * HOP - FRAME / 4) / self.rate


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float samples in -1..1 and the sample rate; a CorpusError naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".wav":
            samples, rate = _read_wav(path)
        elif suffix in (".flac", ".ogg"):
            try:
                import soundfile
            except ImportError:
                raise CorpusError(
                    f"{path}: reading {suffix} needs the audio extra (pip install 'impsy[audio]'); "
                    "WAV needs nothing"
                ) from None
            data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
            samples = data.mean(axis=1)
        else:
            raise CorpusError(f"{path}: not an audio loop (.wav, .flac, .ogg)")
    except (OSError, EOFError, wave.Error, RuntimeError, ValueError) as err:
        raise CorpusError(f"{path}: not a readable audio file ({err})") from None
    if not len(samples) or rate <= 0:
        raise CorpusError(f"{path}: no sound in it")
    if len(samples) / rate > MAX_SECONDS:
        raise CorpusError(
            f"{path}: {len(samples) / rate:.0f} s; a loop is at most {MAX_SECONDS:g} s"
        )
    return np.asarray(samples, dtype=np.float64), int(rate)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as file:
        channels, width, rate = file.getnchannels(), file.getsampwidth(), file.getframerate()
        if file.getnframes() > MAX_SECONDS * max(rate, 1):
            raise ValueError(f"longer than {MAX_SECONDS:g} s")
        raw = file.readframes(file.getnframes())
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2") / 32768.0
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        ints = bytes3[:, 0].astype(np.int32) | (bytes3[:, 1].astype(np.int32) << 8)
        ints |= bytes3[:, 2].astype(np.int32) << 16
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4") / float(1 << 31)
    else:
        raise ValueError(f"{8 * width}-bit samples")
    return data.reshape(-1, channels).mean(axis=1), rate


def detect(samples: np.ndarray, rate: int, sensitivity: float = 4.0) -> Onsets:
    """Onsets per band (see the module docstring)."""
    padded = np.concatenate([np.zeros(FRAME), samples, np.zeros(FRAME)])
    count = 1 + (len(padded) - FRAME) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, FRAME)[::HOP][:count]
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
    hop_s = HOP / rate
    fluxes, times, strengths, thresholds = [], [], [], []
    for _, low, high in BANDS:
        energy = power[:, (freqs >= low) & (freqs < high)].sum(axis=1)
        level = 10.0 * np.log10(energy + 1e-10 * energy.max() + 1e-30)
        flux = np.maximum(np.diff(level, prepend=level[:1]), 0.0)
        flux[level < level.max() - LOUD_DB] = 0.0  # what leaks in from other bands is quieter
        chance = spread(level)
        # A hit stands out of the band's background (its median level) within a few frames;
        # a band with nothing in it but noise rises and falls by chance, never that far.
        ahead = np.lib.stride_tricks.sliding_window_view(
            np.concatenate([level, np.full(AHEAD - 1, level[-1])]), AHEAD
        ).max(axis=1)
        above = np.clip(BACKGROUND_SPREADS * chance, MIN_BACKGROUND_DB, MAX_BACKGROUND_DB)
        flux[ahead < np.median(level) + above] = 0.0
        fluxes.append(flux)
        median = np.median(flux)
        rise = np.clip(RISE_SPREADS * chance, MIN_RISE_DB, MAX_RISE_DB)
        threshold = max(median + sensitivity * np.median(np.abs(flux - median)), rise)
        thresholds.append(float(threshold))
        peaks: list[int] = []
        for i in range(1, len(flux) - 1):
            if flux[i] > threshold and flux[i] >= flux[i - 1] and flux[i] > flux[i + 1]:
                if peaks and (i - peaks[-1]) * hop_s < MIN_GAP_S:
                    if flux[i] > flux[peaks[-1]]:
                        peaks[-1] = i
                    continue
                peaks.append(i)
        # calibrated on clicks at known times: the rise peaks a quarter frame after the onset
        times.append(np.array([(i * HOP - FRAME / 4) / rate for i in peaks]).clip(0))
        strengths.append(flux[peaks] if peaks else np.zeros(0))
    top = max((s.max() for s in strengths if len(s)), default=1.0)
    relative = [s / top for s in strengths]
    return Onsets(rate, times, relative, np.array(fluxes), len(samples) / rate, thresholds)


def spread(level: np.ndarray) -> float:
    """How much a band's level (dB, per frame) wanders by chance: a standard deviation
    estimated from the quieter half of the frames (median minus lower quartile, as a normal
    distribution has it), where the background is and the hits are not. 0 in digital
    silence; large where hits fill most frames, and then the rules' upper ends apply."""
    lower, middle = np.percentile(level, [25.0, 50.0])
    return float((middle - lower) / 0.6745)


@dataclass
class Hit:
    """One onset placed on the grid: the step it plays and how it got there."""

    band: int
    time: float
    """Seconds from the loop's start."""
    strength: float
    """Relative to the loop's strongest onset (1)."""
    step: int
    """The nearest step, counted from the loop's start (bar x steps + step)."""
    offset: float
    """Its micro-timing: how far from that step, -0.5..0.5 of a step."""

    @property
    def velocity(self) -> float:
        """0.2..1: a faint onset still plays, the strongest plays loudest."""
        return float(np.clip(0.2 + 0.8 * self.strength, 0.0, 1.0))


def bar_count(seconds: float, tempo: float) -> tuple[int, str | None]:
    """How many bars a loop of ``seconds`` is at ``tempo``, and why it is not usable (None:
    it is whole bars within 5 %)."""
    bar_s = BEATS_PER_BAR * 60.0 / tempo
    count = max(1, round(seconds / bar_s))
    if abs(seconds - count * bar_s) > WHOLE_BARS_TOLERANCE * count * bar_s:
        return count, (
            f"{seconds:.2f} s is not a whole number of bars at {tempo:g} BPM "
            f"({count} bars would be {count * bar_s:.2f} s); give the loop's tempo"
        )
    return count, None


def place(onsets: Onsets, count: int, tempo: float, steps: int = 16) -> list[Hit]:
    """Every onset on its nearest step of ``count`` bars; one past the end is the loop's
    start (the loop comes round), on time."""
    step_s = BEATS_PER_BAR * 60.0 / tempo / steps
    hits = []
    for band, (when, strength) in enumerate(zip(onsets.times, onsets.strengths, strict=True)):
        for time_s, level in zip(when, strength, strict=True):
            position = time_s / step_s
            index = nearest(position)
            if index >= count * steps:
                index, offset = 0, 0.0
            else:
                offset = position - index
            hits.append(Hit(band, float(time_s), float(level), index, float(offset)))
    return hits


def bars_from_audio(
    path: str | Path, tempo: float = 120.0, steps: int = 16, sensitivity: float = 4.0
) -> tuple[np.ndarray, list[str]]:
    """The loop's bars, ``(bars, 3, steps, 3)``, and the tracks' names (the bands)."""
    samples, rate = read_audio(path)
    onsets = detect(samples, rate, sensitivity)
    count, problem = bar_count(onsets.seconds, tempo)
    if problem is not None:
        raise CorpusError(f"{path}: {problem}")
    bars = np.zeros((count, len(BANDS), steps, FEATURES))
    for hit in place(onsets, count, tempo, steps):
        bar, slot = divmod(hit.step, steps)
        cell = bars[bar, hit.band, slot]
        if hit.velocity > cell[1]:  # the loudest onset on a step speaks for it
            cell[:] = (1.0, hit.velocity, hit.offset)
    return bars, [name for name, _, _ in BANDS]
