"""Wall time of ``impsy --help`` and every subcommand's ``--help`` (goal < 0.3 s).

Each is a fresh process, as when a person types it; median of 5 runs.
``--reference PYTHON`` also times IMPSY 1.2.1's ``impsy --help`` (the ``impsy``
command beside that interpreter), median of 3.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results import record

from impsy.cli import main as cli


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "impsy", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def timed_reference(python: Path) -> float:
    """IMPSY 1.2.1's own ``impsy --help``, from a neutral folder so nothing here shadows it."""
    start = time.perf_counter()
    subprocess.run(
        [str(python.parent / "impsy"), "--help"],
        check=True,
        capture_output=True,
        cwd=tempfile.gettempdir(),
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, help="python with IMPSY 1.2.1 installed")
    args = parser.parse_args()
    commands = [[], *([name] for name in sorted(cli.commands))]
    medians = {}
    for command in commands:
        median = statistics.median(timed([*command, "--help"]) for _ in range(5))
        medians[" ".join(command)] = median
        print(f"impsy {' '.join(command + ['--help']):32s} {median * 1000:6.0f} ms")
    reference = None
    if args.reference is not None:
        reference = statistics.median(timed_reference(args.reference) for _ in range(3))
        print(f"IMPSY 1.2.1 impsy --help           {reference * 1000:6.0f} ms")
    record("`impsy --help`", medians[""], "s", reference=reference, goal="<= 0.3")
    slowest = max((name for name in medians if name), key=medians.get)
    record("slowest subcommand `--help`", medians[slowest], "s", goal="<= 0.3", note=f"`{slowest}`")


if __name__ == "__main__":
    main()
