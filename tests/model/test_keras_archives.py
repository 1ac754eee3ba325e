"""Damaged and hostile ``.keras`` files: each refused fast, in bounded memory, with one line.

A ``.keras`` is a zip around JSON and HDF5, and each layer can be made to lie:
the zip's sizes (a bomb of hundreds of MiB in a file of one), its directory
(hundreds of thousands of entries), its local headers; the JSON's types and
depth; HDF5's arrays (gigabytes declared in a few bytes, storage in a FIFO).
Every file here is built for real and loaded by the real ``load_model``;
those that could take gigabytes or hang on a faulty reader are loaded in a
child process with a 1 GiB address-space limit and a timeout (see
``tests/model/archives.py``), which also measures time and peak memory.
The command line is checked too: ``impsy run FILE`` and ``impsy evaluate``
must exit with status 2 and one line, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path

import h5py
import pytest

from fuzz.keras_zip import _trap
from impsy.model import load_model
from impsy.model.errors import ModelError
from impsy.model.limits import MAX_WEIGHTS_BYTES
from tests.model.archives import (
    LEGACY_H5,
    MiB,
    edited_h5,
    entries,
    first_dataset,
    load_in_child,
    lzma_dictionary,
    packed_bomb,
    run_impsy,
    weights_bytes,
    write_keras,
    zip_bomb,
)
from tests.osc_client import free_udp_port
from tests.paths import DATA, ROOT

FAST = 1.0
"""Seconds a refusal may take (they take milliseconds; the bombs took 3-18 s to inflate)."""
SMALL = 32 * MiB
"""How much a refusal may raise the loading process's peak memory (the bombs took 1-2 GB)."""


# ------------------------------------------------------------------ zip bombs
def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    """600 MiB of weights in a 0.6 MiB file: refused from the zip directory."""
    bomb = zip_bomb(tmp_path / "bomb.keras", 600 * MiB)
    assert bomb.stat().st_size < 1 * MiB
    outcome = load_in_child(bomb)
    assert outcome.refused(bomb, "model.weights.h5", "600.0 MiB", "zip bomb"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def test_a_header_understating_the_size_stops_the_read_there(tmp_path: Path) -> None:
    """The directory claims 1 KiB, the stream inflates to 600 MiB: at most a piece inflates."""
    bomb = zip_bomb(tmp_path / "understated.keras", 600 * MiB, declared=1024)
    outcome = load_in_child(bomb)
    assert outcome.refused(bomb, "model.weights.h5", "more than the 1024 bytes"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def test_a_compressed_size_claimed_past_the_end_cannot_hide_the_ratio(tmp_path: Path) -> None:
    """127 MiB (just under the cap) from 0.3 MiB, claiming 100 MiB of compressed data: the
    ratio is judged from the bytes really in the file."""
    assert 127 * MiB < MAX_WEIGHTS_BYTES
    bomb = zip_bomb(tmp_path / "overstated.keras", 127 * MiB, compressed=100 * MiB)
    outcome = load_in_child(bomb)
    assert outcome.refused(bomb, "model.weights.h5", "100:1", "zip bomb"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def test_a_directory_of_300000_entries_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """16 MB of directory entries (well under the upload cap): zipfile would build an
    object for each before any check could run."""
    path = write_keras(tmp_path / "entries.keras", entries(), padding=300_000)
    outcome = load_in_child(path)
    assert outcome.refused(path, "zip directory"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_bzip2_or_lzma_stream_longer_than_declared_stops_there(
    tmp_path: Path, method: int
) -> None:
    """96 MiB of zeros in a few KiB, declaring 1,000 bytes: zipfile inflated a whole
    bzip2 or LZMA read before cutting it to the declared size (a 402-byte bzip2 entry took
    a read to 512 MiB), so the header's small size was no bound."""
    bomb = packed_bomb(tmp_path / "understated.keras", 96 * MiB, method, declared=1000)
    assert bomb.stat().st_size < 1 * MiB
    outcome = load_in_child(bomb)
    assert outcome.refused(bomb, "model.weights.h5", "more than the 1000 bytes"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def test_an_lzma_dictionary_of_4_gib_is_refused_before_it_is_allocated(tmp_path: Path) -> None:
    """LZMA's header names its dictionary size and the decoder allocates it up front: in
    the upload checker's 1 GiB this was a MemoryError traceback."""
    path = lzma_dictionary(tmp_path / "dictionary.keras", 0xFFFFFFFF)
    outcome = load_in_child(path)
    assert outcome.refused(path, "config.json", "LZMA dictionary of 4096.0 MiB"), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def _deflated(members: list) -> list:
    for member in members:
        member.method = zipfile.ZIP_DEFLATED
    return members


def _weights(members: list):  # noqa: ANN202 - the model.weights.h5 Entry
    return next(member for member in members if member.name == b"model.weights.h5")


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("local-extra-length", "cannot be unpacked (Error -3"),  # zlib.error escaped
        ("encrypted", "encrypted"),  # RuntimeError escaped
        ("method-99", "compression method 99"),  # NotImplementedError escaped
        ("patched-data-flag", "cannot be unpacked (compressed patched data"),
        ("local-name", "cannot be unpacked (File name in directory"),
        ("no-weights", "a zip without model.weights.h5"),
    ],
)
def test_zip_damage_is_one_line(tmp_path: Path, damage: str, words: str) -> None:
    members = _deflated(entries())
    weights = _weights(members)
    if damage == "local-extra-length":  # the data seems to start 40 bytes later
        weights.local_extra_length = 40
    elif damage == "encrypted":
        weights.flags = 0x1
    elif damage == "method-99":
        weights.method = 99
    elif damage == "patched-data-flag":
        weights.flags = 0x20
    elif damage == "local-name":
        weights.local_name = b"model.weights.h5x"
    else:
        members.remove(weights)
    path = write_keras(tmp_path / f"{damage}.keras", members)
    with pytest.raises(ModelError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message


def test_deflated_bzip2_and_lzma_archives_still_load(tmp_path: Path) -> None:
    """Keras stores entries, but other zip tools compress them: those are real models."""
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        members = entries()
        for member in members:
            member.method = method
        path = write_keras(tmp_path / f"method-{method}.keras", members)
        assert load_model(path).dimension == 9


# ----------------------------------------------------------------------- JSON
JSON_CASES = {
    "config-nested-100000-deep": (  # RecursionError escaped
        "config.json",
        b"[" * 100_000 + b"]" * 100_000,
        "nested too deeply",
    ),
    "metadata-an-array": ("metadata.json", b"[1, 2]", "holds an array"),  # AttributeError
    "config-a-string": ("config.json", b'"Functional"', "holds a string"),
    "keras-version-a-number": (  # AttributeError escaped
        "metadata.json",
        b'{"keras_version": 3}',
        "keras_version is a number",
    ),
    "keras-version-5000-digits": (  # ValueError escaped (int's 4300-digit limit)
        "metadata.json",
        b'{"keras_version": "' + b"9" * 5000 + b'"}',
        "not a version",
    ),
    "keras-version-terminal-escape": (  # loaded, then printed in the start-up summary
        "metadata.json",
        b'{"keras_version": "3.1\\u001b[2J"}',
        "not a version",
    ),
    "lstm-config-an-array": (  # AttributeError escaped
        "config.json",
        b'{"class_name": "LSTM", "config": []}',
        "LSTM layer's config is an array",
    ),
    "recurrent-activation-an-array": (
        "config.json",
        b'{"layers": [{"class_name": "LSTM", "config": {"recurrent_activation": [1]}}]}',
        "recurrent_activation is an array",
    ),
    "config-not-utf8": ("config.json", b'{"name": "\xff"}', "not UTF-8"),
    "config-utf16": ("config.json", "{}".encode("utf-16"), "not UTF-8"),
    "config-truncated": ("config.json", b'{"class_name": ', "not valid JSON"),
    "metadata-5000-digit-number": (
        "metadata.json",
        b'{"date_saved": ' + b"1" * 5000 + b"}",
        "not valid JSON",
    ),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_damaged_json_is_one_line_naming_the_entry(tmp_path: Path, case: str) -> None:
    entry, content, words = JSON_CASES[case]
    path = write_keras(tmp_path / f"{case}.keras", entries(**{entry.replace(".", "_"): content}))
    started = time.perf_counter()
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert time.perf_counter() - started < FAST
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert entry in message and words in message and "\n" not in message, message


def test_json_entries_may_be_missing_or_deep_but_sane(tmp_path: Path) -> None:
    """No config.json or metadata.json is a weights-only archive; an LSTM found 900 levels
    down is still found (the walk is not recursive)."""
    members = [m for m in entries() if m.name == b"model.weights.h5"]
    assert load_model(write_keras(tmp_path / "weights-only.keras", members)).dimension == 9
    deep = b'{"a": ' * 900 + b'{"class_name": "LSTM", "config": {"recurrent_activation": "tanh"}}'
    deep += b"}" * 900
    path = write_keras(tmp_path / "deep.keras", entries(config_json=deep))
    with pytest.raises(ModelError, match="recurrent activation 'tanh'"):
        load_model(path)


# ---------------------------------------------------------------- HDF5 traps
def _with_trap(tmp_path: Path, container: str, edit) -> Path:  # noqa: ANN001
    """The bundled model as ``container`` (.keras or legacy .h5) after ``edit`` on its HDF5."""
    if container == ".keras":
        weights = edited_h5(weights_bytes(), edit)
        return write_keras(tmp_path / "trap.keras", entries(model_weights_h5=weights))
    path = tmp_path / "trap.h5"
    path.write_bytes(edited_h5(LEGACY_H5.read_bytes(), edit))
    return path


def _trap_first(kind: int):  # noqa: ANN202
    return lambda handle: _trap(handle, first_dataset(handle), kind)


@pytest.mark.parametrize("container", [".keras", ".h5"])
@pytest.mark.parametrize(
    ("trap", "kind", "words"),
    [
        ("unwritten-1gib-array", 0, "1024.0 MiB"),  # 1 GiB of fill values from 2 KB
        ("256mib-compressed-chunk", 1, "chunks of 256.0 MiB"),  # inflated whole to read 4 floats
        ("complex-weights", 5, "complex64"),  # loaded, the imaginary parts silently dropped
    ],
)
def test_hdf5_traps_are_refused_before_reading(
    tmp_path: Path, container: str, trap: str, kind: int, words: str
) -> None:
    path = _with_trap(tmp_path, container, _trap_first(kind))
    assert path.stat().st_size < 1 * MiB
    outcome = load_in_child(path)
    assert outcome.refused(path, words), outcome
    assert outcome.seconds < FAST and outcome.grown < SMALL, outcome


def test_a_layer_name_with_a_line_break_is_one_line(tmp_path: Path) -> None:
    """Layers are ordered by a regular expression that did not match across a line break
    (an AssertionError traceback); HDF5 names may hold one."""
    path = _with_trap(
        tmp_path, ".keras", lambda handle: handle.move("layers/lstm", "layers/lstm\n")
    )
    with pytest.raises(ModelError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message


@pytest.mark.parametrize("container", [".keras", ".h5"])
@pytest.mark.parametrize("how", ["external-storage", "external-link"])
def test_weights_in_a_fifo_never_stall_the_load(tmp_path: Path, container: str, how: str) -> None:
    """An array stored in, or a layer linked to, a FIFO: reading it waits for ever."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def edit(handle: h5py.File) -> None:
        if how == "external-storage":
            name = first_dataset(handle)
            del handle[name]
            handle.create_dataset(name, shape=(4,), dtype="f4", external=[(str(fifo), 0, 16)])
        else:  # the first layer's whole group, as the loader looks it up by name
            group = handle["layers"] if "layers" in handle else handle
            name = sorted(k for k in group if isinstance(group[k], h5py.Group))[0]
            del group[name]
            group[name] = h5py.ExternalLink(str(fifo), "/weights")

    path = _with_trap(tmp_path, container, edit)
    outcome = load_in_child(path, timeout=20)
    words = "stored in other files" if how == "external-storage" else "an external link"
    assert outcome.refused(path, words), outcome
    assert outcome.seconds < FAST, outcome


# --------------------------------------------------------------- command line
def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[interaction]
mode = "callresponse"
[model]
file = "{ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.tflite"}"
[osc]
server_port = {free_udp_port()}
client_port = {free_udp_port()}
"""
    )
    return path


CLI_SECONDS = 10.0
"""How long ``impsy run``/``evaluate`` may take to refuse a file, start-up included: 0.4 to
0.7 s here; the 900 MiB bomb took 8.5 s (and 1.8 GiB) before the fix."""
CLI_PEAK = 256 * MiB
"""Peak resident memory of the refusing command: about 50 MiB for run (Python, NumPy,
h5py, LiteRT), more for evaluate; the 900 MiB bomb took it to 1.8 GiB before the fix."""


@pytest.mark.parametrize("case", ["config-nested-100000-deep", "metadata-an-array", "zip-bomb"])
def test_impsy_run_and_evaluate_refuse_with_one_line(tmp_path: Path, case: str) -> None:
    """The files of issue 17: one error line each, quickly, in bounded memory."""
    if case == "zip-bomb":  # the bomb: under 1 MiB, inflating to 900 MiB
        path = zip_bomb(tmp_path / "bomb.keras", 900 * MiB)
        assert path.stat().st_size < 1200 * 1024
        words = "zip bomb"
    else:
        entry, content, words = JSON_CASES[case]
        path = write_keras(
            tmp_path / f"{case}.keras", entries(**{entry.replace(".", "_"): content})
        )
    for args in (
        ["run", "-c", str(_config(tmp_path)), "-l", str(tmp_path / "logs"), str(path)],
        ["evaluate", str(path), str(DATA / "training-dataset-9d.npz")],
    ):
        try:
            ran = run_impsy(args, tmp_path, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"impsy {args[0]} {path.name} did not stop (it played the file?)")
        lines = ran.stderr_lines
        assert ran.returncode == 2, (args[0], ran.returncode, lines[-20:])
        assert len(lines) == 1 and "Traceback" not in "".join(lines) + ran.stdout, lines
        # run names the config and its key first ("error: CONFIG: [model] file: PATH: ...")
        assert lines[0].startswith("error: ") and f"{path}: " in lines[0], lines
        assert words in lines[0], lines
        assert ran.seconds < CLI_SECONDS, f"impsy {args[0]} took {ran.seconds:.1f} s"
        assert 0 < ran.peak < CLI_PEAK, f"impsy {args[0]} peaked at {ran.peak / MiB:.0f} MiB"
