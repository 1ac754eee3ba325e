"""Seeing the pattern model in a real browser: the latent map, the step probabilities, a
loop's waveform with its onsets, and a bar proposed as ghost steps.

A real ``impsy run`` (with a sequencer of four tracks) starts with a pattern
model in its patterns folder, trained here on the made-up drum styles of
``tests/sequencer/test_pattern_vae`` (so the number of training bars is
known), and a drum loop synthesised with hits at known times
(``tests/sequencer/test_pattern_audio``). Headless Chromium opens the
Sequencer page, as ``tests/system/test_webui_browser.py`` does; what the page
draws is compared with what the server says over its API and OSC.

``IMPSY_SCREENSHOTS=1`` also saves the card and the loop view to
``docs/screenshots/`` (docs/patterns.md and docs/webui.md show them).
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Locator, Page, expect

from impsy.sequencer.learn.live import MODEL_NAME
from impsy.sequencer.learn.vae import PatternVAE
from tests.sequencer.test_pattern_audio import synth_loop, write_wav
from tests.sequencer.test_pattern_vae import corpus
from tests.system import test_webui_browser as webui
from tests.system.test_webui_browser import SCREENSHOTS, Run, start_run

browser = webui.browser  # the browser tests' fixtures: one headless Chromium, pages at 1280x800
open_page = webui.open_page

BARS = 160
STYLE_FILES = ("four-on-the-floor.mid", "busy-hats.mid", "broken.mid", "sparse.mid")
LOOP_SECONDS = 4.0  # two bars at 120 BPM


@pytest.fixture(scope="module")
def patterns_run(tmp_path_factory) -> Iterator[tuple[Run, dict[str, list[float]]]]:
    cwd = tmp_path_factory.mktemp("webui-patterns")
    folder = cwd / "patterns"
    folder.mkdir()
    bars, styles = corpus(BARS, seed=3)
    order = np.argsort(styles, kind="stable")  # stacked file by file, as a corpus is
    bars, styles = bars[order], styles[order]
    model = PatternVAE(tracks=4, steps=16, latent=4, seed=0)
    model.fit(bars, epochs=80)
    counts = np.bincount(styles, minlength=4).tolist()
    model.remember(bars, list(zip(STYLE_FILES, counts, strict=True)))
    model.save(folder / MODEL_NAME)
    samples, truth = synth_loop(2)
    write_wav(folder / "beat.wav", samples)
    server = start_run(cwd, "[sequencer]\ntempo = 120\ntracks = 4\n", "useronly")
    yield server, truth
    server.stop()


def card(page: Page) -> Locator:
    learn = page.locator(".card.learn")
    expect(learn.get_by_label("pattern model")).to_contain_text("4 knobs, 4 tracks")
    return learn


def floats(locator: Locator, attribute: str) -> np.ndarray:
    return np.array(
        locator.evaluate_all(f"els => els.map(e => Number(e.getAttribute('{attribute}')))")
    )


def current(page: Page) -> tuple[float, float]:
    ring = page.locator(".map-current")
    return float(ring.get_attribute("cx")), float(ring.get_attribute("cy"))


def refused(server: Run, path: str) -> tuple[int, str]:
    """A GET the server refuses: its status and its error."""
    with pytest.raises(urllib.error.HTTPError) as answer:
        server.api(path)
    return answer.value.code, json.load(answer.value)["error"]


def on_steps(snapshot: dict) -> set[tuple[int, int]]:
    tracks = snapshot["pattern"]["tracks"]
    return {
        (t, s) for t, track in enumerate(tracks) for s, st in enumerate(track["steps"]) if st["on"]
    }


def shot(locator: Locator, name: str) -> None:
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_the_map_has_every_training_bar_and_its_point_follows_the_knobs(patterns_run, open_page):
    server, _ = patterns_run
    page = open_page(server, "sequencer")
    card(page)
    dots = page.locator(".map-point")
    expect(dots).to_have_count(BARS)
    # Each dot where the server puts its bar: screen x, y are one straight line of map x, y
    # (y drawn upwards).
    known = server.api("/api/patterns/map")
    x, y = np.array(known["points"]).T
    cx, cy = floats(dots, "cx"), floats(dots, "cy")
    fit_x, fit_y = np.polyfit(x, cx, 1), np.polyfit(y, cy, 1)
    assert fit_x[0] > 0 > fit_y[0]
    assert np.abs(np.polyval(fit_x, x) - cx).max() < 0.1
    assert np.abs(np.polyval(fit_y, y) - cy).max() < 0.1
    # A knob moved over OSC: the point moves to where the server now says it is.
    before = current(page)
    server.send(("/impsy/learn/knob", 2, 2.0))
    page.wait_for_function(
        "([x]) => Number(document.querySelector('.map-current').getAttribute('cx')) !== x",
        arg=[before[0]],
        timeout=5000,
    )
    at = server.api("/api/patterns")["at"]
    assert current(page) == pytest.approx(
        (np.polyval(fit_x, at[0]), np.polyval(fit_y, at[1])), abs=0.1
    )
    # A slider dragged in the page: the point moves at once, along that knob's arrow.
    axes = np.array(known["axes"])
    slider = page.get_by_label("knob 4", exact=True)
    start = current(page)
    slider.fill("1.5")  # from 0
    moved = np.subtract(current(page), start)
    assert moved == pytest.approx(
        (1.5 * fit_x[0] * axes[3, 0], 1.5 * fit_y[0] * axes[3, 1]), abs=0.2
    )
    expect(page.locator(".notice.ok")).to_contain_text("knob 4: 1.5")
    assert server.reply("/impsy/learn/status")["knob3"] == pytest.approx(1.5)
    legend = page.locator(".learn-legend li")
    expect(legend).to_have_text(list(STYLE_FILES))
    page.locator(".card.learn").evaluate("el => el.scrollIntoView()")
    shot(page.locator(".card.learn .learn-views"), "patterns-map")
    server.send(("/impsy/learn/knob", 2, 0.0), ("/impsy/learn/knob", 3, 0.0))


def test_the_grid_shows_the_step_probabilities_and_the_threshold(patterns_run, open_page):
    server, _ = patterns_run
    page = open_page(server, "sequencer")
    card(page)
    server.send(("/impsy/learn/threshold", 0.3))
    marker = page.locator(".learn-grid text").filter(has_text="threshold")
    expect(marker).to_have_text("threshold 0.3")
    view = server.api("/api/patterns")
    probability = np.array(view["probability"])
    cells = page.locator(".prob-cell")
    expect(cells).to_have_count(probability.size)
    tracks = floats(cells, "data-track").astype(int)
    steps = floats(cells, "data-step").astype(int)
    opacity = floats(cells, "fill-opacity")
    np.testing.assert_allclose(opacity, probability[tracks, steps], atol=0.001)
    outlined = np.array(cells.evaluate_all("els => els.map(e => e.classList.contains('on'))"))
    assert (outlined == (probability[tracks, steps] > 0.3)).all()
    assert 0 < outlined.sum() < outlined.size
    server.send(("/impsy/learn/threshold", 0.5))
    expect(marker).to_have_text("threshold 0.5")


def test_the_waveform_shows_the_onsets_of_a_synthesised_loop(patterns_run, open_page):
    server, truth = patterns_run
    page = open_page(server, "sequencer")
    learn = card(page)
    expect(page.locator("#learn-loop option")).to_have_text(["beat.wav"])
    learn.get_by_role("button", name="Show loop").click()
    svg = page.get_by_role("img", name="loop waveform")
    expect(svg).to_be_visible()
    width = float(svg.get_attribute("viewBox").split()[2])
    for band, name in enumerate(("low", "mid", "high")):
        lines = page.locator(f'.learn-loop line.onset[data-band="{band}"]')
        expected = np.array(truth[name])
        expect(lines).to_have_count(len(expected))
        drawn = floats(lines, "x1") / width * LOOP_SECONDS
        assert np.abs(np.sort(drawn) - expected).max() < 0.01, name
        shaded = floats(page.locator(f'.learn-loop .found-step[data-band="{band}"]'), "data-step")
        assert sorted(shaded.astype(int).tolist()) == [round(t / 0.125) for t in expected]
    expect(page.locator(".learn-loop .step-line")).to_have_count(2 * 16 + 1)
    # What is not a loop of the patterns folder is refused, saying why.
    (server.cwd / "patterns" / "junk.wav").write_bytes(b"RIFF....WAVEjunk")
    code, why = refused(server, "/api/patterns/loops/junk.wav")
    assert code == 400 and "junk.wav: not a readable audio file" in why
    assert refused(server, "/api/patterns/loops/none.wav") == (
        404,
        "no loop named none.wav in patterns/",
    )
    assert refused(server, "/api/patterns/loops/..%2Fconfig.toml")[0] in (400, 404)
    code, why = refused(server, "/api/patterns/loops/beat.wav?tempo=9000")
    assert code == 400 and "tempo must be 20-400 BPM" in why
    (server.cwd / "patterns" / "junk.wav").unlink()
    expect(page.locator(".card.learn figure.wide .hint")).to_contain_text(
        "onsets 4 low, 4 mid, 16 high"
    )
    shot(page.locator(".card.learn figure.wide"), "patterns-loop")


def test_a_bar_proposed_as_ghost_steps_is_accepted_from_the_page(patterns_run, open_page):
    server, _ = patterns_run
    page = open_page(server, "sequencer")
    learn = card(page)
    before = on_steps(server.api("/api/sequencer"))
    learn.get_by_label("New bars go").select_option("ghost")
    expect(page.locator(".notice.ok")).to_contain_text("new bars come as ghost steps")
    assert server.reply("/impsy/learn/status")["to"] == "ghost"
    learn.get_by_role("button", name="Generate").click()
    expect(page.locator(".notice.ok")).to_contain_text("a new bar")
    snapshot = server.api("/api/sequencer")
    proposed = {(g["track"], g["step"]) for g in snapshot["ghosts"]}
    assert proposed and on_steps(snapshot) == before, "proposed, not written"
    expect(page.locator(".seq-step.ghost")).to_have_count(len(proposed))
    expect(page.get_by_label("ghost steps")).to_have_text(str(len(proposed)))
    if SCREENSHOTS is not None:  # the page as a person sees it: the grid, the card below
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(SCREENSHOTS / "patterns-ghosts.png"))
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_label("ghost steps")).to_have_text("0")
    assert on_steps(server.api("/api/sequencer")) == before | proposed
    server.send(("/impsy/learn/to", "track"))
