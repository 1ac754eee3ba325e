"""Every bounded integer of the config, probed at its edges: low - 1, low, high, high + 1.

Rather than a hand-kept list of keys (which would miss the next one added),
the probe loads one config with every section and records each bounded
integer the reader asks for (``Table.integer`` with ``low`` or ``high``),
where it lives in the document and its bounds. Each is then written at its
edges into a copy of that document: the value one past a bound must be
refused with a message naming the key and its range, and the bound itself
must pass the range check (it may still be refused for another reason, such
as note_low above note_high, but not for its range).
"""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from impsy.config import ConfigError
from impsy.config.loader import build_config
from impsy.config.reader import REQUIRED, Table

MAPPING_8 = "[" + ", ".join(f'["control_change", 1, {i}]' for i in range(1, 9)) + "]"
FULL = f"""
log_input = true
[interaction]
mode = "useronly"
[model]
dimension = 9
seed = 3
[midi]
in_device = ["keys"]
out_device = ["synth"]
input."keys" = {MAPPING_8}
output."synth" = {MAPPING_8}
[osc]
server_port = 6000
client_port = 6001
[websocket]
server_port = 5001
input = {MAPPING_8}
output = {MAPPING_8}
[serial]
port = "/dev/ttyUSB0"
[serialmidi]
port = "/dev/ttyAMA0"
input = {MAPPING_8}
output = {MAPPING_8}
[webui]
port = 4000
[sequencer]
steps = 16
note_low = 0
note_high = 127
tracks = [{{ name = "a", channel = 2, steps = 16, steps_per_beat = 4 }}, {{ name = "b" }}]
controllers = [{{ profile = "generic", in_device = "pads" }}]
"""


def _locate(document: Any, target: dict, path: tuple = ()) -> tuple | None:
    """The path (keys and list indexes) of ``target`` inside ``document``, by identity."""
    if document is target:
        return path
    children = document.items() if isinstance(document, dict) else enumerate(document)
    if not isinstance(document, dict | list):
        return None
    for key, child in children:
        if isinstance(child, dict | list):
            found = _locate(child, target, (*path, key))
            if found is not None:
                return found
    return None


def bounded_integers() -> list[tuple[str, tuple, str, int | None, int | None]]:
    """(where, path, key, low, high) of every bounded integer read from FULL."""
    document = tomllib.loads(FULL)
    seen: list[tuple[str, dict, str, int | None, int | None]] = []
    real = Table.integer

    def recording(self: Table, key: str, default: Any = REQUIRED, *, low=None, high=None):  # noqa: ANN001, ANN202
        seen.append((self.where(key), self.data, key, low, high))
        return real(self, key, default, low=low, high=high)

    Table.integer = recording
    try:
        build_config(document, "full.toml")
    finally:
        Table.integer = real
    found = []
    for where, data, key, low, high in seen:
        if low is None and high is None:
            continue
        path = _locate(document, data)
        assert path is not None, f"{where}: its table is not in the document"
        found.append((where, path, key, low, high))
    return found


BOUNDED = bounded_integers()


def probe(path: tuple, key: str, value: int) -> str | None:
    """Load FULL with ``key`` at ``path`` set to ``value``: None, or the error."""
    document = copy.deepcopy(tomllib.loads(FULL))
    table = document
    for step in path:
        table = table[step]
    table[key] = value
    try:
        build_config(document, "probe.toml")
    except ConfigError as err:
        return str(err)
    return None


def test_the_probe_finds_the_bounded_integers():
    keys = {where for where, *_ in BOUNDED}
    assert {
        "[osc] server_port",
        "[webui] port",
        "[sequencer] steps",
        "[sequencer] tracks[0].channel",
        "[sequencer] tracks[0].steps_per_beat",
        "[model] dimension",
    } <= keys


@pytest.mark.parametrize(
    ("where", "path", "key", "low", "high"), BOUNDED, ids=[b[0] for b in BOUNDED]
)
def test_values_past_a_bound_are_refused_and_the_bound_is_not(where, path, key, low, high):
    for bound, past in ((high, +1), (low, -1)):
        if bound is None:
            continue
        error = probe(path, key, bound + past)
        assert error is not None, f"{where} = {bound + past} was accepted"
        assert f"{where}: expected an integer" in error, error
        at_bound = probe(path, key, bound)
        assert at_bound is None or f"{where}: expected an integer" not in at_bound, at_bound
