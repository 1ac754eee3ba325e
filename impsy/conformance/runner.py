"""Runs IMPSY's conformance vectors against impsy's own codecs, pipeline and model.

A spec directory holds ``vectors/*.json``; each file is one kind of check
(named by the file) with a ``tolerance`` and a list of ``cases``. Every case
is run through the same functions the server uses, and its result compared
with ``expected``. Anything the runner does not understand (an unknown
file, a missing or unexpected field) is a failure, never a skip: a vector
that silently stops being checked would let the contract drift unnoticed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from impsy.errors import ImpsyError

FILE_LEVEL = "*"
"""The case name reported when a whole file fails (unreadable, unknown kind)."""

_COMMON_FIELDS = {"name": str, "description": str, "issues": list}
_REPR_LIMIT = 160


class ConformanceError(ImpsyError):
    """The spec directory itself cannot be used (missing, or without vectors)."""


class CaseShapeError(Exception):
    """A case whose fields this runner does not understand."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case; ``detail`` is the first difference when it failed."""

    file: str
    case: str
    passed: bool
    detail: str = ""


# Comparison


def _plain(value: Any) -> Any:
    """numpy arrays/scalars and tuples as plain JSON-like Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _show(value: Any) -> str:
    text = json.dumps(value) if _is_json(value) else repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def first_difference(
    expected: Any, got: Any, tolerance: float, path: str = "expected"
) -> str | None:
    """Where ``got`` first differs from ``expected``: ``"path: expected X, got Y"``, or None.

    Numbers match within ``tolerance`` (absolute); everything else must be
    equal, dicts key for key and lists item for item.
    """
    return _difference(expected, _plain(got), tolerance, path)


def _difference(expected: Any, got: Any, tolerance: float, path: str) -> str | None:
    if _is_number(expected) and _is_number(got):
        if math.isnan(expected) and math.isnan(got):
            return None
        if abs(expected - got) <= tolerance:
            return None
    elif isinstance(expected, dict) and isinstance(got, dict):
        for key in expected:
            if key not in got:
                return f"{path}.{key}: expected {_show(expected[key])}, got nothing"
            found = _difference(expected[key], got[key], tolerance, f"{path}.{key}")
            if found:
                return found
        for key in got:
            if key not in expected:
                return f"{path}.{key}: expected nothing, got {_show(got[key])}"
        return None
    elif isinstance(expected, list) and isinstance(got, list):
        if len(expected) == len(got):
            for index, (want, have) in enumerate(zip(expected, got, strict=True)):
                found = _difference(want, have, tolerance, f"{path}[{index}]")
                if found:
                    return found
            return None
    elif type(expected) is type(got) and expected == got:
        return None
    return f"{path}: expected {_show(expected)}, got {_show(got)}"


# Case fields


def _fields(case: dict[str, Any], required: dict[str, Any], optional: dict[str, Any] | None = None):
    """Check a case has exactly the fields a handler understands, of the right JSON types."""
    allowed = {**_COMMON_FIELDS, **(optional or {}), **required, "expected": object}
    for key in (*required, "expected", "name"):
        if key not in case:
            raise CaseShapeError(f"missing field {key!r}")
    for key, value in case.items():
        if key not in allowed:
            raise CaseShapeError(f"unknown field {key!r}")
        kind = allowed[key]
        if kind is float:
            ok = _is_number(value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            raise CaseShapeError(f"field {key!r} has the wrong type: {_show(value)}")


def _mapping(case: dict[str, Any], key: str) -> list:
    from impsy.mapping.spec import parse_mapping_list

    dimension = case.get("dimension")
    return parse_mapping_list(case[key], None if dimension is None else dimension - 1)


def _step_kind(step: Any, kinds: dict[str, type], index: int) -> str:
    """The one key of a ``{"values": [...]}``-style step, checked against ``kinds``."""
    if not isinstance(step, dict) or len(step) != 1:
        raise CaseShapeError(f"step {index} is not an object with one field: {_show(step)}")
    ((key, value),) = step.items()
    if key not in kinds or not isinstance(value, kinds[key]) or value is False:
        raise CaseShapeError(f"step {index} is not understood: {_show(step)}")
    return key


def _byte_lists(value: Any, what: str) -> list[list[int]]:
    if not isinstance(value, list) or not all(
        isinstance(item, list) and all(isinstance(byte, int) for byte in item) for item in value
    ):
        raise CaseShapeError(f"{what} must be lists of integers")
    return value


# Handlers: each returns the first difference, or None when the case passes.

Handler = Callable[[dict[str, Any], float, Path], "str | None"]


def _midi_input(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.mapping.midi import MidiDecoder

    _fields(case, {"input_mapping": list, "messages": list}, {"dimension": int})
    decoder = MidiDecoder(_mapping(case, "input_mapping"))
    got = [decoder.decode(message) for message in _byte_lists(case["messages"], "messages")]
    return first_difference(case["expected"], got, tolerance)


def _midi_output(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.mapping.midi import MidiEncoder

    _fields(case, {"output_mapping": list, "steps": list}, {"dimension": int})
    encoder = MidiEncoder(_mapping(case, "output_mapping"))
    got = []
    for index, step in enumerate(case["steps"]):
        kind = _step_kind(step, {"values": list, "all_notes_off": bool}, index)
        got.append(
            encoder.all_notes_off() if kind == "all_notes_off" else encoder.encode(step[kind])
        )
    return first_difference(case["expected"], got, tolerance)


def _websocket_input(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.mapping.websocket import WebSocketDecoder

    _fields(case, {"input_mapping": list, "messages": list}, {"dimension": int})
    if not all(isinstance(message, str) for message in case["messages"]):
        raise CaseShapeError("messages must be strings")
    decoder = WebSocketDecoder(_mapping(case, "input_mapping"))
    got = [decoder.decode(message) for message in case["messages"]]
    return first_difference(case["expected"], got, tolerance)


def _websocket_output(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.mapping.websocket import WebSocketEncoder

    _fields(case, {"output_mapping": list, "steps": list}, {"dimension": int})
    if not all(isinstance(step, list) for step in case["steps"]):
        raise CaseShapeError("steps must be lists of output values")
    encoder = WebSocketEncoder(_mapping(case, "output_mapping"))
    got = [encoder.encode(step) for step in case["steps"]]
    return first_difference(case["expected"], got, tolerance)


def _pipeline(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.dataset.logs import INTERFACE
    from impsy.mapping.midi import MidiDecoder
    from impsy.mapping.pipeline import InputState

    _fields(
        case,
        {
            "dimension": int,
            "input_mapping": list,
            "initial_values": list,
            "start_time": float,
            "events": list,
        },
    )
    decoder = MidiDecoder(_mapping(case, "input_mapping"))
    state = InputState(case["dimension"], case["initial_values"], case["start_time"])
    model_inputs, log = [], []
    for index, event in enumerate(case["events"]):
        if not isinstance(event, dict) or set(event) != {"time", "bytes"}:
            raise CaseShapeError(f"event {index} is not {{time, bytes}}: {_show(event)}")
        (message,) = _byte_lists([event["bytes"]], f"event {index} bytes")
        interaction = state.apply(decoder.decode(message), event["time"])
        if interaction is not None:
            model_inputs.append(interaction.model_input)
            log.append({"source": INTERFACE, "values": interaction.values})
    got = {"model_inputs": model_inputs, "log": log}
    return first_difference(case["expected"], got, tolerance)


def _playback(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.engine.playback import plan_playback

    _fields(case, {"timescale": float, "model_outputs": list})
    got = []
    for output in case["model_outputs"]:
        plan = plan_playback(output, case["timescale"])
        got.append(
            {"wait": plan.wait, "output": plan.values, "next_model_input": plan.next_model_input}
        )
    return first_difference(case["expected"], got, tolerance)


def _dataset(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.dataset.logs import parse_log_lines

    _fields(case, {"dimension": int, "log_lines": list})
    if not all(isinstance(line, str) for line in case["log_lines"]):
        raise CaseShapeError("log_lines must be strings")
    rows, _skipped = parse_log_lines(case["log_lines"], case["dimension"], dtype=np.float64)
    return first_difference(case["expected"], rows, tolerance)


def _model(case: dict[str, Any], tolerance: float, spec_dir: Path) -> str | None:
    from impsy.model import SCALE, load_model
    from impsy.model.sampling import mixture_weights, pick_mixture

    _fields(
        case,
        {
            "model_file": str,
            "pi_temp": float,
            "sigma_temp": float,
            "uniform_draws": list,
            "steps": list,
        },
    )
    model = load_model(spec_dir / case["model_file"])
    spread = math.sqrt(case["sigma_temp"]) / SCALE
    steps: list[dict[str, Any] | None] = []
    for index, step in enumerate(case["steps"]):
        if _step_kind(step, {"input": list, "reset": bool}, index) == "reset":
            model.reset()
            steps.append(None)
            continue
        x = np.asarray(step["input"], dtype=np.float64)
        params = model.step(x)
        pi = mixture_weights(params.pi_logits, case["pi_temp"])
        steps.append(
            {
                "model_input": (x * SCALE).astype(np.float32),
                "mdn_output": params.raw,
                "pi": pi,
                "mu": np.asarray(params.mu) / SCALE,
                "std": np.asarray(params.sigma) * spread,
                "mixture_for_draw": [pick_mixture(pi, u) for u in case["uniform_draws"]],
            }
        )
    got = {
        "introspected": {
            "dimension": model.dimension,
            "units": model.units,
            "mixtures": model.mixtures,
            "layers": model.layers,
        },
        "tensors": model.tensor_map,
        "steps": steps,
    }
    return first_difference(case["expected"], got, tolerance)


HANDLERS: dict[str, Handler] = {
    "midi_input": _midi_input,
    "midi_output": _midi_output,
    "websocket_input": _websocket_input,
    "websocket_output": _websocket_output,
    "pipeline": _pipeline,
    "playback": _playback,
    "dataset": _dataset,
    "model": _model,
}
"""One handler per vector file, keyed by the file's name without ``.json``."""


# Running


def vector_files(spec_dir: str | Path) -> list[Path]:
    """The vector files of a spec directory, sorted; raises if there is nowhere to look."""
    spec_dir = Path(spec_dir)
    if not spec_dir.is_dir():
        raise ConformanceError(f"spec directory {str(spec_dir)!r} does not exist")
    vectors = spec_dir / "vectors"
    if not vectors.is_dir():
        raise ConformanceError(f"{str(spec_dir)!r} has no vectors/ folder of *.json files")
    return sorted(vectors.glob("*.json"))


def run_case(kind: str, case: Any, tolerance: float, spec_dir: Path) -> CaseResult:
    """Run one case with the handler for ``kind``; any error is that case's failure."""
    name = case.get("name") if isinstance(case, dict) else None
    label = name if isinstance(name, str) else "?"
    if not isinstance(case, dict):
        return CaseResult(kind, label, False, f"case is not an object: {_show(case)}")
    try:
        detail = HANDLERS[kind](case, tolerance, spec_dir)
    except CaseShapeError as err:
        return CaseResult(kind, label, False, f"case not understood: {err}")
    except Exception as err:  # noqa: BLE001 - a crash is a failed case, reported, not a traceback
        return CaseResult(kind, label, False, f"error: {type(err).__name__}: {err}")
    return CaseResult(kind, label, detail is None, detail or "")


def run_file(path: str | Path, spec_dir: str | Path) -> list[CaseResult]:
    """All cases of one vector file; a file that cannot be used is one failed result."""
    path = Path(path)
    kind = path.stem
    if kind not in HANDLERS:
        known = ", ".join(HANDLERS)
        detail = f"unknown vector file kind {kind!r}; expected one of {known}"
        return [CaseResult(kind, FILE_LEVEL, False, detail)]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return [CaseResult(kind, FILE_LEVEL, False, f"cannot read {path.name}: {err}")]
    problem = _document_problem(document)
    if problem:
        return [CaseResult(kind, FILE_LEVEL, False, problem)]
    tolerance = float(document["tolerance"])
    return [run_case(kind, case, tolerance, Path(spec_dir)) for case in document["cases"]]


def _document_problem(document: Any) -> str | None:
    if not isinstance(document, dict):
        return "file is not a JSON object"
    tolerance = document.get("tolerance")
    if not _is_number(tolerance) or not tolerance >= 0:
        return f"'tolerance' must be a number >= 0, got {_show(tolerance)}"
    cases = document.get("cases")
    if not isinstance(cases, list) or not cases:
        return "'cases' must be a non-empty list"
    return None


def run_spec(spec_dir: str | Path) -> Iterator[CaseResult]:
    """Every case of every vector file in ``spec_dir/vectors``, file by file."""
    for path in vector_files(spec_dir):
        yield from run_file(path, spec_dir)
