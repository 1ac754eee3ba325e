"""Wall time of ``impsy --help`` and every subcommand's ``--help`` (goal < 0.3 s).

Each is a fresh process, as when a person types it; median of 5 runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from impsy.cli import main as cli


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "impsy", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    commands = [[], *([name] for name in sorted(cli.commands))]
    for command in commands:
        median = statistics.median(timed([*command, "--help"]) for _ in range(5))
        print(f"impsy {' '.join(command + ['--help']):32s} {median * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
