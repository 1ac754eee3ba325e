"""The web UI as a person uses it: a real `impsy run`, real OSC, a real browser.

Debian's chromium (``/usr/bin/chromium``, installed by ``make test``) is
driven headless by Playwright; no browser is ever downloaded. Each test opens
a page of a running ``impsy run`` and checks what a person would see, and
checks the server's side through its own interfaces (OSC ``/impsy/status``,
the files on disk, the HTTP API).

``IMPSY_SCREENSHOTS=1`` also saves each page at 1280x800 to
``docs/screenshots/`` (docs/webui.md shows them).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.osc_client import OscPeer, free_udp_port, osc_bytes
from tests.paths import ROOT

MODEL_H5 = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
MODEL_TFLITE = MODEL_H5.with_suffix(".tflite")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots" if os.environ.get("IMPSY_SCREENSHOTS") == "1" else None
CC_MAPPING = [["control_change", 11, n] for n in range(1, 9)]
INPUT_RGB = (0x1F, 0x6F, 0xEB)  # the Live page's input colour (impsy/web/static/js/pages/live.js)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Run:
    """One `impsy run` process with the web UI, in its own working directory."""

    cwd: Path
    config: Path
    osc_port: int
    url: str
    token: str | None = None
    proc: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    def start(self) -> None:
        """Start `impsy run` on this config and wait until it says it is listening."""
        proc = self.proc = subprocess.Popen(
            [sys.executable, "-m", "impsy", "run", "-c", str(self.config), "-l", "logs"],
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if "listening" in line:
                # Keep reading, or a chatty server would block on a full pipe.
                reader = threading.Thread(target=self.output.extend, args=(proc.stdout,))
                reader.daemon = True
                reader.start()
                return
        proc.kill()
        raise AssertionError("impsy run never said it was listening:\n" + "".join(self.output))

    def osc(self, coro_fn) -> Any:  # noqa: ANN001
        """Run ``coro_fn(peer)`` with a fresh OscPeer, on a loop in another thread.

        Playwright's sync API owns this thread's event loop, so OSC gets its own.
        """

        async def go() -> Any:
            peer = await OscPeer.open(0, self.osc_port)
            try:
                return await coro_fn(peer)
            finally:
                peer.close()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, go()).result(timeout=10)

    def status(self) -> dict[str, Any]:
        """The server's state as `/impsy/status` over OSC reports it."""
        return self.osc(lambda peer: peer.status())

    def reply(self, address: str) -> dict[str, Any]:
        """A query command's reply over OSC (``/impsy/steering``, ``/impsy/learn/status``)."""
        return self.osc(lambda peer: peer.reply(address))

    def send(self, *messages: tuple) -> dict[str, Any]:
        """Send OSC messages, then a status query (answered after they were handled)."""

        async def go(peer: OscPeer) -> dict[str, Any]:
            for address, *args in messages:
                peer.send(address, *args)
            return await peer.status()

        return self.osc(go)

    def request(self, path: str, **options: Any) -> urllib.request.Request:
        """A request to the web UI, with the run's token when it has one."""
        request = urllib.request.Request(self.url + path.lstrip("/"), **options)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        return request

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(self.request(path), timeout=10) as response:
            return json.load(response)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST ``body`` as JSON; the HTTP status and the JSON reply, errors included."""
        request = self.request(
            path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Impsy": "1"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def until(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    """Wait for ``condition()``, polling; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def start_run(
    cwd: Path, extra: str = "", mode: str = "callresponse", token: str | None = None
) -> Run:
    osc_port, web_port = free_udp_port(), free_tcp_port()
    mapping = json.dumps(CC_MAPPING)
    config = cwd / "config.toml"
    config.write_text(
        f"""log_input = true
[interaction]
mode = "{mode}"
threshold = 0.1
[model]
file = "{MODEL_H5}"
[osc]
server_port = {osc_port}
client_port = {free_udp_port()}
[websocket]
server_ip = "127.0.0.1"
server_port = {free_tcp_port()}
input = {mapping}
output = {mapping}
[webui]
port = {web_port}
{f'token = "{token}"' if token else ""}
{extra}"""
    )
    for folder in ("logs", "datasets", "models"):
        (cwd / folder).mkdir(exist_ok=True)
    run = Run(cwd, config, osc_port, f"http://127.0.0.1:{web_port}/", token)
    run.start()
    return run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    server = start_run(tmp_path_factory.mktemp("webui"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"the browser tests need Debian's chromium at {CHROMIUM}: "
            "apt-get install chromium (make test installs it)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator:
    """Opens a page of a run at 1280x800; fails the test on any uncaught script error."""
    contexts, errors = [], []

    def open_(server: Run, route: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        query = f"?token={server.token}" if server.token else ""
        page.goto(f"{server.url}{query}#/{route}")
        expect(page.locator("#connection")).to_have_text("connected")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def play_gestures(server: Run, seconds: float, rate: float = 40.0) -> None:
    """Slow sine waves on every value, paced on absolute deadlines, so the plots move."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        start = time.monotonic()
        for i in range(int(seconds * rate)):
            values = [0.5 + 0.4 * math.sin(i / rate * 1.5 + k * 0.7) for k in range(8)]
            sock.sendto(osc_bytes("/interface", *values), ("127.0.0.1", server.osc_port))
            delay = start + (i + 1) / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def test_live_page_reconnects_when_the_server_restarts(open_page, tmp_path):
    server = start_run(tmp_path, mode="useronly")
    try:
        page = open_page(server, "live")
        server.stop()
        expect(page.locator("#connection")).to_have_text("reconnecting…")
        server.start()  # the same ports, a new process
        expect(page.locator("#connection")).to_have_text("connected", timeout=10_000)
        server.send(("/interface", *([0.625] * 8)))
        expect(page.get_by_label("CC 11:1 last input")).to_have_text("0.625")
    finally:
        server.stop()


def test_dashboard_shows_model_adapters_counters_and_timing(run, open_page):
    status = run.send(*[("/interface", *([0.5] * 8)) for _ in range(5)])
    page = open_page(run, "dashboard")
    expect(page.locator('dd[data-key="file"]')).to_have_text(MODEL_H5.name)
    expect(page.locator('dd[data-key="shape"]')).to_contain_text("dimension 9, 2 × 64 LSTM units")
    expect(page.locator('dd[data-key="mode"]')).to_have_text(status["mode"])
    adapters = page.get_by_role("table").filter(has_text="adapter")
    expect(adapters.get_by_role("row").filter(has_text="osc")).to_contain_text("open")
    expect(adapters.get_by_role("row").filter(has_text="websocket")).to_contain_text("open")
    events = page.locator('dd[data-key="events_in"]')
    page.wait_for_function(
        "([el, n]) => Number(el.textContent) >= n", arg=[events.element_handle(), 5]
    )
    expect(page.locator('dd[data-key="inference_p50_us"]')).to_contain_text("µs")
    # the run's own answer (real-time where this machine permits it: tests/engine/test_priority.py)
    priority = "real-time" if status["realtime"] else "normal (not permitted, or realtime = false)"
    expect(page.locator('dd[data-key="priority"]')).to_have_text(priority)
    if SCREENSHOTS is not None:
        run.send(("/impsy/mode", "polyphony"))
        play_gestures(run, 3.0)
        run.send(("/impsy/mode", status["mode"]))
        screenshot(page, "dashboard")


LANE_SHOWS = """([canvas, rgb, value]) => {
  // True when the newest 2 % of the lane is drawn in the input colour, (almost) all of it
  // at the height of ``value`` (the plot pads 6 % at the top and the bottom).
  const g = canvas.getContext("2d");
  const x0 = Math.floor(canvas.width * 0.98);
  const width = canvas.width - x0;
  const data = g.getImageData(x0, 0, width, canvas.height).data;
  const expectedY = (0.06 + (1 - value) * 0.88) * canvas.height;
  let near = 0;
  let far = 0;
  for (let i = 0; i < data.length; i += 4) {
    const d = Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1])
      + Math.abs(data[i + 2] - rgb[2]);
    if (d > 60 || data[i + 3] < 200) continue;
    const y = Math.floor(i / 4 / width);
    if (Math.abs(y - expectedY) <= 0.04 * canvas.height) near += 1;
    else far += 1;
  }
  return near >= width && far <= near / 10;
}"""


def test_gesture_sent_over_osc_appears_in_the_live_plot(run, open_page):
    run.send(("/impsy/mode", "useronly"))
    page = open_page(run, "live")
    for n in range(1, 9):  # labels come from the config's mapping
        expect(page.locator(".lane-label").nth(n - 1)).to_have_text(f"CC 11:{n}")
    for values in (
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2],
    ):
        run.send(("/interface", *values))
        for index, value in enumerate(values):
            label = f"CC 11:{index + 1}"
            expect(page.get_by_label(f"{label} last input")).to_have_text(f"{value:.3f}")
        canvas = page.get_by_role("img", name="CC 11:3: input")
        value = values[2]
        # The drawing itself: the wait fails the test if the line never settles there.
        lane = canvas.element_handle()
        page.wait_for_function(LANE_SHOWS, arg=[lane, list(INPUT_RGB), value], timeout=5000)
        assert not page.evaluate(LANE_SHOWS, [lane, list(INPUT_RGB), 1 - value])
    if SCREENSHOTS is not None:
        run.send(("/impsy/mode", "callresponse"))
        for _ in range(3):  # play, then leave the model a gap to answer in
            play_gestures(run, 1.5)
            time.sleep(1.5)
        screenshot(page, "live")
    run.send(("/impsy/mode", "callresponse"))


def test_clicking_a_mode_changes_the_servers_mode(run, open_page):
    page = open_page(run, "control")
    for mode in ("battle", "useronly", "polyphony"):
        button = page.get_by_role("button", name=mode, exact=True)
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_label("current mode")).to_have_text(mode)
        assert run.status()["mode"] == mode
    pause = page.get_by_label("Paused")
    pause.click()  # shown checked only once the server says so
    expect(pause).to_be_checked()
    assert run.status()["paused"]
    pause.click()
    expect(pause).not_to_be_checked()
    assert not run.status()["paused"]
    screenshot(page, "control")
    page.get_by_role("button", name="callresponse", exact=True).click()
    expect(page.get_by_label("current mode")).to_have_text("callresponse")


def test_settings_show_the_value_the_server_holds(run, open_page):
    page = open_page(run, "control")
    field_ = page.get_by_role("spinbutton", name="pi temperature")
    field_.fill("2.5")
    field_.press("Enter")
    expect(page.get_by_label("current pitemp")).to_have_text("2.5")
    assert run.status()["pitemp"] == pytest.approx(2.5)
    field_.fill("0")  # refused by the engine: the page says why and keeps the real value
    field_.press("Enter")
    expect(page.locator(".notice.error")).to_contain_text("pitemp must be a positive number")
    expect(page.get_by_label("current pitemp")).to_have_text("2.5")
    # A change from elsewhere (OSC) shows up too: the page follows the server.
    run.send(("/impsy/timescale", 1.5))
    expect(page.get_by_label("current timescale")).to_have_text("1.5")
    run.send(("/impsy/pitemp", 1.0), ("/impsy/timescale", 1.0))
    expect(page.get_by_label("current pitemp")).to_have_text("1")


def test_steering_card_sets_roles_ranges_and_notes_and_follows_osc(run, open_page):
    page = open_page(run, "control")
    role = page.get_by_label("CC 11:2 role")
    role.select_option("human")
    expect(page.get_by_label("CC 11:2 held value")).not_to_have_text("")
    assert run.reply("/impsy/steering")["role2"] == "human"
    low = page.get_by_label("CC 11:3 lowest allowed")
    high = page.get_by_label("CC 11:3 highest allowed")
    low.fill("0.2")
    low.press("Tab")
    high.fill("0.4")
    high.press("Tab")
    expect(page.locator(".notice.ok")).to_contain_text("0.2 to 0.4")
    state = run.reply("/impsy/steering")
    assert state["low3"] == pytest.approx(0.2) and state["high3"] == pytest.approx(0.4)
    notes = page.get_by_label("CC 11:4 allowed notes")
    notes.fill("60 62 64")
    notes.press("Enter")
    expect(page.locator(".notice.ok")).to_contain_text("3 notes")
    assert run.reply("/impsy/steering")["notes4"] == "60 62 64"
    notes.fill("60 200")  # refused by the command table: the page says why, keeps the old set
    notes.press("Enter")
    expect(page.locator(".notice.error")).to_contain_text("must be an integer 0-127")
    expect(notes).to_have_value("60 62 64")
    # A change from elsewhere (OSC) shows up too.
    run.send(("/impsy/role", 5, "model"), ("/impsy/density", 2.5))
    expect(page.get_by_label("CC 11:5 role")).to_have_value("model")
    expect(page.locator("#steer-density")).to_have_value("2.5")
    page.locator("#steering-h").evaluate("el => el.scrollIntoView()")
    screenshot(page, "steering")
    run.send(
        ("/impsy/role", 2, "both"),
        ("/impsy/role", 5, "both"),
        ("/impsy/range", 3),
        ("/impsy/notes", 4),
        ("/impsy/density", 0.0),
    )


def test_surprise_meter_is_drawn_on_the_live_page(run, open_page):
    page = open_page(run, "live")
    expect(page.get_by_label("surprise last value")).to_be_hidden()
    run.send(("/impsy/mode", "useronly"), ("/impsy/surprise", 1))
    play_gestures(run, 0.5)
    last = page.get_by_label("surprise last value")
    expect(last).to_be_visible()
    page.wait_for_function("el => el.textContent !== '–'", arg=last.element_handle())
    status = run.status()
    assert float(last.text_content()) == pytest.approx(status["surprise"], abs=0.006)
    run.send(("/impsy/surprise", 0), ("/impsy/mode", "callresponse"))


def test_config_with_an_error_is_refused_with_the_error_beside_its_line(run, open_page):
    page = open_page(run, "config")
    editor = page.get_by_label("config.toml", exact=True)
    expect(editor).to_have_value(run.config.read_text())
    original = run.config.read_text()
    lines = original.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("threshold"))
    broken = "\n".join(lines[: line - 1] + ['threshold = "soon"'] + lines[line:]) + "\n"
    editor.fill(broken)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.error")).to_contain_text("not saved")
    beside = page.locator(f'.line-notes .note[data-line="{line}"]')
    expect(beside).to_contain_text("threshold")
    expect(page.locator(".gutter .ln.error")).to_have_text(str(line))
    expect(page.locator("#config-problems")).to_contain_text(f"line {line}")
    assert run.config.read_text() == original  # refused: nothing written
    screenshot(page, "config")
    fixed = original.replace("threshold = 0.1", "threshold = 0.2")
    editor.fill(fixed)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice.ok")).to_contain_text("saved")
    assert run.config.read_text() == fixed
    run.config.write_text(original)


def test_config_wizard_writes_a_config_that_loads(run, open_page):
    shutil.copy(MODEL_H5, run.cwd / "models" / MODEL_H5.name)
    page = open_page(run, "config")
    page.get_by_label("Mode", exact=True).select_option("polyphony")
    page.get_by_label("Model", exact=True).select_option(label=MODEL_H5.name)
    page.get_by_label("OSC listen port").fill("7100")
    page.once("dialog", lambda dialog: dialog.accept())
    original = run.config.read_text()
    try:
        page.get_by_role("button", name="Write config").click()
        expect(page.get_by_label("Generated config")).to_contain_text("server_port = 7100")
        expect(page.get_by_label("config.toml", exact=True)).to_have_value(run.config.read_text())
        written = run.config.read_text()
        assert 'mode = "polyphony"' in written and MODEL_H5.name in written
        check = subprocess.run(
            [sys.executable, "-m", "impsy", "check-config", str(run.config)],
            cwd=run.cwd,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        run.config.write_text(original)


def test_config_wizard_learns_a_midi_mapping_from_a_jack_controller(jack, open_page, tmp_path):
    """Pick a MIDI input from the list, press Learn, move a real controller's controls."""
    keys = jack.controller("wizard-keys")
    server = start_run(tmp_path, mode="useronly")  # after `jack`: it (and its learn) use that JACK
    try:
        page = open_page(server, "config")
        expect(page.locator("#wiz-ports")).to_contain_text("MIDI (UNIX_JACK): ")
        expect(page.locator('#wiz-midi-in-choices option[value="wizard-keys:out"]')).to_have_count(
            1
        )
        page.get_by_label("Mode", exact=True).select_option("useronly")
        page.get_by_label("MIDI", exact=True).check()
        page.get_by_label("MIDI input port").fill("wizard-keys:out")
        page.get_by_role("button", name="Learn", exact=True).click()
        status = page.locator(".learn .notice")
        expect(status).to_contain_text("listening to wizard-keys:out: move up to 8 control(s)")
        learned = page.get_by_label("Learned controls").get_by_role("listitem")
        for count, message in enumerate(
            (
                mido.Message("control_change", control=20, value=30),
                mido.Message("control_change", control=21, value=30),
                mido.Message("note_on", note=62, velocity=80),
            ),
            start=1,
        ):
            deadline = time.monotonic() + 5
            while learned.count() < count:  # a knob sends values until the page shows it
                assert time.monotonic() < deadline, f"the page never showed {message}"
                keys.send(message)
                page.wait_for_timeout(50)
        expect(learned).to_have_text(["CC 1:20", "CC 1:21", "note 1", "velocity 1"])
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(status).to_contain_text("done: 4 of 8 value(s) learned")
        page.get_by_role("button", name="Use this mapping").click()
        expect(page.locator("#wiz-mapping")).to_contain_text("CC 1:20, CC 1:21, note 1, velocity 1")
        page.get_by_role("button", name="Preview").click()
        learned_list = '[["control_change", 1, 20], ["control_change", 1, 21], ["note_on", 1], '
        expect(page.get_by_label("Generated config")).to_contain_text(
            f'input."wizard-keys:out" = {learned_list}["note_velocity", 1], '
        )
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Write config").click()
        editor = page.get_by_label("config.toml", exact=True)
        expect(editor).to_have_value(re.compile(re.escape(learned_list)))
        assert learned_list in server.config.read_text()
        check = subprocess.run(
            [sys.executable, "-m", "impsy", "check-config", str(server.config)],
            cwd=server.cwd,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        server.stop()


def test_files_lists_uploads_downloads_and_deletes_after_confirmation(run, open_page):
    run.send(("/interface", *([0.25] * 8)))  # the log file is created with its first row
    log_name = Path(run.api("/api/status")["log"]).name
    page = open_page(run, "files")
    logs = page.get_by_role("table", name="Logs")
    expect(logs.get_by_role("row").filter(has_text=log_name)).to_contain_text("9")
    page.get_by_label("Model file").set_input_files(str(MODEL_TFLITE))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".notice.ok")).to_contain_text(f"saved {MODEL_TFLITE.name}")
    models = page.get_by_role("table", name="Models")
    row = models.get_by_role("row").filter(has_text=MODEL_TFLITE.name)
    expect(row.get_by_role("cell").nth(3)).to_have_text("9")
    saved = run.cwd / "models" / MODEL_TFLITE.name
    assert saved.read_bytes() == MODEL_TFLITE.read_bytes()
    with page.expect_download() as download:
        row.get_by_role("link", name=f"download {MODEL_TFLITE.name}").click()
    assert Path(download.value.path()).read_bytes() == MODEL_TFLITE.read_bytes()
    screenshot(page, "files")
    row.get_by_role("button", name=f"delete {MODEL_TFLITE.name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    assert saved.exists()
    row.get_by_role("button", name=f"delete {MODEL_TFLITE.name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(models.get_by_role("row").filter(has_text=MODEL_TFLITE.name)).to_have_count(0)
    assert not saved.exists()


def test_files_refuses_a_model_over_the_upload_limit(run, open_page, tmp_path):
    limit = run.api("/api/files")["upload_limit"]
    huge = tmp_path / "huge-dim9.tflite"
    with huge.open("wb") as file:  # sparse: costs no disk
        file.truncate(limit + 1)
    page = open_page(run, "files")
    expect(page.locator("main")).to_contain_text(f"at most {limit / 2**20:.1f} MB")
    page.get_by_label("Model file").set_input_files(str(huge))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".notice.error")).to_contain_text("the limit is")
    assert not (run.cwd / "models" / huge.name).exists()


@pytest.fixture(scope="module")
def sequencer_run(tmp_path_factory) -> Iterator[Run]:
    extra = "[sequencer]\ntempo = 120\ntracks = 2\nmodel_track = 0\nghosts = 8\n"
    # With a token: the pages must pass on the one they were opened with (?token=).
    server = start_run(tmp_path_factory.mktemp("webui-seq"), extra, "battle", "s3cret-token")
    yield server
    server.stop()


def test_sequencer_page_says_how_to_enable_it_when_the_run_has_none(run, open_page):
    page = open_page(run, "sequencer")
    expect(page.get_by_role("alert")).to_have_text(
        "The sequencer is not enabled in this run's config."
    )
    expect(page.locator("main")).to_contain_text("[sequencer]")


def test_sequencer_grid_edits_plays_and_takes_the_models_ghosts(sequencer_run, open_page):
    with pytest.raises(urllib.error.HTTPError) as refused:  # the token is really required
        urllib.request.urlopen(sequencer_run.url + "api/sequencer", timeout=10)
    assert refused.value.code == 401
    page = open_page(sequencer_run, "sequencer")
    cell = page.get_by_role("gridcell", name="track 2 step 5")
    cell.click()
    expect(cell).to_have_attribute("aria-pressed", "true")
    assert sequencer_run.api("/api/sequencer")["pattern"]["tracks"][1]["steps"][4]["on"] is True
    note = page.get_by_label("Note", exact=True)  # the step editor: the clicked step
    note.fill("64")
    note.press("Enter")
    expect(cell).to_have_text("E4")
    assert sequencer_run.api("/api/sequencer")["pattern"]["tracks"][1]["steps"][4]["notes"] == [64]
    tempo = page.get_by_label("Tempo (BPM)")
    tempo.fill("96")
    tempo.press("Enter")
    expect(page.get_by_label("current tempo")).to_have_text("96.0")
    assert sequencer_run.api("/api/sequencer")["tempo"] == pytest.approx(96)
    page.get_by_role("button", name="Play").click()
    expect(page.get_by_label("transport state")).to_have_text("playing")
    expect(page.locator(".seq-step.playhead").first).to_be_visible()
    # In battle mode the model plays on track 1 as ghost steps, shown until accepted.
    expect(page.locator(".seq-step.ghost").first).to_be_visible(timeout=10_000)
    if SCREENSHOTS is not None:
        page.wait_for_function(
            "() => document.querySelectorAll('.seq-step.ghost').length >= 4", timeout=15_000
        )
        screenshot(page, "sequencer")
    sequencer_run.send(("/impsy/mode", "useronly"))  # the model stops suggesting
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_label("ghost steps")).to_have_text("0")
    accepted = sequencer_run.api("/api/sequencer")["pattern"]["tracks"][0]["steps"]
    assert any(step["on"] for step in accepted)
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_label("transport state")).to_have_text("stopped")
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".notice.ok")).to_contain_text("undo")


def test_your_patterns_trains_on_the_bank_and_plays_the_knobs(sequencer_run, open_page):
    """Train from the browser (a real training process), then the knobs and Generate."""
    page = open_page(sequencer_run, "sequencer")
    for step in (1, 5, 9, 13):
        page.get_by_role("gridcell", name=f"track 1 step {step}", exact=True).click()
    expect(page.get_by_label("pattern model")).to_contain_text("no pattern model yet")
    page.get_by_label("Training seconds").fill("2")
    page.get_by_role("button", name="Train on this bank").click()
    expect(page.locator(".notice.ok")).to_contain_text("trained", timeout=60_000)
    expect(page.get_by_label("pattern model")).to_contain_text("4 knobs, 2 tracks")
    assert (sequencer_run.cwd / "patterns" / "patterns.npz").is_file()
    knob = page.get_by_label("knob 2", exact=True)
    knob.fill("1.5")  # a range input: fill sets its value and fires input
    expect(page.locator(".notice.ok")).to_contain_text("knob 2: 1.5")
    assert sequencer_run.reply("/impsy/learn/status")["knob1"] == pytest.approx(1.5)
    page.get_by_role("button", name="Generate").click()
    expect(page.locator(".notice.ok")).to_contain_text("a new bar")
    status = sequencer_run.reply("/impsy/learn/status")
    assert status["knob1"] != pytest.approx(1.5), "generate moved the knobs"
    expect(page.get_by_label("knob 1 value")).to_have_text(f"{round(status['knob0'], 2):g}")


CHART_PIXELS = """([canvas]) => {
  // How many pixels of the loss chart are drawn in the loss colour (#1f6feb).
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 0x1f) + Math.abs(data[i + 1] - 0x6f) + Math.abs(data[i + 2] - 0xeb) < 60
        && data[i + 3] > 200) count += 1;
  }
  return count;
}"""


def write_tiny_dataset(path: Path) -> None:
    from impsy.dataset.npz import write_dataset

    rng = np.random.default_rng(1)
    perfs = []
    # Long enough that each epoch takes a good part of a second even on a fast machine,
    # so the page (polling every 0.5 s) sees the run between its first and last epoch.
    for length in (1200, 1000, 1400, 800, 1100, 900):
        dt = rng.gamma(2.0, 0.05, (length, 1))
        values = np.clip(0.5 + np.cumsum(rng.normal(0, 0.05, (length, 8)), axis=0), 0, 1)
        perfs.append(np.concatenate([dt, values], axis=1).astype(np.float32))
    write_dataset(path, perfs)


def test_training_shows_progress_and_its_model_is_hot_swapped_in(run, open_page):
    write_tiny_dataset(run.cwd / "datasets" / "tiny-9d.npz")
    run.send(*[("/interface", *([i / 40] * 8)) for i in range(40)])
    page = open_page(run, "training")
    state = page.get_by_label("job state")

    page.get_by_role("button", name="Build dataset").click()
    expect(state).to_have_text("done", timeout=30_000)
    expect(page.get_by_label("job outputs")).to_contain_text("training-dataset-9d.npz")
    assert (run.cwd / "datasets" / "training-dataset-9d.npz").exists()

    page.get_by_label("Dataset", exact=True).select_option("tiny-9d.npz")
    page.get_by_label("Model size").select_option("xxs")
    page.get_by_label("Sequence length").fill("8")
    page.get_by_label("Batch size").fill("16")
    epochs = 8 if SCREENSHOTS is not None else 5
    page.get_by_label("Epochs").fill(str(epochs))
    page.get_by_label("Name", exact=True).fill("browser-model")
    page.get_by_role("button", name="Train").click()
    expect(state).to_have_text("running")
    (job,) = [j for j in run.api("/api/jobs")["jobs"] if j["kind"] == "train"]
    assert job["studio"] == "local" and job["args"][-2:] == ["--studio", "local"]
    # one job at a time: a second request is refused while this one runs
    busy, refused = run.post("/api/jobs/train", {"dataset": "tiny-9d.npz", "name": "other"})
    assert busy == 409 and "still running" in refused["error"], refused
    # the performance goes on meanwhile: a gesture is taken in while the trainer works
    heard = run.status()["events_in"]
    assert run.send(("/interface", *([0.3] * 8)))["events_in"] == heard + 1
    # Progress shows while it runs: an epoch before the last, its losses, the loss plot.
    page.wait_for_function(
        """([n]) => {
          const state = document.querySelector('[aria-label="job state"]').textContent;
          const match = /^(\\d+) \\/ (\\d+)$/.exec(
            document.querySelector('[aria-label="epoch"]').textContent);
          return state === "running" && match && Number(match[1]) < n && Number(match[2]) === n;
        }""",
        arg=[epochs],
        timeout=90_000,
    )
    expect(page.get_by_label("validation loss")).to_have_text(re.compile(r"^-?\d+\.\d{4}$"))
    assert page.evaluate(CHART_PIXELS, [page.get_by_label("loss per epoch").element_handle()])
    expect(state).to_have_text("done", timeout=90_000)
    expect(page.get_by_label("epoch", exact=True)).to_have_text(f"{epochs} / {epochs}")
    expect(page.get_by_label("loss", exact=True)).to_have_text(re.compile(r"^-?\d+\.\d{4}$"))
    expect(page.get_by_label("training progress")).to_have_attribute("value", str(epochs))
    screenshot(page, "training")
    job = run.api(f"/api/jobs/{job['id']}")
    assert job["state"] == "done" and [e["epoch"] for e in job["progress"]] == [
        *range(1, epochs + 1)
    ]
    assert all(e["loss"] is not None and e["seconds"] > 0 for e in job["progress"]), job
    assert sorted(job["outputs"]) == ["models/browser-model.keras", "models/browser-model.tflite"]
    assert job["plot"] == "models/browser-model-loss.png"
    page.get_by_role("button", name="use this model now: models/browser-model.tflite").click()
    expect(page.locator(".notice.ok")).to_contain_text("now playing")
    assert Path(run.status()["model"]).name == "browser-model.tflite"
    assert run.api("/api/status")["model_info"]["units"] == 16  # xxs
    # the new model answers: a gesture, then (after the call-and-response pause) predictions
    predicted = run.send(("/interface", *([0.6] * 8)))["predictions"]
    until(lambda: run.status()["predictions"] > predicted, 5, "answer from the swapped-in model")

    page.get_by_label("Epochs").fill("200")
    page.get_by_label("Name", exact=True).fill("cancelled-model")
    page.get_by_role("button", name="Train").click()
    expect(state).to_have_text("running")
    page.get_by_role("button", name="Cancel").click()
    expect(state).to_have_text("cancelled", timeout=15_000)
    assert not list((run.cwd / "models").glob("cancelled-model*"))
