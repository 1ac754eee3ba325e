"""A variational autoencoder of one-bar patterns, in NumPy: a few latent knobs per pattern.

An example is one bar of ``tracks`` x ``steps`` steps, three numbers a step:
whether it plays (0/1), its velocity (0..1) and its micro-timing (its offset
from the grid, -0.5..0.5 of a step), as Deep Steps encoded loops. The model:

    encoder  x -> tanh(W1 x) -> (mu, log var)         latent: 2 to 4 numbers
    decoder  z -> tanh(W2 z) -> on (sigmoid), velocity (sigmoid), offset (0.5 tanh)

trained on ``on`` by cross-entropy, on velocity and offset by squared error
where the step plays (a silent step's velocity means nothing), plus ``beta``
times the KL divergence of the posterior from N(0, I). Why a VAE and not
Deep Steps' plain autoencoder: the KL term keeps the training patterns in
a compact ball around 0, so a latent knob's range is known (about -3..3),
"generate" is a draw from the prior the decoder was trained for, and nearby
points decode to similar patterns, which is what makes moving a knob slowly
change few steps. Why so small: a bar is at most a few hundred numbers and
a user's corpus a few hundred bars; a hidden layer of 64 fits that in
seconds on two cores.

The gradients are written out (the model is two small MLPs), checked
against finite differences by the tests; Adam does the steps. Everything
is seeded: the same corpus and seed give the same model.

A trained model can keep its corpus's map (:class:`CorpusMap`): each
training bar's point (the posterior mean), how wide its posterior is, how
dense it is and the file it came from, so the web UI can place every
training pattern in the latent space without the corpus at hand, and
``generate`` can draw where the training bars are (see
:meth:`impsy.sequencer.learn.knobs.PatternKnobs.generate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = 3
"""Per step: on, velocity, offset."""
LATENT_RANGE = 3.0
"""Latent knobs run -3..3: the prior puts 99.7 % of its mass there."""
_NAMES = ("W1", "b1", "Wmu", "bmu", "Wlv", "blv", "W2", "b2", "W3", "b3")
MAX_SOURCE_NAME = 255


@dataclass
class CorpusMap:
    """Where the training bars sit in the latent space, and which file each came from."""

    means: np.ndarray
    """``(bars, latent)``: each training bar's posterior mean, in the order trained on."""
    spreads: np.ndarray
    """``(bars, latent)``: each bar's posterior standard deviation (how far from its mean
    the decoder was trained to read it)."""
    density: np.ndarray
    """``(bars,)``: the share of each bar's steps that play."""
    sources: list[str]
    """The files' names (no folders: the map is shown to whoever opens the web UI)."""
    source: np.ndarray
    """``(bars,)``: the index in ``sources`` of each bar's file."""


@dataclass
class History:
    """What training did: the mean loss per epoch and its parts, and how long it took."""

    loss: list[float] = field(default_factory=list)
    reconstruction: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for any x


class PatternVAE:
    """A VAE over ``tracks`` x ``steps`` one-bar patterns with ``latent`` knobs."""

    def __init__(
        self,
        tracks: int,
        steps: int = 16,
        latent: int = 4,
        hidden: int = 64,
        seed: int = 0,
        beta: float = 0.5,
        timing_weight: float = 4.0,
    ) -> None:
        if not 2 <= latent <= 4:
            raise ValueError(f"latent must be 2 to 4 knobs, got {latent}")
        if tracks < 1 or steps < 1 or hidden < 1:
            raise ValueError("tracks, steps and hidden must be at least 1")
        self.tracks, self.steps, self.latent, self.hidden = tracks, steps, latent, hidden
        self.beta, self.timing_weight = float(beta), float(timing_weight)
        n = tracks * steps
        rng = np.random.default_rng(seed)

        def dense(fan_in: int, fan_out: int) -> np.ndarray:
            return rng.normal(0.0, np.sqrt(1.0 / fan_in), (fan_in, fan_out))

        self.params: dict[str, np.ndarray] = {
            "W1": dense(FEATURES * n, hidden),
            "b1": np.zeros(hidden),
            "Wmu": dense(hidden, latent),
            "bmu": np.zeros(latent),
            "Wlv": dense(hidden, latent) * 0.1,
            "blv": np.full(latent, -1.0),
            "W2": dense(latent, hidden),
            "b2": np.zeros(hidden),
            "W3": dense(hidden, FEATURES * n),
            "b3": np.zeros(FEATURES * n),
        }
        self._rng = np.random.default_rng(seed + 1)
        self.corpus: CorpusMap | None = None
        """The training bars' map (``remember``), saved with the model."""

    @property
    def size(self) -> int:
        """Numbers in one example: tracks x steps x 3."""
        return FEATURES * self.tracks * self.steps

    # ------------------------------------------------------------------ the model
    def flat(self, patterns: np.ndarray) -> np.ndarray:
        """``(N, tracks, steps, 3)`` patterns as ``(N, size)`` rows, checked."""
        x = np.asarray(patterns, dtype=np.float64)
        if x.ndim != 4 or x.shape[1:] != (self.tracks, self.steps, FEATURES):
            raise ValueError(
                f"expected patterns of shape (N, {self.tracks}, {self.steps}, {FEATURES}), "
                f"got {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("patterns must be finite numbers")
        return x.reshape(len(x), -1)

    def encode(self, patterns: np.ndarray) -> np.ndarray:
        """Each pattern's point in the latent space (the posterior mean)."""
        return self.posterior(patterns)[0]

    def posterior(self, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each pattern's posterior: its mean and standard deviation, ``(N, latent)`` each."""
        p = self.params
        h1 = np.tanh(self.flat(patterns) @ p["W1"] + p["b1"])
        log_var = np.clip(h1 @ p["Wlv"] + p["blv"], -12.0, 6.0)
        return h1 @ p["Wmu"] + p["bmu"], np.exp(0.5 * log_var)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """``(N, tracks, steps, 3)``: per step the probability it plays, velocity, offset."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float64))
        if z.shape[1] != self.latent or not np.all(np.isfinite(z)):
            raise ValueError(f"expected finite points of {self.latent} numbers, got {z.shape}")
        o = self._decoder(z)[1]
        return self._outputs(o).reshape(len(z), self.tracks, self.steps, FEATURES)

    def plays(self, z: np.ndarray) -> np.ndarray:
        """``(N, tracks, steps)``: which steps the points' bars play at the model's own call
        (a probability above 0.5), for many points at once: only the steps' on logits are
        worked out (a fraction of ``decode``'s work)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float64))
        p = self.params
        h2 = np.tanh(z @ p["W2"] + p["b2"])
        logits = h2 @ p["W3"][:, ::FEATURES] + p["b3"][::FEATURES]
        return (logits > 0.0).reshape(len(z), self.tracks, self.steps)

    def _decoder(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        h2 = np.tanh(z @ p["W2"] + p["b2"])
        return h2, h2 @ p["W3"] + p["b3"]

    def _outputs(self, o: np.ndarray) -> np.ndarray:
        """Raw decoder outputs -> (probability, velocity, offset), interleaved per step."""
        o3 = o.reshape(len(o), -1, FEATURES)
        out = np.empty_like(o3)
        out[..., 0] = _sigmoid(o3[..., 0])
        out[..., 1] = _sigmoid(o3[..., 1])
        out[..., 2] = 0.5 * np.tanh(o3[..., 2])
        return out.reshape(len(o), -1)

    # ------------------------------------------------------------------ training
    def loss_and_grads(
        self, x: np.ndarray, eps: np.ndarray
    ) -> tuple[float, float, float, dict[str, np.ndarray]]:
        """Mean loss over the rows ``x`` with the noise ``eps``, its parts, and the gradients."""
        p = self.params
        n = len(x)
        h1 = np.tanh(x @ p["W1"] + p["b1"])
        mu = h1 @ p["Wmu"] + p["bmu"]
        lv = np.clip(h1 @ p["Wlv"] + p["blv"], -12.0, 6.0)
        sd = np.exp(0.5 * lv)
        z = mu + sd * eps
        h2, o = self._decoder(z)
        out = self._outputs(o)
        x3, o3, out3 = (a.reshape(n, -1, FEATURES) for a in (x, o, out))
        on, prob = x3[..., 0], out3[..., 0]
        mask = on > 0.5
        tiny = 1e-12
        bce = -(on * np.log(prob + tiny) + (1.0 - on) * np.log(1.0 - prob + tiny))
        vel_err = np.where(mask, out3[..., 1] - x3[..., 1], 0.0)
        off_err = np.where(mask, out3[..., 2] - x3[..., 2], 0.0)
        w = self.timing_weight
        reconstruction = bce.sum() + (vel_err**2).sum() + w * (off_err**2).sum()
        kl = -0.5 * np.sum(1.0 + lv - mu**2 - np.exp(lv))
        loss = (reconstruction + self.beta * kl) / n

        do3 = np.empty_like(o3)
        do3[..., 0] = prob - on
        do3[..., 1] = 2.0 * vel_err * out3[..., 1] * (1.0 - out3[..., 1])
        tanh_off = np.tanh(o3[..., 2])
        do3[..., 2] = 2.0 * w * off_err * 0.5 * (1.0 - tanh_off**2)
        do = do3.reshape(n, -1) / n
        grads = {"W3": h2.T @ do, "b3": do.sum(0)}
        da2 = (do @ p["W3"].T) * (1.0 - h2**2)
        grads["W2"], grads["b2"] = z.T @ da2, da2.sum(0)
        dz = da2 @ p["W2"].T
        dmu = dz + self.beta * mu / n
        dlv = dz * eps * 0.5 * sd + self.beta * 0.5 * (np.exp(lv) - 1.0) / n
        dlv = np.where((lv > -12.0) & (lv < 6.0), dlv, 0.0)  # the clip passes no gradient
        grads["Wmu"], grads["bmu"] = h1.T @ dmu, dmu.sum(0)
        grads["Wlv"], grads["blv"] = h1.T @ dlv, dlv.sum(0)
        da1 = (dmu @ p["Wmu"].T + dlv @ p["Wlv"].T) * (1.0 - h1**2)
        grads["W1"], grads["b1"] = x.T @ da1, da1.sum(0)
        return float(loss), float(reconstruction / n), float(kl / n), grads

    def fit(
        self,
        patterns: np.ndarray,
        epochs: int = 300,
        batch_size: int = 32,
        learning_rate: float = 0.003,
        seconds: float | None = None,
    ) -> History:
        """Train on ``patterns`` (Adam); stops after ``epochs`` or once ``seconds`` have passed."""
        x = self.flat(patterns)
        if not len(x):
            raise ValueError("no patterns to learn from")
        history = History()
        start = time.perf_counter()
        moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in self.params.items()}
        b1, b2, tiny = 0.9, 0.999, 1e-8
        t = 0
        for _ in range(epochs):
            order = self._rng.permutation(len(x))
            totals = np.zeros(3)
            for first in range(0, len(x), batch_size):
                rows = x[order[first : first + batch_size]]
                eps = self._rng.standard_normal((len(rows), self.latent))
                loss, rec, kl, grads = self.loss_and_grads(rows, eps)
                totals += np.array([loss, rec, kl]) * len(rows)
                t += 1
                for name, grad in grads.items():
                    m, v = moments[name]
                    m *= b1
                    m += (1 - b1) * grad
                    v *= b2
                    v += (1 - b2) * grad * grad
                    step = learning_rate * np.sqrt(1 - b2**t) / (1 - b1**t)
                    self.params[name] -= step * m / (np.sqrt(v) + tiny)
            loss, rec, kl = totals / len(x)
            history.loss.append(float(loss))
            history.reconstruction.append(float(rec))
            history.kl.append(float(kl))
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
        history.seconds = time.perf_counter() - start
        return history

    def remember(self, patterns: np.ndarray, sources: list[tuple[str, int]] | None = None) -> None:
        """Keep where the training ``patterns`` sit (their posteriors), how dense each is and,
        from ``sources`` ((file, bars) in the order the bars are stacked), which file each
        came from."""
        means, spreads = self.posterior(patterns)
        density = (np.asarray(patterns)[..., 0] > 0.5).mean(axis=(1, 2))
        names = [Path(name).name[:MAX_SOURCE_NAME] for name, _ in sources or []]
        counts = [count for _, count in sources or []]
        source = np.repeat(np.arange(len(counts)), counts)[: len(means)]
        if len(source) < len(means):  # bars nobody claimed: one unnamed source
            names.append("")
            source = np.concatenate([source, np.full(len(means) - len(source), len(names) - 1)])
        self.corpus = CorpusMap(means, spreads, density, names, source.astype(np.int64))

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """An ``.npz`` of plain numeric and text arrays (``load`` refuses object arrays)."""
        path = Path(path)
        shape = np.array([self.tracks, self.steps, self.latent, self.hidden])
        weights = np.array([self.beta, self.timing_weight])
        extra: dict[str, np.ndarray] = {}
        if self.corpus is not None:
            extra["corpus_means"] = self.corpus.means.astype(np.float32)
            extra["corpus_spreads"] = self.corpus.spreads.astype(np.float32)
            extra["corpus_density"] = self.corpus.density.astype(np.float32)
            extra["corpus_sources"] = np.array(self.corpus.sources, dtype=np.str_)
            extra["corpus_source"] = self.corpus.source.astype(np.int32)
        with open(path, "wb") as file:
            np.savez(file, shape=shape, weights=weights, **self.params, **extra)
        return path

    @classmethod
    def load(cls, path: str | Path) -> PatternVAE:
        """A saved model; a file that is not one is a ValueError naming it and what is wrong."""
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: np.array(data[name], dtype=np.float64) for name in _NAMES}
                tracks, steps, latent, hidden = (int(v) for v in data["shape"])
                beta, timing_weight = (float(v) for v in data["weights"])
                # A map without the posteriors' spreads (kept since generate draws near the
                # bars) is an older file's: the model plays, its map is made again by training.
                corpus = _corpus(data, latent) if "corpus_spreads" in data else None
        except (OSError, KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{path}: not a pattern model ({err})") from None
        model = cls(tracks, steps, latent, hidden, beta=beta, timing_weight=timing_weight)
        for name, array in arrays.items():
            if array.shape != model.params[name].shape or not np.all(np.isfinite(array)):
                raise ValueError(
                    f"{path}: {name} has shape {array.shape}, expected "
                    f"{model.params[name].shape} of finite numbers"
                )
            model.params[name] = array
        model.corpus = corpus
        return model


def _corpus(data: Any, latent: int) -> CorpusMap:
    """The map kept in a model file, checked (a file that lies is refused, not shown)."""
    means = np.array(data["corpus_means"], dtype=np.float64)
    spreads = np.array(data["corpus_spreads"], dtype=np.float64)
    density = np.array(data["corpus_density"], dtype=np.float64)
    names = data["corpus_sources"]
    source = np.array(data["corpus_source"])
    if means.ndim != 2 or means.shape[1] != latent or not np.all(np.isfinite(means)):
        raise ValueError(f"corpus_means has shape {means.shape}, expected (N, {latent}) numbers")
    if spreads.shape != means.shape or not np.all((spreads > 0) & np.isfinite(spreads)):
        raise ValueError(f"corpus_spreads must be {means.shape} positive numbers")
    if density.shape != (len(means),) or not np.all((density >= 0) & (density <= 1)):
        raise ValueError(f"corpus_density must be {len(means)} numbers from 0 to 1")
    if names.ndim != 1 or names.dtype.kind != "U":
        raise ValueError("corpus_sources must be a list of names")
    if source.shape != (len(means),) or source.dtype.kind not in "iu":
        raise ValueError(f"corpus_source must be {len(means)} whole numbers")
    if len(source) and not 0 <= source.min() <= source.max() < len(names):
        raise ValueError(f"corpus_source must index the {len(names)} corpus_sources")
    return CorpusMap(
        means,
        spreads,
        density,
        [str(n)[:MAX_SOURCE_NAME] for n in names],
        source.astype(np.int64),
    )
