"""Every benchmark, side by side with IMPSY 1.2.1, in one Markdown table: ``make bench``.

Runs each script in ``benchmarks/`` as its own process (so one crash or hang loses
one script's rows, not the report), with ``IMPSY_BENCH_RESULTS`` naming a file the
scripts append their headline numbers to (``benchmarks/results.py``). Then it writes
``benchmarks/REPORT.md``: the machine, one table (measure | IMPSY 1.2.1 | impsy |
ratio | goal | met?), a note for every missed goal, and each script's own output.

    .venv/bin/python benchmarks/report.py                  # everything but training
    .venv/bin/python benchmarks/report.py --quick          # shorter runs, for a try-out
    .venv/bin/python benchmarks/report.py --only engine,predict
    .venv/bin/python benchmarks/report.py --with-train     # adds time to quality (long)
    .venv/bin/python benchmarks/report.py --update-readme  # also the table in README.md

IMPSY 1.2.1 is looked for in ``.bench-venv`` then /tmp/impsy-ref; ``make
bench-reference`` creates ``.bench-venv``. Without it, impsy is measured alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from processes import spawn
from results import ENV, REFERENCE_HINT, reference_python
from tables import markdown_table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOGS = HERE / ".cache" / "report"
README = ROOT / "README.md"
README_BEGIN = "<!-- make bench: generated table begins -->"
README_END = "<!-- make bench: generated table ends -->"
LOG_LINES_SHOWN = 120


@dataclass(frozen=True)
class Bench:
    """One benchmark script and how the report runs it."""

    name: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    timeout_s: float  # for a full run; a quick run gets a third of it (at least 2 min)

    @property
    def script(self) -> Path:
        return HERE / f"{self.name}.py"


BENCHES = (
    Bench("cli_help", (), (), 300),
    Bench("eventlog", (), ("--rows", "5000"), 120),
    Bench("predict", (), ("--sizes", "s", "--count", "1000", "--warmup", "200"), 1800),
    Bench("engine", (), ("--quick",), 1800),
    Bench("steering", (), ("--count", "1000"), 300),
    Bench("accompany", (), ("--count", "300"), 600),
    Bench("load", (), ("--seconds", "10"), 1200),
    Bench("serial_websocket", (), ("--count", "300"), 900),
    Bench("midi", (), ("--notes", "100"), 600),
    Bench("sequencer", ("--duration", "120"), ("--duration", "15"), 900),
    Bench("link_drift", (), ("--duration", "60"), 1200),
    Bench("timetags", (), ("--duration", "5"), 300),
    Bench("patterns", (), ("--quick",), 600),
    Bench("webui", (), ("--quick",), 900),
    Bench("studio", (), ("--quick",), 1800),
    Bench("train", (), ("--quick",), 4 * 3600),
)
NAMES = tuple(bench.name for bench in BENCHES)

# Why a goal can be missed, for the notes under the table (first matching prefix wins).
WHY = {
    "Link drift": "as the sequencer's drift, against a Link peer's grid in the same run: the "
    "change in the median error from the first tenth of the run to the last, over its length; "
    "on a short or busy run noise in those medians reads as drift (the script also prints the "
    "least-squares slope of every error)",
    "Link note-on": "the goal is the larger of 1 ms and 1.2× the host's floor (a bare loop on "
    "the same 16ths half a 16th later, into the same receiver); the error also holds the "
    "delivery to the peer's receiver, which the floor's datagrams travel too",
    "sequencer drift": "drift is the change in the median error between the first and the "
    "last tenth of the run, over its length: on a short or busy run, noise in those medians "
    "reads as drift; a scheduler that chained its sleeps would drift by tens of ms a minute",
    "playback drift": "the least-squares slope of each event's error against its index; "
    "a stall on a busy machine that is not followed by a resync tilts it",
    "OSC round trip, median": "the raw round trip also holds the wait the model itself asks "
    "for (dt × 0.001) and the Python client's own floor (the echo row); the row *beyond the "
    "model's wait* is impsy's delay",
    "OSC round trip, accompany": "the answer leaves at the gesture's instant (one steered "
    "draw, tens of µs); the rest is the wire and two wake-ups, as in polyphony's round trip, "
    "so it follows the machine's wake-up latency",
    "steering": "a steered draw is Python arithmetic on a few dozen parameters; a busy machine "
    "slows it and the plain draw it is compared with alike",
    "OSC round trip beyond": "two wake-ups of the server and one of the client per gesture; "
    "its tail follows the machine's wake-up latency and whatever else wants the cores",
    "playback lateness": "the goal is the larger of 1 ms and 1.2× the host's floor: a bare "
    "impsy event loop firing the same deadlines in a process of its own, alternating with "
    "impsy every few seconds; what is left above it is impsy's own work on the loop when a "
    "deadline falls due (a frame for a web UI client, a model step started too close to it) "
    "or the machine taking the core from impsy mid-work; see `benchmarks/ENGINE.md`",
    "sequencer": "the goal is the larger of 1 ms and 1.2× the host's floor (a bare loop on the "
    "same ticks beside the sequencer, half a tick later); p99 of ~1,000 sixteenths is their "
    "ten latest, so a few wake-ups delayed by other processes decide it",
    "inference in the running server": "in-server inference is timed around each step on the "
    "loop; the first step after the loop slept runs on a cold core (~10× a warm step), so "
    "the player predicts ahead in runs; against a tight loop in a process of its own (the "
    "floor), alternating with the server 24 times, both pinned to the same CPU",
    "prediction": "per-call overhead dominates small models and arithmetic large ones; a busy "
    "machine slows both systems unevenly",
    "start-up": "a cold page cache or a busy machine; `import impsy.model` and loading the model "
    "are most of it",
    "lossless input rate": "impsy handles ~30k gestures/s on one free core; under contention "
    "the kernel's receive buffer fills first",
    "idle CPU": "something woke the idle loop; see the engine script's output",
    "training": "see `benchmarks/TRAIN.md`",
    "OSC time tags": "a tag is the grid instant itself (loop clock to wall clock, read to "
    "~0.1 µs); a note is heard late only when the network held it longer than the look-ahead, "
    "or when impsy itself sent it later than that (a stalled machine)",
}


# ------------------------------------------------------------------ the machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _os_name() -> str:
    name = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return f"{name}, kernel {platform.release()}"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def git_commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return commit


def reference_version(python: Path) -> str | None:
    """The impsy version installed for ``python`` (isolated, so this checkout can't shadow it)."""
    code = "import importlib.metadata as m; print(m.version('impsy'))"
    try:
        done = subprocess.run(
            [str(python), "-I", "-c", code],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ running
@dataclass
class Outcome:
    bench: Bench
    seconds: float
    status: str  # "ok", "failed (exit 1)", "timed out after ...", "skipped: ..."
    log: Path | None


def bench_args(bench: Bench, quick: bool, ref: Path | None, extra: dict[str, list[str]]) -> list:
    """The command line for one script, with the reference interpreter where it takes one."""
    args = list(bench.quick if quick else bench.full)
    if bench.name == "cli_help" and ref is not None:
        args += ["--reference", str(ref)]
    elif bench.name == "predict":
        args += ["--impsy-python", str(ref)] if ref is not None else ["--no-impsy"]
    elif bench.name == "engine":
        args += ["--ref-python", str(ref)] if ref is not None else ["--skip-ref"]
        args += ["--output", str(LOGS / "results-engine.md")]
    elif bench.name == "train":
        args += ["--impsy", str(ref.parent / "impsy"), "--json", str(LOGS / "train.json")]
    return args + extra.get(bench.name, [])


def stop(proc: subprocess.Popen, grace_s: float = 30.0) -> None:
    """SIGINT to the script's process group, so its own clean-up stops the servers it
    started (they run in sessions of their own); SIGKILL if it has not gone after a while."""
    for sig in (signal.SIGINT, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace_s)
            return
        except subprocess.TimeoutExpired:
            continue


def run_bench(bench: Bench, args: list[str], results: Path, quick: bool) -> Outcome:
    """Run one script, echoing and logging its output; kill its process group on timeout."""
    log = LOGS / f"{bench.name}.log"
    timeout = max(120.0, bench.timeout_s / 3) if quick else bench.timeout_s
    command = [sys.executable, str(bench.script), *args]
    print(f"\n=== {bench.name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    with open(log, "w", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command)}\n")
        proc = spawn(command, ROOT, env={ENV: str(results)}, own_session=True)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            stop(proc)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(f"  {line}")
                out.write(line)
            code = proc.wait()
        except BaseException:  # Ctrl-C here: the script is in its own session, stop it too
            stop(proc)
            raise
        finally:
            timer.cancel()
    seconds = time.perf_counter() - started
    if expired.is_set():
        status = f"timed out after {timeout:.0f} s"
    elif code != 0:
        status = f"failed (exit {code})"
    else:
        status = "ok"
    print(f"=== {bench.name}: {status}, {seconds:.0f} s", flush=True)
    return Outcome(bench, seconds, status, log)


def train_rows(path: Path) -> list[dict]:
    """The time-to-quality rows, from ``train.py --json`` (when the script records nothing).

    One row per impsy recipe; ``impsy`` is either one run or a dict of runs by recipe.
    """
    try:
        data = json.loads(path.read_text())
        reference = data["impsy_1_2_1"]
        runs = data["impsy"]
        runs = {"": runs} if "reached" in runs else dict(runs)
        target, wall = float(reference["test_nll"]), float(reference["wall_seconds"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    rows = []
    for recipe, run in runs.items():
        reached = run.get("reached") if isinstance(run, dict) else None
        note = f"to IMPSY's test NLL {target:.3f}"
        if data.get("quick"):
            note += "; IMPSY trained 2 epochs (--quick)"
        if not reached:
            note += "; impsy did not reach it in its time limit"
        rows.append(
            {
                "measure": "training: time to IMPSY 1.2.1's test NLL"
                + (f", recipe `{recipe}`" if recipe else ""),
                "impsy": reached.get("seconds") if reached else None,
                "reference": wall,
                "unit": "s",
                "goal": "ratio >= 2",
                "better": "lower",
                "note": note,
                "script": "train",
                "missed": not reached,  # no time to show, but the goal is missed
            }
        )
    return rows


def read_records(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # a script killed mid-write: keep the rest
    return rows


# ------------------------------------------------------------------ the table
def fmt(value: float | None, unit: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "—"
    size = abs(value)
    if size >= 100 or value == int(value) and size >= 10:
        text = f"{value:,.0f}"
    elif size >= 10:
        text = f"{value:.1f}"
    elif size >= 1:
        text = f"{value:.2f}"
    elif size == 0:
        text = "0"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".rstrip()


def ratio(row: dict) -> float | None:
    """How many times better impsy is than IMPSY 1.2.1 (> 1: impsy is better)."""
    mine, theirs = row.get("impsy"), row.get("reference")
    if mine is None or theirs is None:
        return None
    mine, theirs = abs(mine), abs(theirs)
    if row.get("better") == "higher":
        return mine / theirs if theirs > 0 else None
    return theirs / mine if mine > 0 else None


GOAL = re.compile(r"^\s*(ratio|\|x\|)?\s*(<=|>=)\s*(-?[0-9.]+)\s*$")
FLOOR_GOAL = re.compile(r"^\s*<=\s*(?:(-?[0-9.]+)\s+or\s+)?([0-9.]+)\s*x\s+floor\s*$")


def parse_goal(goal: str) -> tuple[str, str, float] | None:
    """``(what, op, bound)``: what is "value", "abs" or "ratio"; None for no or odd goals.

    A goal against the floor (``parse_floor_goal``) is ``("floor", "<=", multiple)``.
    """
    floor_goal = parse_floor_goal(goal)
    if floor_goal is not None:
        return "floor", "<=", floor_goal[1]
    match = GOAL.match(goal or "")
    if not match:
        return None
    what = {"ratio": "ratio", "|x|": "abs", None: "value"}[match.group(1)]
    return what, match.group(2), float(match.group(3))


def parse_floor_goal(goal: str) -> tuple[float | None, float] | None:
    """``"<= 1 or 1.2x floor"`` -> ``(1.0, 1.2)``; ``"<= 1.5x floor"`` -> ``(None, 1.5)``."""
    match = FLOOR_GOAL.match(goal or "")
    if not match:
        return None
    absolute = float(match.group(1)) if match.group(1) is not None else None
    return absolute, float(match.group(2))


def over_floor(row: dict) -> float | None:
    """impsy's value over the host's floor measured in the same run (> 1: above the floor)."""
    mine, floor = row.get("impsy"), row.get("floor")
    if mine is None or floor is None or floor <= 0:
        return None
    return mine / floor


def goal_text(row: dict) -> str:
    parsed = parse_goal(row.get("goal", ""))
    if parsed is None:
        return row.get("goal") or ""
    what, op, bound = parsed
    sign = "≤" if op == "<=" else "≥"
    unit = row.get("unit", "")
    if what == "floor":
        absolute, times = parse_floor_goal(row["goal"])
        floor = f"{times:,g}× floor"
        if absolute is None:
            return f"{sign} {floor}"
        return f"{sign} {absolute:,g} {unit} or {floor}"
    if what == "ratio":
        timed = unit in ("µs", "ms", "s")
        return f"{sign} {bound:,g}× {'faster' if timed else 'better'}"
    if what == "abs":
        return f"\\|x\\| {sign} {bound:,g} {unit}"
    return f"{sign} {bound:,g} {unit}".rstrip()


def verdict(row: dict) -> tuple[str, float | None, float | None]:
    """("yes"/"no"/"—"/"not measured", the compared value, the bound)."""
    parsed = parse_goal(row.get("goal", ""))
    if parsed is None:
        return "—", None, None
    what, op, bound = parsed
    if row.get("missed"):
        return "**no**", None, bound
    if what == "floor":
        absolute, times = parse_floor_goal(row["goal"])
        value, floor = row.get("impsy"), row.get("floor")
        if value is None or (floor is None and absolute is None):
            return "not measured", None, None
        # Without a floor, the absolute bound alone (the larger of the two is the goal).
        bounds = (absolute, None if floor is None else times * floor)
        bound = max(b for b in bounds if b is not None)
        return ("yes" if value <= bound else "**no**"), value, bound
    if what == "ratio":
        value = ratio(row)
        if value is None:
            return ("no IMPSY" if row.get("reference") is None else "not measured"), None, bound
    else:
        value = row.get("impsy")
        if value is None:
            return "not measured", None, bound
        if what == "abs":
            value = abs(value)
    met = value <= bound if op == "<=" else value >= bound
    return ("yes" if met else "**no**"), value, bound


def table(rows: list[dict]) -> list[str]:
    cells = []
    for row in rows:
        unit = row.get("unit", "")
        measure = row["measure"] + (f" ({row['note']})" if row.get("note") else "")
        times = ratio(row)
        shown = "—" if times is None else ("> 1,000×" if times >= 1000 else f"{fmt(times)}×")
        reference, impsy = fmt(row.get("reference"), unit), fmt(row.get("impsy"), unit)
        above = over_floor(row)
        floor = fmt(row.get("floor"), unit)
        over = "—" if above is None else f"{fmt(above)}×"
        cells.append(
            (measure, reference, impsy, shown, floor, over, goal_text(row), verdict(row)[0])
        )
    header = ("measure", "IMPSY 1.2.1", "impsy", "ratio", "host floor", "impsy ÷ floor")
    return markdown_table((*header, "goal", "met?"), cells, align="lrrrrr")


def missed_notes(rows: list[dict]) -> list[str]:
    notes = []
    for row in rows:
        met, value, bound = verdict(row)
        if met == "**no**" and value is None:
            notes.append(f"- **{row['measure']}**: missed, {row.get('note', '')}.")
            continue
        if met != "**no**" or value is None or bound is None:
            continue
        what = parse_goal(row["goal"])[0]
        unit = "×" if what == "ratio" else f" {row.get('unit', '')}"
        by = abs(value - bound)
        relative = f" ({by / abs(bound) * 100:.0f} %)" if bound else ""
        if what == "floor":
            floor = fmt(row.get("floor"))
            relative += f"; the bound is {fmt(bound)}{unit}, the floor {floor}{unit}"
        why = next(
            (text for prefix, text in WHY.items() if row["measure"].startswith(prefix)),
            "no explanation on record; see the script's output below",
        )
        notes.append(
            f"- **{row['measure']}**: {fmt(value)}{unit} against {goal_text(row)}, "
            f"missed by {fmt(by)}{unit}{relative}. Why: {why}."
        )
    return notes


def fenced(log: Path) -> list[str]:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    shown = lines[-LOG_LINES_SHOWN:]
    head = [] if len(shown) == len(lines) else [f"… ({len(lines) - len(shown)} lines above)"]
    return ["```text", *head, *(line.replace("```", "'''") for line in shown), "```"]


def render(
    rows: list[dict],
    outcomes: list[Outcome],
    machine: list[str],
    command: str,
    quick: bool,
) -> str:
    failed = [o for o in outcomes if o.status != "ok"]
    text = [
        "# impsy benchmark report",
        "",
        f"Generated by `{command}`; every number below comes from this one run.",
        "",
        "## Machine",
        "",
        *machine,
        "",
        "## Results",
        "",
        "Ratio: how many times better impsy is than IMPSY 1.2.1 (IMPSY's value over impsy's "
        "where lower is better, impsy's over IMPSY's where higher is better). "
        "— : not measured, or no IMPSY counterpart. Host floor: the same measurement with "
        "impsy taken out, on this machine in this run (a bare impsy event loop firing the same "
        "timers in a process of its own, a bare UDP echo, the model timed in a tight loop); "
        "impsy ÷ floor is how far above it impsy is. A timing goal of the form "
        "“≤ 1 ms or 1.2× floor” is the larger of the two.",
        "",
        *table(rows),
        "",
    ]
    if quick:
        text += [
            "*--quick*: short runs with fewer samples; tails and the input rate are less "
            "strict than a full run's.",
            "",
        ]
    notes = missed_notes(rows)
    for outcome in failed:
        name = f"`benchmarks/{outcome.bench.name}.py`"
        if outcome.status.startswith("skipped"):
            notes.append(f"- {name} {outcome.status}.")
        else:
            notes.append(
                f"- {name} {outcome.status}: its rows are missing or partial (its output is below)."
            )
    text += ["## Missed goals and failures", "", *(notes or ["None."]), ""]
    scripts = [(f"`{o.bench.name}.py`", f"{o.seconds:.0f} s", o.status) for o in outcomes]
    text += ["## Scripts", "", *markdown_table(("script", "time", "result"), scripts, "lr")]
    text += ["", "## Each script's output", ""]
    for outcome in outcomes:
        if outcome.log is None or not outcome.log.exists():
            continue
        text += [
            f"<details><summary><code>{outcome.bench.name}.py</code> ({outcome.status})</summary>",
            "",
            *fenced(outcome.log),
            "",
            "</details>",
            "",
        ]
    return "\n".join(text)


def update_readme(rows: list[dict], summary: str) -> bool:
    """Replace the table between the README's markers; False when the markers are missing."""
    text = README.read_text(encoding="utf-8")
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        return False
    body = "\n".join(["", summary, "", *table(rows), ""])
    README.write_text(text[: start + len(README_BEGIN)] + "\n" + body + "\n" + text[end:])
    return True


# ------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a try-out)")
    parser.add_argument(
        "--only", help=f"comma-separated scripts to run, of: {', '.join(NAMES)}", default=""
    )
    parser.add_argument("--with-train", action="store_true", help="add training time to quality")
    parser.add_argument(
        "--engine-args", default="", help="extra arguments for engine.py, e.g. '--wait-quiet 30'"
    )
    parser.add_argument("--output", type=Path, default=HERE / "REPORT.md")
    parser.add_argument(
        "--update-readme", action="store_true", help="also put the table in README.md"
    )
    args = parser.parse_args(argv)
    # A shell's background job (``make bench &``, nohup) starts with SIGINT ignored, and
    # every child would inherit that: IMPSY 1.2.1, which engine.py stops with SIGINT, would
    # then run on until killed and lose its probe's events. A handler resets it on exec.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(NAMES)
    if unknown:
        parser.error(f"unknown script(s): {', '.join(sorted(unknown))}; known: {', '.join(NAMES)}")

    LOGS.mkdir(parents=True, exist_ok=True)
    ignore = HERE / ".cache" / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    command = " ".join(["benchmarks/report.py", *(sys.argv[1:] if argv is None else argv)]).strip()
    began = time.perf_counter()
    started = dt.datetime.now(dt.UTC)
    load_start = load_average()
    ref = reference_python()
    version = reference_version(ref) if ref is not None else None
    if ref is None:
        ref_line = f"IMPSY 1.2.1: **{REFERENCE_HINT}** (impsy measured alone)"
    elif version != "1.2.1":
        ref_line = f"IMPSY 1.2.1: `{ref}` has impsy {version or 'unknown'}, **not 1.2.1**"
    else:
        ref_line = f"IMPSY 1.2.1: `{ref.parent.parent}` (impsy {version}, its own venv)"
    print(ref_line)
    extra = {"engine": args.engine_args.split()} if args.engine_args else {}

    outcomes: list[Outcome] = []
    rows: list[dict] = []
    for bench in BENCHES:
        if wanted and bench.name not in wanted:
            continue
        if bench.name == "train" and not (args.with_train or "train" in wanted):
            continue
        if not bench.script.exists():
            outcomes.append(Outcome(bench, 0.0, "skipped: script not found", None))
            continue
        if bench.name == "train" and ref is None:
            outcomes.append(Outcome(bench, 0.0, f"skipped: {REFERENCE_HINT}", None))
            continue
        with tempfile.TemporaryDirectory(prefix="impsy-bench-") as tmp:
            results = Path(tmp) / "results.jsonl"
            if bench.name == "train":
                (LOGS / "train.json").unlink(missing_ok=True)
            outcome = run_bench(
                bench, bench_args(bench, args.quick, ref, extra), results, args.quick
            )
            found = read_records(results)
        if bench.name == "train" and not found:
            found = train_rows(LOGS / "train.json")
        rows += found
        outcomes.append(outcome)

    elapsed = time.perf_counter() - began
    machine = [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable)",
        f"- memory: {_memory_gb()}",
        f"- OS: {_os_name()}",
        f"- Python {platform.python_version()} (impsy's `.venv`)",
        f"- {ref_line}",
        f"- load average (1 / 5 / 15 min) at the start: {load_start}; at the end: {load_average()}",
        f"- niceness of this run: {os.nice(0)}"
        + (" (other processes came first: timing tails are pessimistic)" if os.nice(0) else ""),
        f"- date: {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes in all",
        f"- git commit: {git_commit()}",
    ]
    text = render(rows, outcomes, machine, command, args.quick)
    with open(LOGS / "results.jsonl", "w", encoding="utf-8") as out:  # every row, for tools
        out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"\n{text}")
    print(f"\n(written to {args.output}; {elapsed / 60:.1f} minutes)")
    if args.update_readme:
        summary = (
            f"`make bench`, {started:%Y-%m-%d}, {_cpu_model()} × {os.cpu_count()}, "
            f"{_os_name()}, Python {platform.python_version()}; load average {load_start} at "
            f"the start, {load_average()} at the end; commit {git_commit()}."
        )
        if args.quick:
            summary += " Short (`--quick`) runs."
        if os.nice(0):
            summary += f" Run at nice {os.nice(0)}: timing tails are pessimistic."
        if not update_readme(rows, summary):
            print(f"README.md has no {README_BEGIN!r} marker: not updated", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
