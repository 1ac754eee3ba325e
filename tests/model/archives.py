"""Hostile model files for the tests, built for real, and a way to load one safely.

The ``.keras`` files are real zips written by ``fuzz.keras_zip.build_zip``
(so any header may lie) around the bundled model's real entries; the bombs
are real deflate streams that inflate to hundreds of MiB, made from one
flushed block repeated, so building one costs a few milliseconds and
about 1 MiB. A file that could take gigabytes on the code being tested is
loaded by :func:`load_in_child`: in a separate Python with an address-space
limit and a timeout, which reports what happened, how long it took and how
much its peak memory grew, and leaves the test process untouched.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py

from fuzz.keras_zip import Entry, build_zip, compress, deflate_zeros, packed_zeros, seed_entries
from tests.paths import MODELS, ROOT

MiB = 1024 * 1024
SEED = 1
"""``fuzz.keras_zip.SEEDS[1]``: the bundled Keras 3 model (``-trained.keras``)."""
LEGACY_H5 = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
"""The bundled Keras 2 weights, in the legacy HDF5 layout."""


def entries(**replaced: bytes) -> list[Entry]:
    """The bundled model's entries, with the content of any named ones replaced.

    ``config_json=b"..."`` replaces ``config.json`` (dots spelt as underscores).
    """
    found = seed_entries(SEED)
    for key, data in replaced.items():
        name = key.replace("_", ".").encode()
        for entry in found:
            if entry.name == name:
                entry.data = data
    return found


def write_keras(path: Path, members: list[Entry], **end: int) -> Path:
    path.write_bytes(build_zip(members, **end))
    return path


def weights_bytes() -> bytes:
    return next(e.data for e in seed_entries(SEED) if e.name == b"model.weights.h5")


def zip_bomb(
    path: Path, total: int, declared: int | None = None, compressed: int | None = None
) -> Path:
    """A ``.keras`` whose ``model.weights.h5`` is the real weights then zeros up to
    ``total`` bytes, deflated; ``declared``/``compressed`` make its headers lie."""
    payload, crc = deflate_zeros(weights_bytes(), total)
    bomb = Entry(b"model.weights.h5", b"", zipfile.ZIP_DEFLATED, payload=payload, crc=crc)
    bomb.size = total if declared is None else declared
    bomb.compressed = compressed
    members = [e for e in seed_entries(SEED) if e.name != b"model.weights.h5"] + [bomb]
    return write_keras(path, members)


def packed_bomb(path: Path, total: int, method: int, declared: int | None = None) -> Path:
    """A ``.keras`` whose ``model.weights.h5`` is zeros up to ``total`` bytes compressed for
    real with ``method`` (bzip2 or LZMA: about 0.5 s per 100 MiB to make); ``declared``
    makes its headers lie about the unpacked size."""
    payload, crc = packed_zeros(b"", total, method)
    bomb = Entry(b"model.weights.h5", b"", method, payload=payload, crc=crc)
    bomb.size = total if declared is None else declared
    members = [e for e in seed_entries(SEED) if e.name != b"model.weights.h5"] + [bomb]
    return write_keras(path, members)


def lzma_dictionary(path: Path, dictionary: int) -> Path:
    """A real ``.keras`` whose ``config.json`` is LZMA-compressed with properties asking
    for a ``dictionary`` of that many bytes (the decoder allocates it before reading)."""
    members = entries()
    for member in members:
        if member.name == b"config.json":
            member.method = zipfile.ZIP_LZMA
            payload = bytearray(compress(member.data, zipfile.ZIP_LZMA))
            # zip's LZMA header: version (2 bytes), properties size (2), then LZMA1's
            # properties: one byte of lc/lp/pb and the dictionary size (4, little-endian).
            payload[5:9] = dictionary.to_bytes(4, "little")
            member.payload = bytes(payload)
    return write_keras(path, members)


def edited_h5(original: bytes, edit: Callable[[h5py.File], None]) -> bytes:
    """An HDF5 file's bytes after ``edit`` changed it (through h5py, in memory)."""
    buffer = io.BytesIO(original)
    with h5py.File(buffer, "r+") as handle:
        edit(handle)
    return buffer.getvalue()


def first_dataset(handle: h5py.File) -> str:
    names: list[str] = []
    handle.visititems(
        lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None
    )
    return sorted(names)[0]


@dataclass
class Outcome:
    """What loading a file in a child process did."""

    returncode: int | None
    """None when it ran out of time and was killed."""
    lines: list[str]
    stderr: str
    seconds: float
    grown: int
    """Bytes the child's peak memory grew by while loading (after its imports)."""

    def refused(self, path: Path, *words: str) -> bool:
        """One ModelError line naming ``path`` and saying each of ``words``."""
        return (
            self.returncode == 0
            and len(self.lines) == 1
            and self.lines[0].startswith(f"ModelError: {path}: ")
            and all(word in self.lines[0] for word in words)
        )

    def __str__(self) -> str:
        return (
            f"exit {self.returncode} after {self.seconds:.2f} s, peak +{self.grown / MiB:.0f} MiB; "
            f"stdout {self.lines}; stderr {self.stderr[-600:]!r}"
        )


CHILD = """
import resource, sys, time
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from impsy.model import load_model
from impsy.model.errors import ModelError
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    model = load_model(sys.argv[1])
    print("loaded", model.describe(), flush=True)
except ModelError as err:
    print(f"ModelError: {err}", flush=True)
finally:
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    print(f"RESULT {time.perf_counter() - start:.4f} {grown}", file=sys.stderr, flush=True)
"""


def load_in_child(path: Path, memory: int = 1024 * MiB, timeout: float = 30.0) -> Outcome:
    """``load_model(path)`` in a fresh Python limited to ``memory`` bytes of address space."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-P", "-c", CHILD, str(path), str(memory)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=environment
        )
    except subprocess.TimeoutExpired as err:
        out = (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else err.stdout or ""
        return Outcome(None, out.splitlines(), "timed out", timeout, 0)
    seconds, grown = timeout, 0
    for line in done.stderr.splitlines():
        if line.startswith("RESULT "):
            seconds, grown = float(line.split()[1]), int(line.split()[2])
    return Outcome(done.returncode, done.stdout.splitlines(), done.stderr, seconds, grown)


# The real command line, with the process's own peak resident memory (VmHWM) printed as
# its last stderr line at exit. ``python -m impsy`` is ``runpy.run_module("impsy")``; the
# peak is read from the process itself because a parent's view (wait4's ru_maxrss) starts
# from the parent's own size at fork, which under pytest is gigabytes.
IMPSY_MEASURED = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                print("PEAK", int(line.split()[1]) * 1024, file=sys.stderr, flush=True)
atexit.register(peak)
sys.argv[0] = "impsy"
runpy.run_module("impsy", run_name="__main__", alter_sys=True)
"""


@dataclass
class Ran:
    """What one ``impsy`` command did."""

    returncode: int
    stdout: str
    stderr_lines: list[str]
    """Without the PEAK line."""
    seconds: float
    peak: int
    """The process's peak resident memory, in bytes."""


def run_impsy(args: list[str], cwd: Path, timeout: float = 60.0) -> Ran:
    """``impsy ARGS`` in a fresh process (Linux: it reads /proc), timed and measured."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-c", IMPSY_MEASURED, *args]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment
    )
    seconds = time.perf_counter() - started
    lines, peak = [], 0
    for line in done.stderr.strip().splitlines():
        if line.startswith("PEAK "):
            peak = int(line.split()[1])
        else:
            lines.append(line)
    return Ran(done.returncode, done.stdout, lines, seconds, peak)
