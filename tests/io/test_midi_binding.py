"""Which RtMidi binding impsy uses, and what it says when there is none.

``impsy.io.midi.backend`` picks python-rtmidi where it is installed, else
rtmidi2 (the dependency markers install python-rtmidi up to Python 3.12 and
rtmidi2 from 3.13), or the one ``IMPSY_MIDI_BINDING`` names. A binding is
hidden the way a missing package is missing: ``sys.modules[name] = None`` in
this process, or a package that raises ``ModuleNotFoundError`` first on
PYTHONPATH for a real ``impsy run``. The JACK tests (tests/io/test_midi_jack.py
and the sequencer's) run the binding chosen here end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from impsy.errors import ImpsyError
from impsy.io.midi import backend
from impsy.io.midi.backend import BINDING_ENV, binding
from tests.cli.places import hide_training_packages
from tests.osc_client import free_udp_port

IMPSY = [sys.executable, "-m", "impsy"]


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch) -> Iterator[None]:
    """Each test chooses afresh (the choice is cached per IMPSY_MIDI_BINDING value)."""
    monkeypatch.delenv(BINDING_ENV, raising=False)
    backend._load.cache_clear()
    yield
    backend._load.cache_clear()


def test_python_rtmidi_where_it_is_installed():
    """The dev venv is Python 3.11, where the markers install python-rtmidi."""
    chosen = binding()
    assert chosen.name == "python-rtmidi"
    assert backend.API_UNSPECIFIED == 0 and backend.APIS["UNIX_JACK"] in chosen.compiled_apis()


def test_a_forced_binding_that_is_not_installed_says_what_to_do(monkeypatch):
    """rtmidi2 hidden (the dev venv, on 3.11, has none): asking for it is one line."""
    monkeypatch.setitem(sys.modules, "rtmidi2", None)
    monkeypatch.setenv(BINDING_ENV, "rtmidi2")
    with pytest.raises(ImpsyError) as caught:
        binding()
    assert str(caught.value) == (
        f"{BINDING_ENV}=rtmidi2, but rtmidi2 is not installed: pip install rtmidi2, "
        f"or unset {BINDING_ENV}"
    )


def test_an_unknown_binding_is_one_line_listing_the_choices(monkeypatch):
    monkeypatch.setenv(BINDING_ENV, "mido")
    with pytest.raises(ImpsyError, match=r"IMPSY_MIDI_BINDING='mido' is not a MIDI binding; "):
        binding()
    monkeypatch.setenv(BINDING_ENV, "python-rtmidi")
    assert binding().name == "python-rtmidi"


def test_no_binding_at_all_says_what_to_install(monkeypatch):
    for name in ("rtmidi", "rtmidi2"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImpsyError, match=r"^\[midi\] needs python-rtmidi or rtmidi2, and neither"):
        binding()


def test_impsy_starts_without_a_binding_until_midi_is_used(tmp_path):
    """OSC runs with no binding installed; a [midi] section is then one line, exit 2."""
    hidden = hide_training_packages(tmp_path / "hidden", ("rtmidi", "rtmidi2"))
    path = os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path, "PATH": "/usr/bin:/bin"}
    script = (
        "import sys, impsy.app, impsy.io.midi.adapter, impsy.sequencer.adapter; "
        "print(sorted(m for m in ('rtmidi', 'rtmidi2') if m in sys.modules))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert imported.stdout.strip() == "[]", imported.stdout + imported.stderr
    config = tmp_path / "midi.toml"
    config.write_text(
        '[interaction]\nmode = "useronly"\n'
        f"[osc]\nserver_port = {free_udp_port()}\nclient_port = {free_udp_port()}\n"
        '[midi]\nin_device = ["keys"]\ninput."keys" = '
        + str([["control_change", 1, n] for n in range(1, 9)]).replace("'", '"')
        + "\n"
    )
    result = subprocess.run(
        [*IMPSY, "run", "-c", str(config), "-l", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: [midi] needs python-rtmidi or rtmidi2, and neither is installed: "
        "pip install rtmidi2 (wheels for Python 3.11-3.14 on Linux x86_64, macOS and Windows), "
        "else pip install python-rtmidi (it compiles where it has no wheel: a C++ compiler "
        "and the ALSA headers)"
    ]
