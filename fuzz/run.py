"""Run one fuzz target (or all) for a while: ``python -m fuzz.run --target osc --seconds 60``.

With atheris installed (the test extra installs it on Linux), each target
runs under libFuzzer with coverage feedback from impsy's code, in a child
process, seeded with ``tests/fuzz_corpus/NAME`` (and the shipped configs for
``config``) and that target's dictionary in ``fuzz/dicts``; new inputs that
reach new code are kept in ``fuzz/work/NAME``. Without atheris (or with
``--engine random``) a plain mutation fuzzer runs in this process: random
bytes, byte flips, splices of corpus entries and dictionary words.

Either way a crash, a broken invariant, an input slower than ``--timeout``
or (under libFuzzer) more than ``--rss-mb`` of memory stops the run; the
input is saved under ``fuzz/crashes/NAME`` so it can be replayed with
``--replay FILE`` and added to the regression corpus. The run ends with one
line per target: inputs, seconds, inputs/s. Exit status 1 if any failed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import random
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script, fuzz/run.py: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz import TARGETS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "fuzz"
CORPUS = ROOT / "tests" / "fuzz_corpus"
# Longest input per target under libFuzzer: long enough for every limit the parser has
# (4 KiB serial lines, csv's 128 KiB field limit is in the corpus), short enough to stay fast.
MAX_LEN = {
    "osc": 2048,
    "serial_csv": 8192,
    "serial_midi": 1024,
    "midi": 1024,
    "websocket": 1024,
    "model": 512,
    "keras_zip": 4096,  # four-byte operations on a real archive, or a small archive itself
}
EXTRA_SEEDS = {
    "config": (ROOT / "configs", ROOT / "tests" / "data" / "impsy-configs"),
}


def corpus_files(target: str) -> list[Path]:
    """The regression corpus of ``target`` plus its extra seeds, sorted."""
    folders = (CORPUS / target, *EXTRA_SEEDS.get(target, ()))
    files = [p for folder in folders if folder.is_dir() for p in folder.iterdir() if p.is_file()]
    return sorted(p for p in files if p.name not in ("LICENSE.md", "README.md"))


def dictionary(target: str) -> list[bytes]:
    """The words in ``fuzz/dicts/TARGET.dict`` (libFuzzer's format), for the random engine."""
    path = HERE / "dicts" / f"{target}.dict"
    if not path.is_file():
        return []
    words = []
    for line in path.read_text().splitlines():
        found = re.fullmatch(r'\s*(?:\w+\s*=\s*)?"(.*)"\s*', line)
        if found:
            words.append(found[1].encode("latin-1").decode("unicode_escape").encode("latin-1"))
    return words


def load(target: str) -> Callable[[bytes], None]:
    return importlib.import_module(f"fuzz.{target}").one_input


class Hang(Exception):
    """An input took longer than the per-input time limit."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang("input took longer than the time limit")


def save_crash(target: str, data: bytes) -> Path:
    folder = HERE / "crashes" / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha1(data).hexdigest()}"
    path.write_bytes(data)
    return path


class Mutator:
    """A small byte-level mutator over a corpus and a dictionary (no coverage feedback)."""

    def __init__(self, seeds: list[bytes], words: list[bytes], rng: random.Random) -> None:
        self.seeds = seeds or [b""]
        self.words = words or [b"\0"]
        self.rng = rng

    def next(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.1:
            return rng.randbytes(rng.randrange(64))
        data = bytearray(rng.choice(self.seeds))
        for _ in range(1 + int(rng.expovariate(0.7))):
            op = rng.randrange(6)
            at = rng.randrange(len(data) + 1)
            if op == 0 and data:  # flip a byte
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif op == 1:  # insert a dictionary word
                data[at:at] = rng.choice(self.words)
            elif op == 2 and data:  # delete a run
                del data[at : at + rng.randrange(1, 16)]
            elif op == 3:  # splice in part of another seed
                other = rng.choice(self.seeds)
                start = rng.randrange(len(other) + 1)
                data[at:at] = other[start : start + rng.randrange(1, 64)]
            elif op == 4 and data:  # repeat a run
                piece = data[at : at + rng.randrange(1, 16)]
                data[at:at] = piece * rng.randrange(1, 8)
            elif op == 5:  # an interesting number
                data[at:at] = rng.choice((b"0", b"-1", b"127", b"128", b"65536", b"\xff", b"\x00"))
        return bytes(data[:65536])


def run_random(target: str, seconds: float | None, inputs: int | None, timeout: float, seed: int):
    """The fallback engine, in this process. Returns (inputs, seconds, failure or None)."""
    one_input = load(target)
    seeds = [p.read_bytes() for p in corpus_files(target)]
    work = HERE / "work" / target
    if work.is_dir():
        seeds += [p.read_bytes() for p in sorted(work.iterdir())[:1000]]
    mutator = Mutator(seeds, dictionary(target), random.Random(seed))
    signal.signal(signal.SIGALRM, _alarm)
    count, start = 0, time.perf_counter()
    queue = list(seeds)  # every seed first, as libFuzzer does
    while True:
        elapsed = time.perf_counter() - start
        if (inputs is not None and count >= inputs) or (seconds is not None and elapsed >= seconds):
            return count, elapsed, None
        data = queue.pop() if queue else mutator.next()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            one_input(data)
        except BaseException as err:  # a crash, an invariant, a hang: all are findings
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(err, KeyboardInterrupt):
                return count, time.perf_counter() - start, None
            path = save_crash(target, data)
            trace = "".join(traceback.format_exception(err)[-6:])
            return count, time.perf_counter() - start, f"{path}\n{trace}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        count += 1


def atheris_worker(target: str, args: list[str]) -> None:
    """Inside the child: instrument impsy, then hand control to libFuzzer (never returns)."""
    import atheris

    with atheris.instrument_imports(include=["impsy", "pythonosc"]):
        one_input = load(target)
    atheris.Setup([sys.argv[0], *args], one_input)
    atheris.Fuzz()


def run_atheris(target: str, seconds: float | None, inputs: int | None, options) -> tuple:  # noqa: ANN001
    """libFuzzer in a child process; returns (inputs, seconds, failure or None)."""
    work = HERE / "work" / target
    work.mkdir(parents=True, exist_ok=True)
    crashes = HERE / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = sorted({str(p.parent) for p in corpus_files(target)})
    flags = [
        str(work),
        *seeds,
        f"-artifact_prefix={crashes}/",
        f"-timeout={max(1, int(options.timeout))}",
        f"-rss_limit_mb={options.rss_mb}",
        f"-malloc_limit_mb={options.rss_mb}",
        f"-seed={options.seed}",
        f"-max_len={options.max_len or MAX_LEN.get(target, 8192)}",
        "-print_final_stats=1",
    ]
    words = HERE / "dicts" / f"{target}.dict"
    if words.is_file():
        flags.append(f"-dict={words}")
    if inputs is not None:
        flags.append(f"-runs={inputs}")
    if seconds is not None:
        flags.append(f"-max_total_time={max(1, int(seconds))}")
    log_path = HERE / "work" / f"{target}.log"
    command = [sys.executable, "-m", "fuzz.run", "--target", target, "--worker", "--", *flags]
    start = time.perf_counter()
    with open(log_path, "w") as log:
        code = subprocess.call(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    text = log_path.read_text(errors="replace")
    runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    done = re.findall(r"Done (\d+) runs in (\d+) second", text)
    count = int(runs[-1]) if runs else int(done[-1][0]) if done else 0
    rates = re.findall(r"stat::average_exec_per_sec:\s*(\d+)", text)
    elapsed = count / int(rates[-1]) if rates and int(rates[-1]) > 0 else wall
    if code != 0:
        tail = "\n".join(text.splitlines()[-25:])
        return count, elapsed, f"libFuzzer exit status {code}; log {log_path}\n{tail}"
    return count, elapsed, None


def replay(target: str, path: Path) -> int:
    one_input = load(target)
    one_input(path.read_bytes())
    print(f"{target}: {path} passes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS, action="append", help="repeatable")
    parser.add_argument("--all", action="store_true", help="every target in turn")
    parser.add_argument("--seconds", type=float, help="run each target this long")
    parser.add_argument("--inputs", type=int, help="run each target for this many inputs")
    parser.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per input")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit (libFuzzer)")
    parser.add_argument("--max-len", type=int, help="longest input (libFuzzer; per target)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--replay", type=Path, help="run one saved input through --target")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    targets = list(TARGETS) if options.all else options.target or []
    if not targets:
        parser.error("give --target NAME or --all")
    if options.worker:
        atheris_worker(targets[0], options.rest)
        return 0
    if options.replay:
        return replay(targets[0], options.replay)
    if options.seconds is None and options.inputs is None:
        options.seconds = 60.0
    engine = options.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "random"
        else:
            engine = "atheris"
    failed = False
    for target in targets:
        if engine == "atheris":
            count, elapsed, failure = run_atheris(target, options.seconds, options.inputs, options)
        else:
            count, elapsed, failure = run_random(
                target, options.seconds, options.inputs, options.timeout, options.seed
            )
        rate = count / elapsed if elapsed > 0 else 0.0
        verdict = "FAILED" if failure else "ok"
        print(
            f"{target:<12} {engine:<8} {count:>10} inputs in {elapsed:8.1f} s "
            f"= {rate:9.0f} inputs/s  {verdict}",
            flush=True,
        )
        if failure:
            failed = True
            print(failure, file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
