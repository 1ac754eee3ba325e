"""The OSC round trip of ``accompany`` mode: a gesture in, the filled event out at once.

In ``accompany`` the performer's gesture sets the ``human`` dimensions and
the model fills the others from its exact conditional mixture, sending the
whole event at the gesture's instant (the LSTM step follows the send). So
the round trip is the wire, one wake-up, the input pipeline and one steered
draw: no wait of the model's own, unlike polyphony's answer (the gesture's log
row is written after the answer has left, before the next gesture). Back to
back, as here, a gesture also waits for the step that followed the previous
answer; ``--pause`` leaves room between them.

Measured as the engine benchmark measures polyphony (``engine.py``): a real
``impsy run`` (its own process, the bundled s model, LiteRT), one gesture
sent, the answer awaited, repeated; beside it the same client loop against a
bare Python UDP echo (the floor of any round trip on this machine). The
variants: the bundled 9-d model (IMPSY's ``.tflite``, as the engine benchmark
uses) with two dimensions held; the same with the packaged default model
(impsy's own conversion, whose LSTM step is 3-4x quicker); the shipped chorale
model as ``configs/accompany-example.toml`` plays it (the soprano held, alto,
tenor and bass truncated to C major); the same with the surprise meter on
(one more LSTM step per gesture, after the answer); and the lead chorale model
(``configs/accompany-lead-example.toml``: its LSTM step on the gesture comes
before the answer's draw, so the answer waits for it).

    python benchmarks/accompany.py                # 2000 round trips per variant
    python benchmarks/accompany.py --count 300    # quicker

Goal (issue "You hold, it plays"): median at most 250 µs on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine import DEFAULT_MODEL, Peer, gesture_messages, measure_echo_floor, running, systems
from results import record
from tables import markdown_table, percentile
from wire import interface_message

ROOT = Path(__file__).resolve().parents[1]

CHORALES = ROOT / "models" / "chorales-accompany-dim5-layers2-units64-mixtures5-scale10.tflite"
LEAD = ROOT / "models" / "chorales-accompany-lead-dim5-layers2-units64-mixtures5-scale10.tflite"
BUNDLED = """
[steering]
roles = ["human", "human", "model", "model", "model", "model", "model", "model"]
"""
SOPRANO = """
[steering]
roles = ["human", "model", "model", "model"]
scale = ["C", "major"]
scale_dimensions = [2, 3, 4]
"""
VARIANTS = (
    # label, model options, steering, values per gesture
    ("bundled s model (9-d): x1, x2 held, the model plays x3..x8", {}, BUNDLED, 8),
    (
        "… the packaged default model (impsy's conversion)",
        {"model": DEFAULT_MODEL.with_suffix(".tflite")},
        BUNDLED,
        8,
    ),
    (
        "chorale model: soprano held, alto, tenor, bass in C major",
        {"model": CHORALES, "dimension": 5},
        SOPRANO,
        4,
    ),
    (
        "… with the surprise meter on",
        {"model": CHORALES, "dimension": 5},
        SOPRANO + "surprise = true\n",
        4,
    ),
    (
        "lead chorale model (the step first, then the draw), in C major",
        {"model": LEAD, "dimension": 5, "model_extra": "lead = true\n"},
        SOPRANO,
        4,
    ),
)


def gestures(values: int, count: int = 256) -> list[bytes]:
    """Distinct gestures: for the chorale model a soprano line over C major, for others sweeps."""
    if values == 8:
        return gesture_messages(count)
    melody = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    return [
        interface_message([melody[i % len(melody)] / 127, 0.5, 0.45, 0.35][:values])
        for i in range(count)
    ]


def round_trips(
    peer: Peer, messages: list[bytes], count: int, warmup: int, pause: float = 0.0
) -> list[float]:
    """Microseconds from each gesture sent to its answer received (unanswered: skipped)."""
    rtts = []
    for i in range(warmup + count):
        start = time.perf_counter_ns()
        peer.send(messages[i % len(messages)])
        answer = peer.prediction(2.0)
        arrived = time.perf_counter_ns()
        if answer is None:
            peer.drain()
        elif i >= warmup:
            rtts.append((arrived - start) / 1e3)
        if pause:
            time.sleep(pause)
    return rtts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="timed round trips per variant")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between an answer and the next gesture (0: at once, as the polyphony "
        "round trip is measured; a performer leaves milliseconds)",
    )
    args = parser.parse_args()
    impsy, _ = systems(ROOT)
    echo = measure_echo_floor(args.count)
    rows = [
        ("bare Python UDP echo (the floor)", f"{echo['p50']:.0f}", f"{echo['p99']:.0f}", "", "")
    ]
    with tempfile.TemporaryDirectory(prefix="impsy-accompany-bench-") as tmp:
        for label, options, extra, values in VARIANTS:
            with running(impsy, Path(tmp), "accompany", 1.0, extra=extra, **options) as (
                server,
                peer,
            ):
                server.wait_ready(peer)
                time.sleep(0.3)
                peer.drain()
                rtts = round_trips(peer, gestures(values), args.count, args.warmup, args.pause)
                status = peer.status()
            p50, p99 = percentile(rtts, 50), percentile(rtts, 99)
            fallbacks = status.get("steering_fallbacks", "?") if status else "?"
            rows.append(
                (label, f"{p50:.0f}", f"{p99:.0f}", f"{len(rtts)}/{args.count}", str(fallbacks))
            )
            record(
                f"OSC round trip, accompany mode ({label}), median",
                p50,
                "µs",
                goal="<= 250",
                floor=echo["p50"],
            )
    header = ("variant", "median µs", "p99 µs", "answered", "fallbacks")
    print("\n".join(markdown_table(header, rows, "lrrrr")))


if __name__ == "__main__":
    main()
