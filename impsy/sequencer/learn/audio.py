"""Audio loops as bars: onsets found by spectral flux in three bands, snapped to sixteenths.

A drum loop (WAV, and FLAC or OGG with the ``audio`` extra) becomes bars of
three tracks: low (below 150 Hz: kicks, bass), mid (150 Hz-2 kHz: snares,
toms) and high (above 5 kHz: hats, cymbals). Per band the detector is the
rise of the band's level in dB from one frame to the next (a band-wise
spectral flux, ~5.8 ms hops at 44.1 kHz), and an onset is a local peak of
it above the band's median plus ``sensitivity`` times its median absolute
deviation (and at least 6 dB), within 15 dB of the band's loudest moment
(a snare's noise leaking into the kick's band is quieter than the kick),
at least 50 ms after the last one. Each
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
MIN_RISE_DB = 6.0
"""...and its level must rise by at least this from one frame to the next."""
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
    fluxes, times, strengths = [], [], []
    for _, low, high in BANDS:
        energy = power[:, (freqs >= low) & (freqs < high)].sum(axis=1)
        level = 10.0 * np.log10(energy + 1e-10 * energy.max() + 1e-30)
        flux = np.maximum(np.diff(level, prepend=level[:1]), 0.0)
        flux[level < level.max() - LOUD_DB] = 0.0  # what leaks in from other bands is quieter
        fluxes.append(flux)
        median = np.median(flux)
        threshold = max(median + sensitivity * np.median(np.abs(flux - median)), MIN_RISE_DB)
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
    return Onsets(rate, times, [s / top for s in strengths], np.array(fluxes), len(samples) / rate)


def bars_from_audio(
    path: str | Path, tempo: float = 120.0, steps: int = 16, sensitivity: float = 4.0
) -> tuple[np.ndarray, list[str]]:
    """The loop's bars, ``(bars, 3, steps, 3)``, and the tracks' names (the bands)."""
    samples, rate = read_audio(path)
    onsets = detect(samples, rate, sensitivity)
    bar_s = BEATS_PER_BAR * 60.0 / tempo
    count = max(1, round(onsets.seconds / bar_s))
    if abs(onsets.seconds - count * bar_s) > WHOLE_BARS_TOLERANCE * count * bar_s:
        raise CorpusError(
            f"{path}: {onsets.seconds:.2f} s is not a whole number of bars at {tempo:g} BPM "
            f"({count} bars would be {count * bar_s:.2f} s); give the loop's tempo"
        )
    step_s = bar_s / steps
    bars = np.zeros((count, len(BANDS), steps, FEATURES))
    for t, (when, strength) in enumerate(zip(onsets.times, onsets.strengths, strict=True)):
        for time_s, level in zip(when, strength, strict=True):
            position = time_s / step_s
            index = nearest(position)
            bar, slot = divmod(index, steps)
            if bar >= count:
                bar, slot = 0, 0  # the loop's end is its start
            cell = bars[bar, t, slot]
            velocity = float(np.clip(0.2 + 0.8 * level, 0.0, 1.0))
            if velocity > cell[1]:
                cell[:] = (1.0, velocity, position - index if index < count * steps else 0.0)
    return bars, [name for name, _, _ in BANDS]
