"""Sustained load: 10,000 OSC gestures a second for 60 s against a real ``impsy run``.

Run from the repository root (on a shared machine, niced)::

    nice -n 19 .venv/bin/python benchmarks/load.py                 # 60 s, polyphony
    .venv/bin/python benchmarks/load.py --seconds 10               # a quick look
    .venv/bin/python benchmarks/load.py --mode battle              # the model plays on its own

Three processes: ``impsy run`` (the bundled dimension-9 model, OSC on
127.0.0.1), a sender process that sends ``--rate`` ``/interface`` messages a
second on absolute 1-ms deadlines (``rate / 1000`` per tick, a late tick
catches up at once) and prints how many it sent, and this monitor, which
once a second reads impsy's VmRSS and CPU time from ``/proc`` and asks
``/impsy/status`` for its counters (events, kernel drops, prediction
lateness). impsy's predictions go to a socket nobody reads (the kernel
discards them once its buffer is full), so no receiver competes for the CPU.

Afterwards impsy is stopped with SIGTERM and its log's ``interface`` rows
are counted: every gesture the kernel delivered must be there, and
``sent - logged`` must equal what the status counted as ``dropped_by_kernel``
(nothing silent). The load average is printed with the numbers: on a shared
machine other people's work moves lateness and drops.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from processes import impsy_run
from results import record
from wire import HOST, STATUS_QUERY, free_udp_port, interface_message, parse_status

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"
TICK_S = 0.001
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------ sender
def run_sender(port: int, rate: float, seconds: float) -> None:
    """The sender process: paced on absolute deadlines; prints ``SENT n`` when done."""
    messages = [
        interface_message([((i * 7 + k * 13) % 101) / 100 for k in range(8)]) for i in range(256)
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    target, sendto = (HOST, port), sock.sendto
    total = int(rate * seconds)
    sent, late_ticks = 0, 0
    start = time.perf_counter() + 0.01
    tick = 0
    while sent < total:
        tick += 1
        due = start + tick * TICK_S
        left = due - time.perf_counter()
        if left > 0:
            time.sleep(left)
        elif left < -TICK_S:
            late_ticks += 1
        goal = min(total, int(tick * TICK_S * rate))  # where the schedule says we should be
        while sent < goal:
            sendto(messages[sent & 255], target)
            sent += 1
    took = time.perf_counter() - start
    print(f"SENT {sent} {took:.3f} {late_ticks}", flush=True)


# ----------------------------------------------------------------------- monitor
def config_text(mode: str, server: int, client: int, timescale: float) -> str:
    return f"""# written by benchmarks/load.py
log_input = true
log_predictions = false
[interaction]
mode = "{mode}"
input_thru = false
[model]
dimension = 9
file = "{MODEL}"
timescale = {timescale!r}
[osc]
server_ip = "{HOST}"
server_port = {server}
client_ip = "{HOST}"
client_port = {client}
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 1e6


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


class StatusProbe:
    """Asks ``/impsy/status`` from its own socket (the reply comes back to it)."""

    def __init__(self, server: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(1.0)
        self.server = (HOST, server)
        self.asked = self.answered = 0  # a query the kernel dropped is in dropped_by_kernel

    def ask(self) -> dict[str, object] | None:
        self.sock.sendto(STATUS_QUERY, self.server)
        self.asked += 1
        try:
            reply = parse_status(self.sock.recv(65536))
        except TimeoutError:
            return None  # dropped by a full buffer, or impsy is busy: try next second
        self.answered += 1
        return reply


def wait_for(proc: subprocess.Popen, text: str, lines: list[str], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(text in line for line in lines):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"impsy did not print {text!r}:\n{''.join(lines)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=10_000, help="gestures per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--mode", default="polyphony", help="polyphony, battle or useronly")
    parser.add_argument("--timescale", type=float, default=0.01)
    parser.add_argument("--role", default="monitor", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "sender":
        run_sender(args.port, args.rate, args.seconds)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="impsy-load-"))
    server, client = free_udp_port(), free_udp_port()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # impsy's client: never read
    sink.bind((HOST, client))
    config = workdir / "config.toml"
    config.write_text(config_text(args.mode, server, client, args.timescale))
    logs = workdir / "logs"
    impsy = impsy_run(config, logs, workdir)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(impsy.stdout), daemon=True).start()
    wait_for(impsy, "listening", lines)
    probe = StatusProbe(server)
    time.sleep(0.5)
    rss_start, cpu_start, load_start = rss_mb(impsy.pid), cpu_seconds(impsy.pid), load_average()
    sender = subprocess.Popen(
        [sys.executable, __file__, "--role", "sender", "--port", str(server)]
        + ["--rate", str(args.rate), "--seconds", str(args.seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    samples: list[tuple[float, float, dict[str, object] | None]] = []
    began = time.monotonic()
    next_sample = began + 1.0
    while sender.poll() is None:
        time.sleep(max(0.0, next_sample - time.monotonic()))
        next_sample += 1.0
        samples.append((time.monotonic() - began, rss_mb(impsy.pid), probe.ask()))
    sent_line = sender.stdout.read().split()
    sent, send_took, late_ticks = int(sent_line[1]), float(sent_line[2]), int(sent_line[3])
    cpu_used = cpu_seconds(impsy.pid) - cpu_start
    time.sleep(1.0)  # impsy reads what is still queued
    final = None
    for _ in range(5):
        final = probe.ask()
        if final is not None:
            break
    load_end = load_average()
    rss_end = rss_mb(impsy.pid)
    impsy.send_signal(signal.SIGTERM)
    impsy.wait(timeout=30)
    time.sleep(0.2)
    (log_file,) = logs.glob("*.log")
    logged = sum(1 for line in log_file.open() if ",interface," in line)

    rss_values = [rss for _, rss, _ in samples]
    late99 = [float(s["lateness_p99_ms"]) for _, _, s in samples if s is not None]
    late99 = [v for v in late99 if v == v]  # no NaN: a second without predictions
    dropped = int(final["dropped_by_kernel"]) if final else -1
    dropped -= probe.asked - probe.answered  # status queries the kernel dropped
    print(f"impsy load: {args.mode}, {args.rate:,.0f} msg/s for {args.seconds:g} s")
    print(f"load average: {load_start} at start, {load_end} at end (2 cores)")
    print(
        f"sent:    {sent:,} in {send_took:.2f} s ({sent / send_took:,.0f}/s, "
        f"{late_ticks} late 1-ms ticks)"
    )
    print(
        f"logged:  {logged:,} interface rows; lost {sent - logged:,}; "
        f"dropped_by_kernel {dropped:,}; unexplained {sent - logged - max(dropped, 0):,}"
    )
    print(
        f"memory:  VmRSS {rss_start:.1f} MB at start, {rss_end:.1f} MB at end, "
        f"max {max(rss_values, default=rss_end):.1f} MB ({len(samples)} samples)"
    )
    print(
        f"cpu:     {cpu_used:.1f} s of CPU in {send_took:.1f} s "
        f"({100 * cpu_used / send_took:.0f} % of one core)"
    )
    if final is not None:
        print(
            f"engine:  events_in {final['events_in']:,}, predictions {final['predictions']:,}, "
            f"outputs {final['outputs']:,}, dropped_predictions "
            f"{final['dropped_predictions']:,}, shed_predictions {final['shed_predictions']:,}, "
            f"resyncs {final['resyncs']}"
        )
        print(
            f"lateness (last 10,000 played): p50 {final['lateness_p50_ms']:.3f} ms, "
            f"p99 {final['lateness_p99_ms']:.3f} ms, max {final['lateness_max_ms']:.3f} ms; "
            f"inference p50 {final['inference_p50_us']:.0f} us, "
            f"p99 {final['inference_p99_us']:.0f} us"
        )
    if late99:
        print(
            f"lateness p99 per second during the run: median {sorted(late99)[len(late99) // 2]:.3f}"
            f" ms, worst {max(late99):.3f} ms ({len(late99)} status replies)"
        )
    print(f"impsy exit status {impsy.returncode}; log {log_file}")
    record(
        f"sustained input: gestures lost at {args.rate:,.0f} msg/s for {args.seconds:g} s",
        sent - logged,
        "gestures",
        goal="<= 0",
        note=f"{sent:,} sent, {args.mode}",
    )
    record(
        "memory under sustained input, peak VmRSS",
        max(rss_values, default=rss_end),
        "MB",
        goal="<= 80",
    )
    if final is not None:
        record(
            "playback lateness p99 under sustained input",
            float(final["lateness_p99_ms"]),
            "ms",
            goal="<= 1",
            note=f"{args.mode}, last 10,000 played",
        )
    return 0 if impsy.returncode == 0 and sent - logged == max(dropped, 0) else 1


if __name__ == "__main__":
    sys.exit(main())
