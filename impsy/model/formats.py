"""Reading MDRNN weights from ``.h5`` and ``.keras`` files without TensorFlow.

A ``.keras`` file is a zip holding ``config.json``, ``metadata.json`` and
``model.weights.h5``; the weights are opened from memory with h5py, so
nothing is unpacked to disk. An ``.h5`` is opened directly and may be in
either layout described in :mod:`impsy.model.h5_layouts`. Each reader also
records the file's :class:`Provenance`, which the gate rule needs.

Model files come from anyone (the web UI takes uploads into a running
performance), so a ``.keras`` is checked before anything in it is unpacked,
against the limits in :mod:`impsy.model.limits`: the zip's directory must
be small (``MAX_ENTRIES``, ``MAX_DIRECTORY_BYTES``), each entry impsy reads
must declare a size under its cap (``MAX_WEIGHTS_BYTES``,
``MAX_JSON_BYTES``) and, when large, a compression ratio under
``MAX_RATIO`` against the bytes really in the file. Then each entry is
inflated here, a bounded step at a time, and never past its declared size,
so a header that lies about its size stops there too (zipfile's own reader
inflates a whole bzip2 or LZMA read first). A zip bomb is thus refused in
milliseconds, before a byte is inflated, or at worst after its declared
size. The JSON entries must be UTF-8 objects of the types Keras writes;
anything else, like any damage, is one :class:`ModelError` line naming the
file and what is wrong.
"""

from __future__ import annotations

import bz2
import copy
import io
import json
import lzma
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import h5py

from impsy.model.errors import ModelError
from impsy.model.h5_layouts import (
    Budget,
    classify_layers,
    has,
    legacy_layers,
    member,
    saving_lib_layers,
    text,
)
from impsy.model.limits import (
    MAX_DIRECTORY_BYTES,
    MAX_ENTRIES,
    MAX_JSON_BYTES,
    MAX_LZMA_DICTIONARY,
    MAX_RATIO,
    MAX_VERSION,
    MAX_WEIGHTS_BYTES,
    RATIO_FLOOR,
    READ_BYTES,
    MiB,
)
from impsy.model.weights import MDRNNWeights, Provenance, build_weights

WEIGHTS = "model.weights.h5"
METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
"""Compression methods impsy unpacks (Keras stores; other zip tools deflate, some use
bzip2 or LZMA)."""

ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    struct.error,
    OverflowError,
)
"""What Python's zipfile raises for a damaged archive: a bad CRC, a truncated or
undecodable stream (zlib's, lzma's and bz2's own errors), an unknown feature."""
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
"""What h5py raises for a damaged file (RuntimeError: "ran off end of input buffer")."""

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory: 22 bytes
_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator: 20 bytes
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory: 56 bytes


def _mib(size: int) -> str:
    return f"{size / MiB:.1f} MiB" if size >= MiB else f"{size} bytes"


def _kind(value: object) -> str:
    """The JSON name of a value's type, for messages."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _check_directory(handle: IO[bytes], length: int, source: str) -> None:
    """Refuse a zip whose directory is too big, before zipfile parses any of it.

    Finds the end-of-directory record where zipfile does (the last 22 bytes,
    else the last ``PK\\5\\6`` within the 64 KiB comment) and reads the entry
    count and directory size from it, or from the zip64 record it points to.
    """
    tail_size = min(length, _EOCD.size + 0xFFFF)
    handle.seek(length - tail_size)
    tail = handle.read(tail_size)
    at = len(tail) - _EOCD.size
    if not (at >= 0 and tail[at : at + 4] == b"PK\x05\x06" and tail[-2:] == b"\0\0"):
        at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise ModelError(f"{source}: not a .keras file (no zip directory found)")
    fields = _EOCD.unpack_from(tail, at)
    entries, directory = max(fields[3], fields[4]), fields[5]
    start = length - tail_size + at
    if start >= _LOCATOR.size + _EOCD64.size:
        handle.seek(start - _LOCATOR.size - _EOCD64.size)
        zip64 = handle.read(_EOCD64.size + _LOCATOR.size)
        if zip64[_EOCD64.size : _EOCD64.size + 4] == b"PK\x06\x07" and zip64[:4] == b"PK\x06\x06":
            record = _EOCD64.unpack_from(zip64)
            entries, directory = max(entries, record[6], record[7]), max(directory, record[8])
    if directory > MAX_DIRECTORY_BYTES:
        raise ModelError(
            f"{source}: a zip directory of {_mib(directory)}; a .keras file's is a few hundred "
            f"bytes (impsy reads at most {_mib(MAX_DIRECTORY_BYTES)})"
        )
    if entries > MAX_ENTRIES:
        raise ModelError(
            f"{source}: a zip of {entries} entries; a .keras file has a few "
            f"(impsy reads at most {MAX_ENTRIES})"
        )


def _read_entry(
    archive: zipfile.ZipFile, name: str, limit: int, length: int, source: str
) -> io.BytesIO:
    """Entry ``name``, unpacked, if it declares a sane size and stays under ``limit``.

    The declared size and ratio are checked first; then the entry is
    unpacked by :class:`_Inflater`, never more than :data:`READ_BYTES` a
    step, and only up to the declared size (itself under the cap): a stream
    that goes on past it is refused there, whatever it holds. zipfile's own
    reader cannot be trusted with that: it inflates a whole bzip2 or LZMA
    read before cutting it to the declared size (a 402-byte bzip2 entry
    declaring 1,000 bytes inflated 512 MiB in one read).
    """
    info = archive.getinfo(name)
    what = f"{source}: {name}"
    if info.flag_bits & 0x1:
        raise ModelError(f"{what} is encrypted; .keras files are not")
    if info.compress_type not in METHODS:
        raise ModelError(
            f"{what} uses zip compression method {info.compress_type}, which impsy cannot unpack "
            "(Keras stores entries uncompressed)"
        )
    if info.file_size > limit:
        raise ModelError(
            f"{what} would unpack to {_mib(info.file_size)}; impsy reads at most {_mib(limit)} "
            "(the largest real model's is 85 MB): not a model, or a zip bomb"
        )
    # The compressed bytes really in the file, not what the header claims.
    present = min(info.compress_size, max(0, length - info.header_offset))
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(present, 1):
        raise ModelError(
            f"{what} would unpack {_mib(present)} into {_mib(info.file_size)} (over "
            f"{MAX_RATIO}:1; model weights hardly compress): not a model, or a zip bomb"
        )
    # The raw (still compressed) bytes, through zipfile's checks of the local header.
    raw_info = copy.copy(info)
    raw_info.compress_type, raw_info.file_size = zipfile.ZIP_STORED, info.compress_size
    raw_info.CRC = None  # checked here, over the unpacked bytes
    unpacked = io.BytesIO()
    crc = 0
    try:
        with archive.open(raw_info) as raw:
            inflater = _Inflater(info.compress_type, raw, what)
            # One byte past the declared size is enough to know the header lies.
            while piece := inflater.read(min(READ_BYTES, info.file_size + 1 - unpacked.tell())):
                if unpacked.tell() + len(piece) > info.file_size:
                    raise ModelError(
                        f"{what} unpacks to more than the {info.file_size} bytes its header "
                        "declares: damaged, or a zip bomb"
                    )
                unpacked.write(piece)
                crc = zlib.crc32(piece, crc)
    except ZIP_ERRORS as err:
        raise ModelError(f"{what} cannot be unpacked ({err})") from None
    if unpacked.tell() != info.file_size:
        raise ModelError(
            f"{what} is damaged: it unpacks to {unpacked.tell()} bytes, its header says "
            f"{info.file_size}"
        )
    if crc != info.CRC:
        raise ModelError(f"{what} is damaged: its CRC-32 does not match its contents")
    unpacked.seek(0)
    return unpacked


class _Inflater:
    """One zip entry's compressed stream, unpacked at most ``size`` bytes per :meth:`read`.

    Every decompressor is given a ``max_length``, so no step inflates more
    than asked, whatever the stream holds. ``what`` names the entry in errors.
    """

    def __init__(self, method: int, raw: IO[bytes], what: str) -> None:
        self.raw = raw
        self.ended = False  # the compressed bytes are all read
        self.zlib: Any = None
        self.other: Any = None
        if method == zipfile.ZIP_DEFLATED:
            self.zlib = zlib.decompressobj(-15)
        elif method == zipfile.ZIP_BZIP2:
            self.other = bz2.BZ2Decompressor()
        elif method == zipfile.ZIP_LZMA:
            self.other = _lzma_decompressor(raw, what)

    def _more(self) -> bytes:
        data = self.raw.read(READ_BYTES)
        if not data:
            self.ended = True
        return data

    def read(self, size: int) -> bytes:
        """Up to ``size`` unpacked bytes; empty at the end of the entry."""
        if self.zlib is None and self.other is None:
            return self.raw.read(size)
        stalled = False
        while True:  # ends: each turn returns output, or reads input, or has none left
            if self.zlib is not None:
                if self.zlib.eof:
                    return b""
                data = self.zlib.unconsumed_tail or (b"" if self.ended else self._more())
                piece = self.zlib.decompress(data, size)
            else:
                if self.other.eof:
                    return b""
                wants = self.other.needs_input or stalled
                data = self._more() if wants and not self.ended else b""
                piece = self.other.decompress(data, size)
            if piece:
                return piece
            if self.ended:  # no input left and no output: the end, as zipfile takes it
                return b""
            stalled = not data


def _lzma_decompressor(raw: IO[bytes], what: str) -> lzma.LZMADecompressor:
    """The decoder for a zip LZMA entry, from its header (version, properties size,
    LZMA1 properties), refusing a dictionary past :data:`MAX_LZMA_DICTIONARY`."""
    header = raw.read(4)
    if len(header) < 4:
        raise ModelError(f"{what} ends inside its LZMA header")
    (size,) = struct.unpack("<H", header[2:4])
    properties = raw.read(size)
    if size != 5 or len(properties) != 5:
        raise ModelError(f"{what} has LZMA properties of {size} bytes; LZMA1's are 5")
    packed, dictionary = properties[0], int.from_bytes(properties[1:5], "little")
    if packed >= 9 * 5 * 5:
        raise ModelError(f"{what} has invalid LZMA properties")
    if dictionary > MAX_LZMA_DICTIONARY:
        raise ModelError(
            f"{what} asks for an LZMA dictionary of {_mib(dictionary)}; impsy allows "
            f"{_mib(MAX_LZMA_DICTIONARY)} (the decoder allocates it up front)"
        )
    lzma_filter = {
        "id": lzma.FILTER_LZMA1,
        "lc": packed % 9,
        "lp": packed // 9 % 5,
        "pb": packed // 45,
        "dict_size": dictionary,
    }
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma_filter])


def _json_object(data: str | bytes, name: str, source: str) -> dict[str, Any]:
    """A JSON object from ``data``; ModelError for anything else (damaged, deep, wrong type)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ModelError(f"{source}: {name} is not UTF-8 text (byte {err.start})") from None
    if len(data) > MAX_JSON_BYTES["config.json"]:
        raise ModelError(f"{source}: {name} is {_mib(len(data))} long; a Keras config is a few KB")
    try:
        value = json.loads(data)
    except RecursionError:
        raise ModelError(f"{source}: {name} is nested too deeply to be a Keras config") from None
    except ValueError as err:
        raise ModelError(f"{source}: {name} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise ModelError(f"{source}: {name} holds {_kind(value)}; Keras writes an object")
    return value


def _version(value: object, where: str, source: str) -> str | None:
    """A ``keras_version`` as Keras writes it (short, printable text), or None if absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ModelError(f"{source}: {where} is {_kind(value)}; expected a version such as 3.4.1")
    if len(value) > MAX_VERSION or not value.isprintable():
        raise ModelError(
            f"{source}: {where} is not a version such as 3.4.1 ({len(value)} characters)"
        )
    return value


def _recurrent_activation(config: dict[str, Any], where: str, source: str) -> str | None:
    """The first LSTM's ``recurrent_activation`` in a Keras model config, if any.

    The config is walked without recursion (a hostile one may nest 100,000
    deep), depth first, in document order. A value of a type Keras never
    writes is a ModelError naming it.
    """
    stack: list[Any] = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") == "LSTM":
                return _activation_of(node, where, source)
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return None


def _activation_of(lstm: dict[str, Any], where: str, source: str) -> str | None:
    layer = lstm.get("config", {})
    if not isinstance(layer, dict):
        raise ModelError(f"{source}: {where}: an LSTM layer's config is {_kind(layer)}")
    value = layer.get("recurrent_activation")
    if isinstance(value, dict):  # Keras 3 may serialise activations as objects
        value = value.get("config", value.get("class_name"))
        return value if isinstance(value, str) else None
    if value is not None and not isinstance(value, str):
        raise ModelError(
            f"{source}: {where}: the LSTM's recurrent_activation is {_kind(value)}; "
            "expected a name such as sigmoid"
        )
    return value


def _weights_from_h5(handle: h5py.File, source: str, provenance: Provenance) -> MDRNNWeights:
    """Pick the layout present in an open HDF5 file and extract the weights."""
    budget = Budget(source)
    if "layer_names" in handle.attrs:
        layers = legacy_layers(handle, budget)
    elif (
        has(handle, "model_weights")
        and "layer_names" in (weights := member(handle, "model_weights", source)).attrs
    ):
        layers = legacy_layers(weights, budget)
    elif has(handle, "layers"):
        layers = saving_lib_layers(handle, budget)
    else:
        raise ModelError(
            f"{source}: HDF5 file without Keras weights (top-level entries: "
            f"{sorted(handle.keys())[:20] or 'none'}; "
            f"attributes: {sorted(handle.attrs.keys())[:20] or 'none'})"
        )
    lstm, mdn = classify_layers(layers, source)
    if any(name.endswith(":0") for _, arrays in layers for name, _ in arrays):
        provenance = replace(provenance, tf_names=True)
    return build_weights(lstm, mdn, provenance, source)


def read_h5(path: Path) -> MDRNNWeights:
    """Weights from a Keras ``.h5`` (legacy weights-only or full model) or ``.weights.h5``."""
    source = str(path)
    try:
        handle = h5py.File(path, "r")
    except H5_ERRORS as err:
        raise ModelError(f"{source}: not a readable HDF5 file ({err})") from None
    with handle:
        try:
            version = handle.attrs.get("keras_version")
            if version is None and has(handle, "model_weights"):
                version = member(handle, "model_weights", source).attrs.get("keras_version")
            activation = None
            if "model_config" in handle.attrs:
                config = _json_object(
                    text(handle.attrs["model_config"]), "its model_config attribute", source
                )
                activation = _recurrent_activation(config, "its model_config attribute", source)
            layout = "legacy-full" if has(handle, "model_weights") else "legacy-weights"
            if has(handle, "layers") and "layer_names" not in handle.attrs:
                layout = "saving-lib"
            provenance = Provenance(
                layout=layout,
                keras_version=_version(
                    None if version is None else text(version), "its keras_version", source
                ),
                recurrent_activation=activation,
            )
            return _weights_from_h5(handle, source, provenance)
        except H5_ERRORS as err:
            raise ModelError(f"{source}: could not read the weights ({err})") from None


def _unpack_keras(path: Path, source: str) -> dict[str, io.BytesIO]:
    """The entries impsy reads from a ``.keras`` zip, each checked before it is unpacked."""
    try:
        length = path.stat().st_size
        with open(path, "rb") as handle:
            _check_directory(handle, length, source)
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                if len(infos) > MAX_ENTRIES:
                    raise ModelError(
                        f"{source}: a zip of {len(infos)} entries; a .keras file has a few "
                        f"(impsy reads at most {MAX_ENTRIES})"
                    )
                names = {info.filename for info in infos}
                if WEIGHTS not in names:
                    shown = sorted(names)[:10]
                    raise ModelError(f"{source}: a zip without {WEIGHTS} (contains {shown})")
                entries = {
                    WEIGHTS: _read_entry(archive, WEIGHTS, MAX_WEIGHTS_BYTES, length, source)
                }
                for name, limit in MAX_JSON_BYTES.items():
                    if name in names:
                        entries[name] = _read_entry(archive, name, limit, length, source)
                return entries
    except ZIP_ERRORS as err:
        raise ModelError(f"{source}: not a readable .keras zip ({err})") from None


def read_keras(path: Path) -> MDRNNWeights:
    """Weights from a ``.keras`` zip, as written by Keras 2.13+ or Keras 3."""
    source = str(path)
    entries = _unpack_keras(path, source)
    config, metadata = (
        _json_object(entries[name].getvalue(), name, source) if name in entries else {}
        for name in ("config.json", "metadata.json")
    )
    provenance = Provenance(
        layout="keras-zip",
        keras_version=_version(
            metadata.get("keras_version"), "metadata.json's keras_version", source
        ),
        recurrent_activation=_recurrent_activation(config, "config.json", source),
    )
    try:
        with h5py.File(entries[WEIGHTS], "r") as handle:
            return _weights_from_h5(handle, source, provenance)
    except H5_ERRORS as err:
        raise ModelError(f"{source}: could not read {WEIGHTS} ({err})") from None
