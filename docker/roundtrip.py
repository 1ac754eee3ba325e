"""The OSC round trip `make docker-test` runs against impsy in its container.

Waits until impsy answers ``/impsy/status`` (printing how long that took since
``--since``), plays three gestures on ``/interface``, waits for the model's
``/impsy`` answer on the listening port, then checks the status counters.
It plays the part of Pd on the host: it listens on all interfaces, because
the container's predictions arrive from the Docker bridge, not from 127.0.0.1.
Exit status 0 only if every step worked.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def osc(address: str, *args: object) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def status(sock: socket.socket, target: tuple[str, int], timeout: float) -> dict | None:
    sock.sendto(osc("/impsy/status"), target)
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            message = OscMessage(sock.recv(65536))
        except (TimeoutError, ConnectionRefusedError):
            return None
        if message.address == "/impsy/status":
            params = list(message.params)
            return dict(zip(params[::2], params[1::2], strict=True))
    return None


def webui(port: int, token: str) -> bool:
    """GET /api/status through the published port: 401 without the token, 200 with it."""
    import json
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{port}/api/status"
    try:
        urllib.request.urlopen(url, timeout=5)
        refused = None
    except urllib.error.HTTPError as err:
        refused = err.code
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.load(response)
        code = response.status
    print(f"roundtrip: web UI {url}: {refused} without the token, {code} with it")
    return refused == 401 and code == 200 and isinstance(body, dict)


def sequencer(commands: socket.socket, target: tuple[str, int], listener: socket.socket) -> bool:
    """Switch on a step, start the sequencer, wait for its /impsy/seq/play note, stop it."""
    for address, args in (
        ("/impsy/seq/tempo", [300.0]),
        ("/impsy/seq/step", [0, 0, 1]),
        ("/impsy/seq/start", []),
    ):
        commands.sendto(osc(address, *args), target)
    started = time.monotonic()
    note = None
    listener.settimeout(0.5)
    while note is None and time.monotonic() - started < 5.0:
        try:
            message = OscMessage(listener.recv(65536))
        except TimeoutError:
            continue
        # the model plays on track 0 too; the step's note is 60 at velocity 100 (defaults)
        if message.address == "/impsy/seq/play" and list(message.params) == [0, 60, 100]:
            note = list(message.params)
    commands.sendto(osc("/impsy/seq/stop"), target)
    if note is None:
        print("roundtrip: no /impsy/seq/play from the sequencer within 5 s")
        return False
    took_ms = (time.monotonic() - started) * 1000
    print(f"roundtrip: sequencer started over OSC, /impsy/seq/play {note} after {took_ms:.0f} ms")
    return True


def pd_round_trip(osc_port: int, listen_port: int, timeout: float = 15.0) -> bool | None:
    """examples/pd/impsy-controller.pd in headless Pd plays the container, as on stage."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    pd = shutil.which("pd")
    if pd is None:
        print("roundtrip: no Pure Data here (apt-get install puredata-core); Pd part skipped")
        return None
    patch = Path(__file__).resolve().parents[1] / "examples" / "pd" / "impsy-controller.pd"
    with tempfile.TemporaryDirectory() as folder:
        driver = Path(folder) / "driver.pd"
        driver.write_text(
            "#N canvas 0 0 400 300 12;\n#X obj 10 10 loadbang;\n"
            f"#X msg 10 40 \\; impsy-ports {osc_port} {listen_port} \\; impsy-x1 0.3"
            " \\; impsy-x2 0.6;\n#X connect 0 0 1 0;\n"
        )
        command = [pd, "-nogui", "-nosound", "-nomidi", "-stderr", "-open", str(patch)]
        proc = subprocess.Popen([*command, "-open", str(driver)], stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        answer = None
        try:
            while time.monotonic() - started < timeout:
                line = proc.stderr.readline()
                if not line:
                    break
                if line.startswith("impsy-prediction:"):
                    answer = line.strip()
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=5)
    if answer is None:
        print("roundtrip: Pd got no prediction from the container")
        return False
    took = time.monotonic() - started
    print(f"roundtrip: Pd on the host heard the container {took:.2f} s after it started: {answer}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osc-port", type=int, required=True, help="impsy's published OSC port")
    parser.add_argument("--listen-port", type=int, required=True, help="where predictions come")
    parser.add_argument("--since", type=float, default=time.time(), help="container start time")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--webui-port", type=int, help="check the web UI here too")
    parser.add_argument("--token", default="", help="the web UI's token")
    args = parser.parse_args()
    target = ("127.0.0.1", args.osc_port)

    commands = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ready = None
    deadline = time.monotonic() + args.ready_timeout
    while ready is None and time.monotonic() < deadline:
        ready = status(commands, target, 0.2)
    if ready is None:
        print(f"roundtrip: impsy never answered /impsy/status on udp://127.0.0.1:{args.osc_port}")
        return 1
    print(f"roundtrip: ready (answered /impsy/status) {time.time() - args.since:.2f} s after start")

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("0.0.0.0", args.listen_port))
    sent_at = time.monotonic()
    for value in (0.2, 0.4, 0.6):
        commands.sendto(osc("/interface", *([value] * 8)), target)
    listener.settimeout(5.0)
    try:
        data, sender = listener.recvfrom(65536)
    except TimeoutError:
        print("roundtrip: no /impsy prediction arrived within 5 s")
        return 1
    prediction = OscMessage(data)
    waited_ms = (time.monotonic() - sent_at) * 1000
    values = ", ".join(f"{v:.3f}" for v in prediction.params)
    print(
        f"roundtrip: {prediction.address} [{values}] from {sender[0]} "
        f"{waited_ms:.0f} ms after the gestures (callresponse waits threshold 0.1 s)"
    )
    after = status(commands, target, 2.0)
    if after is None:
        print("roundtrip: no status after the gestures")
        return 1
    counters = {k: after[k] for k in ("events_in", "predictions", "outputs", "bad_input")}
    print(f"roundtrip: status {counters}")
    ok = (
        prediction.address == "/impsy"
        and len(prediction.params) == 8
        and after["events_in"] == 3
        and after["predictions"] >= 1
        and after["bad_input"] == 0
    )
    listener.close()
    heard = pd_round_trip(args.osc_port, args.listen_port)
    if heard is not None:
        # Pd's two slider moves reached impsy too: 3 + 2 gestures
        after_pd = status(commands, target, 2.0)
        events = after_pd["events_in"] if after_pd else None
        print(f"roundtrip: impsy counted {events} gestures after Pd's two")
        ok = ok and heard and events == 5
    # last: the sequencer's notes are gestures too (logged, counted in events_in)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("0.0.0.0", args.listen_port))
        ok = sequencer(commands, target, listener) and ok
    if args.webui_port:
        ok = webui(args.webui_port, args.token) and ok
    print("roundtrip: ok" if ok else "roundtrip: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
