"""Per-prediction latency of impsy's engines, and of IMPSY 1.2.1 for comparison.

A prediction is what happens per note: one network step and one sample
(``model.predict``). For each engine and model size (IMPSY's xs..xl at
dimension 9, random weights) and for the bundled dim-9 files, the script
times ``--count`` predictions after a warm-up and prints the median and
99th percentile as a markdown table. Every model is fed the same
pre-drawn random events.

The LiteRT rows need ``.tflite`` files of each size; they are built once with
TensorFlow + keras-mdn-layer (the ``train`` extra) in a child process and
cached in ``benchmarks/.cache/``. IMPSY's own ``TfliteMDRNN.generate`` runs in
a separate interpreter that has ``impsy==1.2.1`` installed (``--impsy-python``).

    python benchmarks/predict.py                 # everything
    python benchmarks/predict.py --sizes xs,s    # a subset
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
from results import record
from tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
SHARED = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10"
SIZES = {  # IMPSY's model sizes (impsy.utils.SIZE_TO_PARAMETERS)
    "xs": (32, 2),
    "s": (64, 2),
    "m": (128, 2),
    "l": (256, 2),
    "xl": (512, 3),
}
DIMENSION = 9
MIXTURES = 5
IMPSY_VENV_HINT = "python3 -m venv .bench-venv && .bench-venv/bin/pip install impsy==1.2.1"


def random_weights(units: int, layers: int, seed: int = 0):
    """Weights shaped like an IMPSY model of this size, scaled like Glorot init."""
    from impsy.model.weights import Provenance, build_weights

    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.normal(0.0, 1.0 / np.sqrt(shape[0]), shape).astype(np.float32)

    lstm = []
    inputs = DIMENSION
    for _ in range(layers):
        lstm.append((normal(inputs, 4 * units), normal(units, 4 * units), normal(4 * units)))
        inputs = units
    width = MIXTURES * DIMENSION
    mdn = (
        normal(units, width),
        normal(width),
        normal(units, width),
        normal(width),
        normal(units, MIXTURES),
        normal(MIXTURES),
    )
    return build_weights(lstm, mdn, Provenance("benchmark"), "random weights")


def build_tflite(units: int, layers: int, path: Path) -> None:
    """Write this size as the ``.tflite`` ``impsy train`` would export, random weights.

    Runs in a child process: importing TensorFlow here would load its thread
    pools into the timing process.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from impsy.training.network import build_inference_model
    from impsy.training.tflite import convert_inference_model

    model = build_inference_model(DIMENSION, units, MIXTURES, layers)
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(0.0, 0.2, w.shape).astype("float32") for w in model.get_weights()]
    )
    path.write_bytes(convert_inference_model(model, DIMENSION, units, layers))


def cached_tflite(size: str) -> Path | None:
    """The cached ``.tflite`` for a size, built on first use; None if TF is missing."""
    units, layers = SIZES[size]
    path = CACHE / f"bench-dim{DIMENSION}-units{units}-layers{layers}.tflite"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    done = subprocess.run(
        [sys.executable, __file__, "--build", str(units), str(layers), str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not path.exists():
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["unknown error"]
        print(f"  (no litert {size}: building the .tflite failed: {tail[0]})", file=sys.stderr)
        return None
    return path


def time_predictions(predict, events: np.ndarray, warmup: int) -> np.ndarray:
    """Nanoseconds per ``predict`` call, after ``warmup`` untimed calls."""
    for event in events[:warmup]:
        predict(event)
    clock = time.perf_counter_ns
    times = np.empty(len(events) - warmup, dtype=np.int64)
    for i, event in enumerate(events[warmup:]):
        start = clock()
        predict(event)
        times[i] = clock() - start
    return times


def load_as_run(path: Path):  # noqa: ANN201 - an impsy.model.MDRNN
    """``path`` as ``impsy run`` loads it (``load_model``, engine "auto"), seeded."""
    sys.path.insert(0, str(ROOT))
    from impsy.model import load_model

    return load_model(path, seed=0)


def time_file(path: Path, count: int, warmup: int) -> dict[str, object]:
    """One model file as ``impsy run`` loads it, timed alone."""
    model = load_as_run(path)
    events = np.random.default_rng(0).random((count + warmup, model.dimension))
    times = time_predictions(model.predict, events, warmup)
    median, p99 = summary(times)
    return {
        "engine": model.engine,
        "median": median,
        "p99": p99,
        "model": model.describe(),
        "times_us": np.round(times / 1e3, 2).tolist(),
    }


class Alone:
    """``time_file``'s timing in one long-lived process, asked again and again.

    The in-server inference benchmark alternates many short rounds of the
    server's playing with rounds of the model timed alone; a fresh process per
    round would cost half a second of start-up each. ``cpus`` pins the process
    (the server beside it is pinned to the same ones, so both meet one core).
    """

    def __init__(self, path: Path, cpus: set[int] | None = None) -> None:
        from processes import pin

        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--file", str(path), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1"),
        )
        if cpus:
            pin(self.proc.pid, cpus)
        self.engine = self._answer()["engine"]

    def _answer(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"timing alone failed (exit {self.proc.wait()})")

    def time(self, count: int, warmup: int) -> list[float]:
        """Microseconds for each of ``count`` predictions, after ``warmup`` untimed ones."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{count} {warmup}\n")
        self.proc.stdin.flush()
        return self._answer()["times_us"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def serve_file(path: Path) -> None:
    """``--serve``: load the file once, then time ``COUNT WARMUP`` per line of stdin."""
    model = load_as_run(path)
    events = np.random.default_rng(0).random((4096, model.dimension))
    print(json.dumps({"engine": model.engine}), flush=True)
    offset = 0
    for line in sys.stdin:
        count, warmup = (int(word) for word in line.split())
        batch = np.take(events, range(offset, offset + count + warmup), axis=0, mode="wrap")
        offset += count + warmup
        times = time_predictions(model.predict, batch, warmup)
        print(json.dumps({"times_us": np.round(times / 1e3, 2).tolist()}), flush=True)


def summary(times_ns: np.ndarray) -> tuple[float, float]:
    """(median, p99) in microseconds."""
    return float(np.median(times_ns) / 1e3), float(np.percentile(times_ns, 99) / 1e3)


IMPSY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from impsy.mdrnn import TfliteMDRNN
    path, count, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    events = np.random.default_rng(0).random((count + warmup, 9))
    model = TfliteMDRNN.from_file(Path(path))
    for e in events[:warmup]:
        model.generate(e)
    times = []
    for e in events[warmup:]:
        t = time.perf_counter_ns()
        model.generate(e)
        times.append(time.perf_counter_ns() - t)
    print(json.dumps({"median": float(np.median(times)) / 1e3,
                      "p99": float(np.percentile(times, 99)) / 1e3}))
    """
)


def default_impsy_python() -> Path:
    local = ROOT / ".bench-venv" / "bin" / "python"
    return local if local.exists() else Path("/tmp/impsy-ref/bin/python")


def time_impsy(python: Path, model: Path, count: int, warmup: int) -> tuple[float, float] | None:
    """IMPSY 1.2.1's ``TfliteMDRNN.generate`` on ``model``, timed in its own interpreter."""
    if not python.exists():
        print(
            f"  (no IMPSY 1.2.1 at {python}; create one with: {IMPSY_VENV_HINT})", file=sys.stderr
        )
        return None
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    # -I and a neutral working directory, so this checkout's ``impsy`` cannot shadow IMPSY's
    done = subprocess.run(
        [str(python), "-I", "-c", IMPSY_SCRIPT, str(model.resolve()), str(count), str(warmup)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"  (IMPSY 1.2.1 run failed: {done.stderr.strip()[-300:]})", file=sys.stderr)
        return None
    result = json.loads(lines[-1])
    return result["median"], result["p99"]


def time_startup() -> tuple[float, float]:
    """Seconds for ``import impsy.model`` and ``load_model`` (shared .h5) in a fresh process."""
    code = textwrap.dedent(
        f"""
        import time
        t = time.perf_counter(); import impsy.model; t1 = time.perf_counter()
        impsy.model.load_model({str(SHARED) + ".h5"!r}); t2 = time.perf_counter()
        print(t1 - t, t2 - t1)
        """
    )
    best = None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        values = tuple(float(v) for v in out.stdout.split())
        best = (
            values if best is None else tuple(min(a, b) for a, b in zip(best, values, strict=True))
        )
    return best


def record_rows(rows: list[tuple]) -> None:
    """The report's rows: NumPy per size, and each system's default for the bundled model.

    The 5x goal is for size s, IMPSY's default and the bundled model's size; the
    other sizes show how the gap closes as arithmetic outgrows per-call overhead.
    """
    for label, engine, median, _p99, _note, impsy in rows:
        if engine != "numpy" or label.startswith("bundled s .keras"):
            continue
        size, shape = label.split(maxsplit=1)
        bundled = size == "bundled"
        measure = (
            "prediction, bundled s model, each system's default, median"
            if bundled
            else f"prediction, size {size} {shape.replace('x', '×')}, median"
        )
        goal = "ratio >= 5" if bundled or size == "s" else ""
        note = "impsy `.h5` NumPy, IMPSY `.tflite`" if bundled else "same weights' `.tflite`"
        record(measure, median, "µs", reference=impsy[0] if impsy else None, goal=goal, note=note)
    for label, engine, median, _p99, _note, impsy in rows:
        if label == "bundled s .tflite" and engine == "litert":
            record(
                "prediction, bundled s `.tflite`, same file, median",
                median,
                "µs",
                reference=impsy[0] if impsy else None,
                note="LiteRT in both",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="timed predictions per row")
    parser.add_argument("--warmup", type=int, default=500, help="untimed predictions first")
    parser.add_argument("--sizes", default=",".join(SIZES), help="comma-separated sizes")
    parser.add_argument("--impsy-python", type=Path, default=None, help="python with impsy 1.2.1")
    parser.add_argument("--no-litert", action="store_true", help="skip the LiteRT size rows")
    parser.add_argument("--no-impsy", action="store_true", help="skip IMPSY 1.2.1")
    parser.add_argument(
        "--file",
        type=Path,
        help="time only this model file, loaded as `impsy run` loads it; print one JSON line",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="with --file: time COUNT predictions after WARMUP per line of stdin, until EOF",
    )
    parser.add_argument(
        "--build", nargs=3, metavar=("UNITS", "LAYERS", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.build:
        build_tflite(int(args.build[0]), int(args.build[1]), Path(args.build[2]))
        return
    if args.file and args.serve:
        serve_file(args.file)
        return
    if args.file:
        print(json.dumps(time_file(args.file, args.count, args.warmup)))
        return

    sys.path.insert(0, str(ROOT))
    from impsy.model import load_model
    from impsy.model.mdrnn import MDRNN
    from impsy.model.numpy_engine import NumpyEngine

    events = np.random.default_rng(0).random((args.count + args.warmup, DIMENSION))
    python = None if args.no_impsy else (args.impsy_python or default_impsy_python())
    rows = []  # (model label, engine, median, p99, note, IMPSY median on the same model)

    def add(label: str, engine: str, model, note: str = "", impsy=None) -> None:
        median, p99 = summary(time_predictions(model.predict, events, args.warmup))
        rows.append((label, engine, median, p99, note, impsy))
        print(
            f"  {label:<22} {engine:<7} median {median:8.1f} us  p99 {p99:8.1f} us", file=sys.stderr
        )

    def impsy_on(path: Path | None):
        """IMPSY 1.2.1's (median, p99) on the same .tflite, or None when it cannot run."""
        if python is None or path is None:
            return None
        return time_impsy(python, path, args.count, args.warmup)

    for size in args.sizes.split(","):
        units, layers = SIZES[size]
        label = f"{size} ({units}x{layers})"
        path = None if args.no_litert and args.no_impsy else cached_tflite(size)
        impsy = impsy_on(path)
        engine = NumpyEngine(random_weights(units, layers), "sigmoid")
        add(label, "numpy", MDRNN(engine, Path(f"random-{size}"), seed=0), impsy=impsy)
        if path is not None and not args.no_litert:
            add(label, "litert", load_model(path, seed=0), impsy=impsy)
        if impsy is not None:
            rows.append((label, "IMPSY 1.2.1", *impsy, "TfliteMDRNN.generate", None))
    shared_tflite = Path(f"{SHARED}.tflite")
    impsy = impsy_on(shared_tflite)
    for suffix in (".h5", ".keras", ".tflite"):
        model = load_model(Path(f"{SHARED}{suffix}"), seed=0)
        add(f"bundled s {suffix}", model.engine, model, f"gate {model.gate}", impsy)
    if impsy is not None:
        rows.append(("bundled s .tflite", "IMPSY 1.2.1", *impsy, "TfliteMDRNN.generate", None))

    header = (
        "model (units x layers)",
        "engine",
        "median µs",
        "p99 µs",
        "speed-up vs IMPSY 1.2.1",
        "note",
    )
    cells = [
        (
            label,
            engine,
            f"{median:.1f}",
            f"{p99:.1f}",
            f"{impsy[0] / median:.1f}x" if impsy else "",
            note,
        )
        for label, engine, median, p99, note, impsy in rows
    ]
    for line in markdown_table(header, cells, align="llrrrl"):
        print(line)
    record_rows(rows)
    import_s, load_s = time_startup()
    print(
        f"\n`import impsy.model`: {import_s * 1e3:.0f} ms; "
        f"`load_model` (bundled .h5): {load_s * 1e3:.0f} ms (best of 3, fresh process)"
    )


if __name__ == "__main__":
    main()
