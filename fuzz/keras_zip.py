"""``.keras`` archives into ``load_model``: the zip itself, its entries, and what they hold.

A ``.keras`` file is a zip, and a zip is a set of claims (sizes, offsets,
methods, counts) that a reader must not believe: this target writes its own
archives, byte by byte, so every claim can lie. The first byte of an input
picks how the file is made from the rest:

0. the bytes themselves, as a ``.keras``;
1. a real model's entries, rewritten by four-byte operations: change an
   entry's compression method or flags, lie about its sizes, CRC or local
   header, delete, duplicate or add entries, swap the weights for a zip
   bomb (deflate, bzip2 or LZMA), put hostile JSON anywhere in
   ``config.json`` or ``metadata.json``, damage ``model.weights.h5`` (wrong
   shapes and types through :func:`fuzz.model._edit`, or HDF5's own traps:
   unwritten gigabyte arrays, gigabyte compressed chunks, storage in
   ``/dev/zero``, external links), inflate the directory, or end with the
   rest of the input as an entry;
2. a real ``.keras`` with bytes overwritten, aimed at its directory as often
   as anywhere else, then maybe cut short.

Invariants: ``load_model`` returns a model that steps, or raises
``ModelError`` with one line that starts with the file's name; nothing else
escapes; each input takes under :data:`SECONDS` and raises this process's
peak memory by under :data:`MEMORY` (a zip bomb must be refused from its
directory, not inflated). The archive builders (:func:`build_zip`,
:func:`deflate_zeros`) are what the regression tests build their bombs with.
"""

from __future__ import annotations

import copy
import io
import json
import struct
import sys
import time
import warnings
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from fuzz.harness import ROOT, quiet, scratch_dir
from impsy.model import load_model
from impsy.model.errors import ModelError

MODELS = ROOT / "models"
SEEDS = (
    MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.keras",  # Keras 2.15
    MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10-trained.keras",  # Keras 3
)
OTHER_FILE = MODELS / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.h5"
"""A real HDF5 file outside the archive, for external links to point at."""
SECONDS = 5.0
"""Longest one input may take: a refusal takes milliseconds, a real load 50 ms."""
MEMORY = 96 * 1024 * 1024
"""Most one input may raise the peak memory: a real load needs about 10 MiB; the bombs
here unpack to 127 MiB (just under impsy's cap, a ratio of 1000:1) up to 1 GiB."""
MiB = 1024 * 1024
MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------- zip writing
@dataclass
class Entry:
    """One zip entry and every claim made about it, each of which may be a lie.

    ``data`` is the content; ``payload`` the bytes stored (by default ``data``
    compressed with ``method``). ``crc``, ``size`` and ``compressed`` override
    what the headers declare; ``local_*`` make the local header disagree
    with the central directory.
    """

    name: bytes
    data: bytes
    method: int = zipfile.ZIP_STORED
    flags: int = 0
    payload: bytes | None = None
    crc: int | None = None
    size: int | None = None
    compressed: int | None = None
    local_name: bytes | None = None
    local_extra: bytes = b""
    local_extra_length: int | None = None
    local_sizes: tuple[int, int] | None = None
    extra: bytes = b""


_LOCAL = struct.Struct("<4s5H3L2H")  # 30 bytes
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # 46 bytes
_END = struct.Struct("<4s4H2LH")  # 22 bytes
_compressed: dict[tuple[bytes, int], bytes] = {}


def compress(data: bytes, method: int) -> bytes:
    """``data`` as a zip entry of ``method`` stores it (unknown methods: as it is)."""
    key = (data, method)
    if key not in _compressed:
        if len(_compressed) > 64:
            _compressed.clear()
        if method == zipfile.ZIP_DEFLATED:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            _compressed[key] = packer.compress(data) + packer.flush()
        elif method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            _compressed[key] = _zipfile_payload(data, method)
        else:
            _compressed[key] = data
    return _compressed[key]


def _zipfile_payload(data: bytes, method: int) -> bytes:
    """What Python's zipfile stores for ``data`` under ``method`` (bzip2 and lzma headers)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        archive.writestr("x", data)
    raw = buffer.getvalue()
    (info,) = zipfile.ZipFile(io.BytesIO(raw)).infolist()
    start = _LOCAL.size + 1 + _LOCAL.unpack_from(raw)[-1]
    return raw[start : start + info.compress_size]


def build_zip(
    entries: list[Entry],
    comment: bytes = b"",
    count: int | None = None,
    directory_size: int | None = None,
    directory_offset: int | None = None,
    padding: int = 0,
) -> bytes:
    """A zip of ``entries``, written by hand so that any field can lie.

    ``count``, ``directory_size`` and ``directory_offset`` override the end
    record; ``padding`` extra directory entries (``pad0``, ``pad1``...) all
    point at the first local header, to make a huge directory cheaply.
    """
    out = bytearray()
    central = bytearray()
    for entry in entries:
        payload = compress(entry.data, entry.method) if entry.payload is None else entry.payload
        crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
        size = len(entry.data) if entry.size is None else entry.size
        packed = len(payload) if entry.compressed is None else entry.compressed
        local_name = entry.name if entry.local_name is None else entry.local_name
        local_packed, local_size = entry.local_sizes or (packed, size)
        extra_length = entry.local_extra_length
        extra_length = len(entry.local_extra) if extra_length is None else extra_length
        offset = len(out)
        out += _LOCAL.pack(
            b"PK\x03\x04", 20, entry.flags & 0xFFFF, entry.method & 0xFFFF, 0, 0x21,
            crc & MASK32, local_packed & MASK32, local_size & MASK32,
            len(local_name), extra_length,
        )  # fmt: skip
        out += local_name + entry.local_extra + payload
        central += _CENTRAL.pack(
            b"PK\x01\x02", 20, 20, entry.flags & 0xFFFF, entry.method & 0xFFFF, 0, 0x21,
            crc & MASK32, packed & MASK32, size & MASK32,
            len(entry.name), len(entry.extra), 0, 0, 0, 0, offset & MASK32,
        )  # fmt: skip
        central += entry.name + entry.extra
    if padding:
        central += b"".join(
            _CENTRAL.pack(
                b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0
            )
            + name
            for name in (b"pad%d" % i for i in range(padding))
        )
    start = len(out)
    out += central
    total = len(entries) + padding if count is None else count
    out += _END.pack(
        b"PK\x05\x06", 0, 0, min(total, 0xFFFF), min(total, 0xFFFF),
        (len(central) if directory_size is None else directory_size) & MASK32,
        (start if directory_offset is None else directory_offset) & MASK32,
        len(comment),
    )  # fmt: skip
    return bytes(out + comment)


_zero_blocks: dict[int, tuple[bytes, bytes]] = {}


def _zero_block(wbits: int) -> tuple[bytes, bytes]:
    """1 MiB of zeros, deflated and fully flushed (so copies can follow each other),
    and the stream's header for ``wbits``."""
    if wbits not in _zero_blocks:
        packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
        head = packer.compress(b"")
        block = packer.compress(bytes(MiB)) + packer.flush(zlib.Z_FULL_FLUSH)
        _zero_blocks[wbits] = (head, block)
    return _zero_blocks[wbits]


def deflate_zeros(prefix: bytes, total: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``prefix`` then zeros up to ``total`` bytes, and its CRC-32.

    Built from one flushed block repeated, so a 1 GiB bomb costs about 1 MiB
    and a few milliseconds to make, never the gigabyte.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    _, block = _zero_block(-15)
    zeros, crc = total - len(prefix), zlib.crc32(prefix)
    whole, rest = divmod(max(zeros, 0), MiB)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream += block * whole + tail.compress(bytes(rest)) + tail.flush()
    chunk = bytes(MiB)
    for _ in range(whole):
        crc = zlib.crc32(chunk, crc)
    return stream, zlib.crc32(bytes(rest), crc)


_packed: dict[tuple[bytes, int, int], tuple[bytes, int]] = {}
PACKED_MAX = 256 * MiB
"""Largest bzip2 or LZMA bomb made (they are compressed for real: about 0.5 s per 100 MiB)."""


def packed_zeros(prefix: bytes, total: int, method: int) -> tuple[bytes, int]:
    """``prefix`` then zeros up to ``total`` bytes as a zip entry of ``method`` stores it
    (deflate, bzip2 or LZMA), and its CRC-32.

    bzip2 and LZMA bombs are compressed for real, streamed through zipfile's
    own writer a mebibyte at a time (so memory stays small), and cached: a
    bzip2 one shrinks 100 MiB of zeros to about 600 bytes.
    """
    if method == zipfile.ZIP_DEFLATED:
        return deflate_zeros(prefix, total)
    key = (prefix, total, method)
    if key not in _packed:
        if len(_packed) > 8:
            _packed.clear()
        buffer = io.BytesIO()
        crc = zlib.crc32(prefix)
        with zipfile.ZipFile(buffer, "w", method) as archive, archive.open("x", "w") as out:
            out.write(prefix)
            left = total - len(prefix)
            while left > 0:
                chunk = bytes(min(MiB, left))
                out.write(chunk)
                crc = zlib.crc32(chunk, crc)
                left -= len(chunk)
        raw = buffer.getvalue()
        (info,) = zipfile.ZipFile(io.BytesIO(raw)).infolist()
        start = _LOCAL.size + 1 + _LOCAL.unpack_from(raw)[-1]
        _packed[key] = (raw[start : start + info.compress_size], crc)
    return _packed[key]


def zlib_zeros(total: int) -> bytes:
    """``total`` zero bytes (a multiple of 1 MiB) as a zlib stream, HDF5's gzip filter format."""
    head, block = _zero_block(15)
    adler = ((total % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b grows by 1 a byte
    return head + block * (total // MiB) + b"\x03\x00" + struct.pack(">L", adler)


# ----------------------------------------------------------------- seeds
_seed_entries: dict[int, list[Entry]] = {}
_seed_bytes: dict[int, bytes] = {}


def seed_archive(index: int) -> bytes:
    index %= len(SEEDS)
    if index not in _seed_bytes:
        _seed_bytes[index] = SEEDS[index].read_bytes()
    return _seed_bytes[index]


def seed_entries(index: int) -> list[Entry]:
    """A real model's entries (metadata.json, config.json, model.weights.h5), fresh copies."""
    index %= len(SEEDS)
    if index not in _seed_entries:
        with zipfile.ZipFile(io.BytesIO(seed_archive(index))) as archive:
            _seed_entries[index] = [
                Entry(info.filename.encode(), archive.read(info), info.compress_type)
                for info in archive.infolist()
            ]
    return [replace(entry) for entry in _seed_entries[index]]


# ----------------------------------------------------------- hostile values
HOSTILE_JSON: tuple[bytes, ...] = (
    b"null", b"true", b"0", b"-1", b"3", b"1e999", b"NaN", b'"x"', b'""', b"[]", b"[1, 2]",
    b"{}", b'"\\ud800"', b'"\\u001b[31m"', b"1" * 5000, b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, b'{"class_name": "LSTM", "config": []}',
    b'{"class_name": "LSTM", "config": {"recurrent_activation": []}}',
    b'{"class_name": "LSTM", "config": {"recurrent_activation": {"config": [1]}}}',
    b'{"class_name": "LSTM", "config": {"recurrent_activation": "' + b"x" * 10_000 + b'"}}',
    b'{"keras_version": 3}', b'{"keras_version": "\\u00b2.0"}', b'{"keras_version": null}',
    b'"' + b"9" * 5000 + b'"', b'"3.0\\n"', b'"\xff\xfe"', b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00",
    b"", b"{", b'{"a": 1} trailing', b"[" * 900 + b"]" * 900,
)  # fmt: skip
"""JSON texts of every wrong type, depth and encoding, put anywhere in the JSON entries."""
METHODS = (0, 8, 12, 14, 1, 6, 9, 98, 99, 0xFFFF)
FLAG_BITS = (0x1, 0x8, 0x20, 0x40, 0x800, 0x2000)
NAMES = (
    b"model.weights.h5", b"config.json", b"metadata.json", b"../model.weights.h5",
    b"/model.weights.h5", b"model.weights.h5/", b"assets/", b"config.json\x00x",
    b"model.weights.h5" + b"\xff", b"x" * 1000, b"", b"model.weights.h5.keras",
)  # fmt: skip
BOMB_SIZES = (2 * MiB, 127 * MiB, 129 * MiB, 200 * MiB, 1024 * MiB)
BOMB_METHODS = (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
PADDING = (300, 5000, 40_000)
H5_TRAPS = 14
HUGE_TRAPS = (0, 1)
"""The traps that declare a gigabyte (unwritten fill values, a huge compressed chunk):
after one, the weights are not edited again, which would read it in this harness."""


def declared(choice: int, extra: int, real: int) -> int:
    """A size claim: near the truth, round numbers, past every cap, or a field's maximum."""
    sizes = (0, 1, real - 1, real + 1, real * 2, 64 * 1024, MiB + 1, 127 * MiB, 129 * MiB)
    sizes += (1024 * MiB, MASK32, extra << 8, extra)
    return max(0, sizes[choice % len(sizes)])


def _paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in a JSON document, the root first."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


_MARK = "\x00impsy-fuzz\x00"


def with_json(original: bytes, choice: int, hostile: bytes) -> bytes:
    """``original`` JSON with the value at path number ``choice`` replaced by ``hostile`` text."""
    try:  # an earlier operation may have left something too deep or not JSON at all
        document = json.loads(original)
        paths = _paths(document)
        path = paths[choice % len(paths)]
        if not path:
            return hostile
        document = copy.deepcopy(document)
        owner = document
        for step in path[:-1]:
            owner = owner[step]
        owner[path[-1]] = _MARK
        return json.dumps(document).encode().replace(json.dumps(_MARK).encode(), hostile)
    except (ValueError, RecursionError):
        return hostile


def _datasets(handle: h5py.File) -> list[str]:
    names: list[str] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            names.append(name)

    handle.visititems(visit)
    return sorted(names)


_traps: dict[tuple[bytes, int, int], bytes] = {}


def h5_trap(weights: bytes, kind: int, which: int) -> bytes:
    """``weights`` (an HDF5 file) with one array replaced by one of HDF5's traps."""
    key = (weights, kind % H5_TRAPS, which)
    if key in _traps:
        return _traps[key]
    buffer = io.BytesIO(weights)
    with h5py.File(buffer, "r+") as handle:
        names = _datasets(handle)
        if names:
            _trap(handle, names[which % len(names)], kind % H5_TRAPS)
    if len(_traps) > 64:
        _traps.clear()
    _traps[key] = buffer.getvalue()
    return _traps[key]


TRAP_SOURCE_MAX = 1 << 20
"""Most elements of an array a trap is modelled on: an earlier trap may have left a
gigabyte of unwritten fill values, which building the next trap must not read."""


def _trap(handle: h5py.File, name: str, kind: int) -> None:
    node = handle[name]
    small = isinstance(node, h5py.Dataset) and node.size is not None
    if small and node.size <= TRAP_SOURCE_MAX and node.dtype.kind in "fiub":
        array = np.atleast_1d(node[()])
    else:  # huge, empty or not numbers: a stand-in of the usual kind
        array = np.zeros(4, dtype="f4")
    del handle[name]
    if kind == 0:  # 1 GiB of fill values that were never written: a few bytes on disk
        handle.create_dataset(name, shape=(1 << 28,), dtype="f4")
    elif kind == 1:  # a 256 MiB compressed chunk behind a 4-element array
        dataset = handle.create_dataset(
            name, shape=(4,), maxshape=(None,), chunks=(1 << 26,), dtype="f4", compression="gzip"
        )
        dataset.id.write_direct_chunk((0,), zlib_zeros(1 << 28))
    elif kind == 2:  # stored in /dev/zero (a FIFO here would stall the read for ever)
        handle.create_dataset(
            name, shape=array.shape, dtype="f4", external=[("/dev/zero", 0, h5py.h5f.UNLIMITED)]
        )
    elif kind == 3:  # a link to an array in another file on the machine
        with h5py.File(OTHER_FILE, "r") as other:
            target = _datasets(other)[0]
        handle[name] = h5py.ExternalLink(str(OTHER_FILE), target)
    elif kind == 4:
        handle[name] = h5py.SoftLink("/" + name)  # a link to itself
    elif kind == 5:
        handle.create_dataset(name, data=array.astype(np.complex64) * (1 + 1j))
    elif kind == 6:
        pairs = np.zeros(array.shape, dtype=[("a", "f4"), ("b", "f4")])
        handle.create_dataset(name, data=pairs)
    elif kind == 7:
        handle.create_dataset(name, data=np.array(["x"] * array.size, dtype=h5py.string_dtype()))
    elif kind == 8:
        handle.create_dataset(name, data=h5py.Empty("f4"))
    elif kind == 9:
        handle.create_dataset(name, data=array != 0)
    elif kind == 10:  # half precision: legitimate, must load
        handle.create_dataset(name, data=array.astype(np.float16))
    elif kind == 11:  # thousands of groups where one array was
        group = handle.create_group(name)
        for i in range(5000):
            group.create_group(str(i))
    elif kind == 12:
        handle.create_group(name)
    else:  # every axis emptied
        handle.create_dataset(name, data=array[tuple(slice(0, 0) for _ in array.shape)])


# ------------------------------------------------------------- the archive
OPS = 16
MAX_OPS = 12


def _index(entries: list[Entry], choice: int) -> int | None:
    return choice % len(entries) if entries else None


def _weights_entry(entries: list[Entry]) -> Entry | None:
    for entry in entries:
        if entry.name == b"model.weights.h5":
            return entry
    return None


def _rewrite(entry: Entry, data: bytes) -> None:
    entry.data, entry.payload, entry.crc, entry.size, entry.compressed = (
        data,
        None,
        None,
        None,
        None,
    )


def structured(seed: int, rest: bytes) -> bytes:
    """A seed's entries rewritten by the four-byte operations in ``rest``."""
    from fuzz.model import EDITS, _edit

    entries = seed_entries(seed)
    end: dict[str, Any] = {}
    at = 0
    trapped = False  # the weights declare a gigabyte: editing them again would read it
    for _ in range(MAX_OPS):
        if at + 4 > len(rest):
            break
        op, a, b, c = rest[at : at + 4]
        at += 4
        op %= OPS
        index = _index(entries, a)
        entry = entries[index] if index is not None else None
        if op == 0 and entry:
            entry.method, entry.payload = METHODS[b % len(METHODS)], None
        elif op == 1 and entry:
            entry.flags ^= FLAG_BITS[b % len(FLAG_BITS)]
        elif op == 2 and entry:
            entry.size = declared(b, c, len(entry.data))
        elif op == 3 and entry:
            entry.compressed = declared(b, c, len(compress(entry.data, entry.method)))
        elif op == 4 and entry:
            entry.crc = zlib.crc32(entry.data) ^ ((b << 8) | c | 1)
        elif op == 5 and entry:
            if b % 4 == 0:
                entry.local_name = entry.name + b"x"
            elif b % 4 == 1:
                entry.local_extra = bytes([c]) * c
            elif b % 4 == 2:
                entry.local_sizes = (declared(c, b, 1), declared(c, b, 1))
            else:
                entry.local_extra_length = c
        elif op == 6 and index is not None:
            del entries[index]
        elif op == 7 and entry:
            twin = replace(entry)
            if b % 2:
                twin.name = NAMES[c % len(NAMES)]
            entries.append(twin)
        elif op == 8:  # the next c % 64 bytes of the input are the new entry's content
            data, at = rest[at : at + c % 64], at + c % 64
            entries.append(Entry(NAMES[b % len(NAMES)], data, METHODS[a % 4]))
        elif op == 9:  # a % 3: a deflate, bzip2 or LZMA bomb
            weights = _weights_entry(entries) or seed_entries(seed)[2]
            method = BOMB_METHODS[a % len(BOMB_METHODS)]
            total = BOMB_SIZES[b % len(BOMB_SIZES)]
            if method != zipfile.ZIP_DEFLATED:
                total = min(total, PACKED_MAX)
            payload, crc = packed_zeros(weights.data if c % 2 else b"", total, method)
            bomb = Entry(b"model.weights.h5", weights.data, method, payload=payload)
            bomb.crc, bomb.size = crc, total if c % 4 < 2 else declared(c, b, 1)
            entries = [e for e in entries if e.name != b"model.weights.h5"] + [bomb]
        elif op in (10, 11):
            name = b"config.json" if op == 10 else b"metadata.json"
            target = next((e for e in entries if e.name == name), None)
            if target is None:
                target = Entry(name, b"{}")
                entries.append(target)
            hostile = HOSTILE_JSON[a % len(HOSTILE_JSON)]
            _rewrite(target, with_json(target.data, (b << 8) | c, hostile))
        elif op in (12, 13):
            weights = _weights_entry(entries)
            if weights is None or trapped:
                continue
            try:
                if op == 12:
                    buffer = io.BytesIO(weights.data)
                    with h5py.File(buffer, "r+") as handle, warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        _edit(handle, bytes([b, a % EDITS, c, (a >> 4) % EDITS]))
                    _rewrite(weights, buffer.getvalue())
                else:
                    _rewrite(weights, h5_trap(weights.data, a, (b << 8) | c))
                    trapped = a % H5_TRAPS in HUGE_TRAPS
            except (OSError, ValueError, KeyError, TypeError, RuntimeError):
                continue  # an earlier operation left no HDF5 file to edit
        elif op == 14:
            field_ = a % 5
            if field_ == 0:
                end["count"] = (b << 8) | c
            elif field_ == 1:
                end["directory_size"] = declared(b, c, 200)
            elif field_ == 2:
                end["directory_offset"] = declared(b, c, 200)
            elif field_ == 3:
                end["comment"] = b"PK\x05\x06" * (c % 4) + bytes(b)
            else:
                end["padding"] = PADDING[b % len(PADDING)]
        elif op == 15 and entry:
            _rewrite(entry, rest[at:])
            break
    return build_zip(entries, **end)


def patched(seed: int, rest: bytes) -> bytes:
    """A real ``.keras`` with bytes overwritten (half of them in its last 300 bytes: the
    directory), then cut where the input says."""
    data = bytearray(seed_archive(seed))
    for at in range(0, min(len(rest), 64) - 3, 4):
        where = int.from_bytes(rest[at : at + 2], "big")
        if rest[at + 2] % 2:
            offset = len(data) - 1 - where % min(300, len(data))
        else:
            offset = (where * 7919) % len(data)
        data[offset] = rest[at + 3]
    if len(rest) % 5 == 0 and rest:
        del data[len(data) - 1 - rest[-1] * 97 % len(data) :]
    return bytes(data)


def archive_of(data: bytes) -> bytes:
    """The ``.keras`` file an input stands for."""
    if len(data) < 2:
        return data
    how, seed, rest = data[0] % 3, data[1], data[2:]
    if how == 0:
        return data[1:]
    if how == 1:
        return structured(seed, rest)
    return patched(seed, rest)


# ------------------------------------------------------------------ target
def peak_memory() -> int:
    """This process's peak resident memory so far, in bytes (0 where unknown)."""
    try:
        import resource
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


_path: Path | None = None


def one_input(data: bytes) -> None:
    global _path
    if _path is None:
        quiet()
        _path = scratch_dir() / "fuzz.keras"
    _path.write_bytes(archive_of(data))
    before, start = peak_memory(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = load_model(_path, seed=1)
        except ModelError as err:
            message = str(err)
            assert "\n" not in message, f"multi-line model error: {message!r}"
            assert message.startswith(f"{_path}: "), f"error does not name the file: {message!r}"
            model = None
    if model is not None:
        x = np.zeros(model.dimension)
        x[0] = 0.1
        model.step(x)
        model.predict(x)
        model.reset()
    seconds = time.perf_counter() - start
    grown = peak_memory() - before
    assert seconds < SECONDS, f"one input took {seconds:.1f} s"
    assert grown < MEMORY, f"one input raised the peak memory by {grown / MiB:.0f} MiB"
