"""A short, repeatable fuzz run of the file parsers: configs, performance logs, model files.

Like ``test_fuzz_adapters.py``: the fuzz targets in ``fuzz/`` check the
invariants (configs fail with one ``ConfigError`` line naming the file, logs
never stop ``impsy dataset``, a model file loads and runs or is refused with
one ``ModelError``); the inputs are the regression corpus plus a few hundred
that Hypothesis builds from each format, with ``derandomize=True``.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz import config, logs, midi_file, model
from fuzz.harness import QuietLogging
from fuzz.run import corpus_files
from tests.fuzzing import repeatable, replay_corpus
from tests.paths import ROOT


@pytest.fixture(autouse=True)
def quiet_impsy_logger() -> Iterator[None]:
    """The targets silence impsy's warnings; other tests' log captures must not notice."""
    with QuietLogging():
        yield


REPEATABLE = repeatable(max_examples=200)
FILES = {"config": config, "logs": logs, "midi_file": midi_file, "model": model}


@pytest.mark.parametrize("target", sorted(FILES))
def test_regression_corpus_passes(target: str) -> None:
    replay_corpus(target, FILES[target].one_input)


# ----------------------------------------------------------------- configs
def toml_value(value: Any) -> str:
    """``value`` written as TOML (tables inline), enough for generated documents."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(document: dict[str, Any]) -> str:
    lines = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in document.items() if not _table(v)]
    for name, table in document.items():
        if _table(table):
            lines.append(f"[{json.dumps(name)}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _table(value: Any) -> bool:
    return isinstance(value, dict)


SHIPPED = [
    tomllib.loads(path.read_text(encoding="utf-8"))
    for folder in (ROOT / "configs", ROOT / "tests" / "data" / "impsy-configs")
    for path in sorted(folder.glob("*.toml"))
]
MAPPING_ENTRY = st.lists(
    st.one_of(
        st.sampled_from(["note_on", "note_velocity", "control_change", "pitch_bend", "cc"]),
        st.integers(-2, 130),
    ),
    max_size=6,
)
SCALAR = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 70000),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["callresponse", "battle", "polyphony", "", "0.0.0.0", "X-TOUCH", "s", "xl"]),
)
VALUE = st.recursive(
    st.one_of(SCALAR, MAPPING_ENTRY),
    lambda inner: st.one_of(
        st.lists(inner, max_size=9), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def damaged_config(draw: st.DrawFn) -> bytes:
    """A shipped config with a few values replaced, removed or added, written back as TOML."""
    document = json.loads(json.dumps(draw(st.sampled_from(SHIPPED)), default=str))
    for _ in range(draw(st.integers(1, 4))):
        table = document
        sections = [k for k, v in document.items() if isinstance(v, dict)]
        if sections and draw(st.booleans()):
            table = document[draw(st.sampled_from(sections))]
        keys = list(table)
        action = draw(st.integers(0, 2))
        if action == 0 and keys:
            table[draw(st.sampled_from(keys))] = draw(VALUE)
        elif action == 1 and keys:
            del table[draw(st.sampled_from(keys))]
        else:
            table[draw(st.text(min_size=1, max_size=10))] = draw(VALUE)
    return toml_document(document).encode("utf-8", "surrogatepass")


@REPEATABLE
@given(damaged_config())
def test_damaged_configs_load_or_fail_with_one_line(data: bytes) -> None:
    config.one_input(data)


@REPEATABLE
@given(st.binary(max_size=300))
def test_config_bytes(data: bytes) -> None:
    config.one_input(data)


# -------------------------------------------------------------------- logs
LOG_FIELD = st.one_of(
    st.floats().map(repr),
    st.sampled_from(["nan", "inf", "", '"', '"0.5"', "0.5\x00", "1e400"]),
    st.text(max_size=5),
)
TIMESTAMP = st.one_of(
    st.datetimes().map(lambda t: t.isoformat()),
    st.sampled_from(["2024-01-01T12:00:00+01:00", "2024-13-01T00:00:00", "yesterday", ""]),
)


@st.composite
def log_file(draw: st.DrawFn) -> bytes:
    rows = draw(
        st.lists(
            st.tuples(
                TIMESTAMP,
                st.sampled_from(["interface", "rnn", " interface", "x"]),
                st.lists(LOG_FIELD, max_size=10),
            ),
            max_size=8,
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(",".join([stamp, source, *fields]) for stamp, source, fields in rows)
    return bytes([draw(st.integers(0, 255))]) + text.encode("utf-8", "surrogatepass")


@REPEATABLE
@given(log_file())
def test_logs_never_stop_the_dataset_step(data: bytes) -> None:
    logs.one_input(data)


# -------------------------------------------------------------- MIDI files
MIDI_SEEDS = [p.read_bytes() for p in corpus_files("midi_file") if p.suffix == ".mid"]


@REPEATABLE
@given(
    st.sampled_from(MIDI_SEEDS),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=6),
    st.integers(0, 1 << 16),
)
def test_midi_files_never_stop_the_dataset_step(seed: bytes, patches: list, cut: int) -> None:
    data = bytearray(seed)
    for at, byte in patches:
        if data:
            data[at % len(data)] = byte
    midi_file.one_input(bytes(data[: max(cut, 14)]))


# ------------------------------------------------------------------ models
@settings(REPEATABLE, max_examples=120)
@given(st.integers(0, 3), st.integers(0, 255), st.binary(max_size=24))
def test_model_files_load_or_fail_with_one_error(how: int, choice: int, rest: bytes) -> None:
    model.one_input(bytes([how, choice]) + rest)


def test_every_weight_edit_is_refused_or_runs() -> None:
    """Each structured edit (wrong shape, NaN, wrong type, missing...) on every array."""
    for kind in range(model.EDITS):
        for array in range(0, 24, 3):
            for seed in (0, 1):
                model.one_input(bytes([3, seed, array, kind]))


@pytest.mark.parametrize("kind", [4, 5], ids=["nan", "inf"])
def test_weights_with_nan_or_infinity_are_refused_at_load(kind: int, tmp_path: Path) -> None:
    """Found by fuzzing: such a file loaded, then every prediction was NaN, mid-performance."""
    from impsy.model import load_model
    from impsy.model.errors import ModelError

    for seed in (0, 1):  # the .h5 and the .keras
        suffix, content = model.model_file(bytes([3, seed, 5, kind]))  # one array poisoned
        path = tmp_path / f"poisoned{suffix}"
        path.write_bytes(content)
        with pytest.raises(ModelError, match="NaN or infinite weights"):
            load_model(path)
