"""Training a pattern model from the web page while the sequencer plays: the new model comes
in at a bar line, and not one step is skipped, judged by what the sequencer played.

A real ``impsy run`` plays a bank at 240 BPM (a bar a second) over OSC, every
step of its first pattern a note of its own (track ``t``, step ``s``: note
36 + 16t + s), so each note heard says which step played it. A UDP socket of
this test is the run's OSC client and hears every ``/impsy/seq/play``. An old
pattern model (it knows only kicks and snares: tracks 1 and 2) writes its bar
into the pattern; then headless Chromium presses **Train on this bank**, whose
other patterns are hats and claps only (tracks 3 and 4). A real training
process runs beside the music; its model must bring its own bar in place of
the old one at the first bar line after it is ready: every bar heard is
wholly the old bar or wholly the new, the old up to that line and the new
from it, with every step of each that should play heard once.
"""

from __future__ import annotations

import socket
import threading
import time
import tomllib
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from pythonosc.osc_packet import OscPacket

from impsy.sequencer.files.storage import save_bank
from impsy.sequencer.learn.live import MODEL_NAME
from impsy.sequencer.learn.vae import PatternVAE
from impsy.sequencer.pattern import Bank, Pattern, Track
from tests.sequencer.test_pattern_vae import corpus
from tests.system import test_webui_browser as webui
from tests.system.test_webui_browser import Run, start_run, until

browser = webui.browser  # the browser tests' fixtures: one headless Chromium, pages at 1280x800
open_page = webui.open_page

TEMPO = 240.0
BAR_S = 4 * 60.0 / TEMPO
STEP_S = BAR_S / 16
LOW_NOTE = 36
HATS = ("1010101010101010", "0000100000001000")  # what the bank's other patterns play, tracks 3-4


def note_of(track: int, step: int) -> int:
    return LOW_NOTE + 16 * track + step


def bank() -> Bank:
    """Pattern 1: four OSC tracks, every step off, each step its own note; then 20 patterns
    of hats and claps (tracks 3 and 4) to learn from."""
    first = [Track.empty(f"t{t}", 16) for t in range(4)]
    for t, track in enumerate(first):
        for s, step in enumerate(track.steps):
            step.notes = (note_of(t, s),)
    patterns = [Pattern("played", first)]
    for i in range(20):
        tracks = [Track.empty(f"t{t}", 16) for t in range(4)]
        for row, track in zip(HATS, tracks[2:], strict=True):
            for step, c in zip(track.steps, row, strict=True):
                step.on = c == "1"
        patterns.append(Pattern(f"hats {i}", tracks))
    return Bank(patterns)


@pytest.fixture(scope="module")
def training_run(tmp_path_factory) -> Iterator[Run]:
    cwd = tmp_path_factory.mktemp("webui-patterns-training")
    folder = cwd / "patterns"
    save_bank(bank(), folder / "bank.json")
    bars, _ = corpus(160, seed=3)
    bars[:, 2:] = 0  # the old model: kicks and snares only
    old = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
    old.fit(bars, epochs=80)
    old.remember(bars)
    old.save(folder / MODEL_NAME)
    extra = f'[sequencer]\ntempo = {TEMPO}\ntracks = 4\npatterns = "patterns/bank.json"\n'
    server = start_run(cwd, extra, "useronly")
    yield server
    server.stop()


class Heard:
    """The run's OSC client: every note-on it plays, with when it came (a thread of its own,
    so the browser and HTTP calls of the test never delay a timestamp)."""

    def __init__(self, port: int) -> None:
        self.notes: list[tuple[float, int, int]] = []  # (monotonic s, track, note)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.running = True
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            now = time.monotonic()
            for timed in OscPacket(data).messages:
                message = timed.message
                if message.address == "/impsy/seq/play" and message.params[2] > 0:
                    self.notes.append((now, int(message.params[0]), int(message.params[1])))

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def on_steps(server: Run) -> frozenset[tuple[int, int]]:
    tracks = server.api("/api/sequencer")["pattern"]["tracks"]
    return frozenset(
        (t, s) for t, track in enumerate(tracks) for s, st in enumerate(track["steps"]) if st["on"]
    )


def bars_heard(
    notes: list[tuple[float, int, int]], until_s: float
) -> tuple[float, list[list[tuple[int, int]]]]:
    """The notes as whole bars: the first bar's start (s), and each bar's (track, step) heard,
    in order, bar after bar (empty where a bar had none); bars that had not ended by
    ``until_s`` are left out. A note's step is its note number; its bar, when it came less
    its step's place in the bar, in bars from the first note's (jitter of up to half a bar
    is harmless)."""
    starts = [
        (when - ((note - LOW_NOTE) % 16) * STEP_S, track, note) for when, track, note in notes
    ]
    first = starts[0][0]
    heard: dict[int, list[tuple[int, int]]] = {}
    for start, track, note in starts:
        heard.setdefault(round((start - first) / BAR_S), []).append((track, (note - LOW_NOTE) % 16))
    whole = int((until_s - first) // BAR_S)  # bars 0..whole-1 ended before until_s
    return first, [sorted(heard.get(i, [])) for i in range(whole)]


@pytest.mark.alone  # not one step skipped at 240 BPM while it trains: on the machine alone
def test_training_from_the_page_swaps_the_model_at_a_bar_line_with_no_skipped_step(
    training_run, open_page
):
    server = training_run
    client = tomllib.loads(server.config.read_text())["osc"]["client_port"]
    heard = Heard(client)
    try:
        page = open_page(server, "sequencer")
        learn = page.locator(".card.learn")
        expect(learn.get_by_label("pattern model")).to_contain_text("4 knobs, 4 tracks")
        server.send(("/impsy/seq/start",), ("/impsy/learn/knob", 0, 0.5))
        until(lambda: on_steps(server), 5, "bar from the old model")
        old = on_steps(server)
        page.get_by_label("Training seconds").fill("5")  # 300 epochs or 5 s: seldom 5 s
        # Whether a skipped step came before the training began (the sequencer's start) or
        # while it trained and swapped: not one may be skipped, and the message says which.
        skipped_before = server.api("/api/sequencer")["skipped"]
        learn.get_by_role("button", name="Train on this bank").click()
        until(lambda: server.api("/api/patterns")["status"]["training"] == 1, 5, "training")
        until(lambda: server.api("/api/patterns")["status"]["training"] == 0, 60, "new model")
        trained_at = time.monotonic()  # within ~20 ms of the model reaching the sequencer
        expect(page.locator(".notice.ok")).to_contain_text("trained")
        until(lambda: on_steps(server) != old, 2 * BAR_S, "bar from the new model")
        new = on_steps(server)
        time.sleep(2.2 * BAR_S)  # two whole bars of the new model
        snapshot = server.api("/api/sequencer")
        listened_until = time.monotonic()
        realtime = server.api("/api/status").get("realtime")
    finally:
        server.send(("/impsy/seq/stop",))
        heard.close()

    assert {t for t, _ in old} <= {0, 1} and {t for t, _ in new} == {2, 3}, "old, then new"
    first, bars = bars_heard(heard.notes, listened_until)
    old_bar, new_bar = sorted(old), sorted(new)
    assert bars[0] == old_bar
    assert all(bar in (old_bar, new_bar) for bar in bars), "a bar wholly one or the other"
    changed = bars.index(new_bar)
    assert bars[changed:] == [new_bar] * (len(bars) - changed) and len(bars) - changed >= 2
    # The first bar line after the model came: not one bar later, not before it was ready.
    starts = first + changed * BAR_S
    assert trained_at - 0.1 < starts <= trained_at + BAR_S + 0.05, (starts - trained_at, bars)
    skipped = snapshot["skipped"]
    assert skipped == 0, (
        f"the sequencer skipped {skipped} steps, {skipped_before} of them before the training "
        f"began; lateness {snapshot['lateness']}; the loop at real-time "
        f"priority: {realtime}"
    )
