"""The loss curve as a PNG, drawn on a NumPy canvas and encoded with zlib.

matplotlib would add ~40 MB to the training extra for one picture, so the
plot is drawn by hand: a frame, faint horizontal guides at round loss
values, training loss in blue, validation loss in orange and a grey line at
the best epoch (the one exported). No text is drawn; the summary JSON beside
it holds the numbers.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, MARGIN = 640, 400, 24
BLUE = (31, 119, 180)
ORANGE = (255, 127, 14)
GREY = (160, 160, 160)
GUIDE = (228, 228, 228)
BLACK = (0, 0, 0)


def encode_png(image: np.ndarray) -> bytes:
    """An 8-bit RGB PNG from an ``(H, W, 3)`` uint8 array (filter 0 on every row)."""
    height, width, _ = image.shape
    raw = np.concatenate([np.zeros((height, 1), np.uint8), image.reshape(height, -1)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


def _line(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour) -> None:
    """A 2-pixel-thick line, drawn by sampling one point per pixel of its length."""
    count = int(max(abs(x1 - x0), abs(y1 - y0))) + 2
    xs = np.rint(np.linspace(x0, x1, count)).astype(int)
    ys = np.rint(np.linspace(y0, y1, count)).astype(int)
    for dy in (0, 1):
        keep = (ys + dy >= 0) & (ys + dy < canvas.shape[0]) & (xs >= 0) & (xs < canvas.shape[1])
        canvas[ys[keep] + dy, xs[keep]] = colour


def draw_loss_plot(
    history: Sequence[dict[str, float]], best_epoch: int | None = None
) -> np.ndarray:
    """The canvas: x is epoch 1..n, y spans the finite losses (outliers above clipped)."""
    canvas = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    series = [
        (np.array([h["loss"] for h in history], float), BLUE),
        (np.array([h["val_loss"] for h in history], float), ORANGE),
    ]
    values = np.concatenate([s for s, _ in series]) if history else np.zeros(0)
    values = values[np.isfinite(values)]
    left, right, top, bottom = MARGIN, WIDTH - MARGIN, MARGIN, HEIGHT - MARGIN
    if values.size:
        low = float(values.min())
        high = float(min(values.max(), np.percentile(values, 90) + (np.median(values) - low)))
        high = high if high > low else low + 1.0
        n = len(history)

        def x_of(i: int) -> float:
            return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

        def y_of(v: float) -> float:
            return bottom - (bottom - top) * (min(v, high) - low) / (high - low)

        spacing = 10 ** math.floor(math.log10(high - low))
        for guide in np.arange(math.ceil(low / spacing) * spacing, high, spacing):
            canvas[int(round(y_of(guide))), left:right] = GUIDE
        if best_epoch:
            _line(canvas, x_of(best_epoch - 1), top, x_of(best_epoch - 1), bottom, GREY)
        for losses, colour in series:
            points = [(x_of(i), y_of(v)) for i, v in enumerate(losses) if np.isfinite(v)]
            for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
                _line(canvas, xa, ya, xb, yb, colour)
            for xa, ya in points[:1] if len(points) == 1 else []:
                _line(canvas, xa - 2, ya, xa + 2, ya, colour)
    canvas[top, left:right] = canvas[bottom, left : right + 1] = BLACK
    canvas[top:bottom, left] = canvas[top:bottom, right] = BLACK
    return canvas


def write_loss_plot(
    path: Path, history: Sequence[dict[str, float]], best_epoch: int | None = None
) -> Path:
    """Draw the training and validation losses per epoch and write them as a PNG."""
    path.write_bytes(encode_png(draw_loss_plot(history, best_epoch)))
    return path
