"""The per-epoch progress line: written by training, read by whoever follows a job.

``impsy train`` prints one line per epoch; the web UI's job view, the
``train`` command of a running performance and a studio's client all follow
a training by reading those lines, wherever it runs (a subprocess here, a
Ray worker on another machine). The format and its parser live together
here, so the writer and the readers cannot drift apart.
"""

from __future__ import annotations

import math
import re
from typing import Any

EPOCH_LINE = re.compile(
    r"^epoch\s+(\d+)/(\d+)\s+loss\s+(\S+)\s+val_loss\s+(\S+)(?:\s+val_nll\s+(\S+))?"
    r"\s+([\d.]+)\s+s(\s+best)?"
)


def epoch_line(
    epoch: int,
    epochs: int,
    loss: float,
    val_loss: float,
    seconds: float,
    best: bool,
    val_nll: float | None = None,
) -> str:
    """``epoch  3/100  loss    1.2000  val_loss    1.4000    2.0 s  best`` (1-based epoch)."""
    shown = f"val_loss {val_loss:9.4f}"
    if val_nll is not None:
        shown += f"  val_nll {val_nll:9.4f}"
    return (
        f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {loss:9.4f}  "
        f"{shown}  {seconds:6.1f} s{'  best' if best else ''}"
    )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_epoch(line: str) -> dict[str, Any] | None:
    """An epoch line as a progress entry (non-finite losses as None); None for other lines."""
    found = EPOCH_LINE.match(line.strip())
    if not found:
        return None
    return {
        "epoch": int(found[1]),
        "epochs": int(found[2]),
        "loss": _number(found[3]),
        "val_loss": _number(found[4]),
        "val_nll": _number(found[5]) if found[5] else None,
        "seconds": float(found[6]),
        "best": bool(found[7]),
    }
