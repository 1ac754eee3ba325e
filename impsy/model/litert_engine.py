"""Running a ``.tflite`` MDRNN with LiteRT (``ai_edge_litert``), carrying its state.

IMPSY's inference models take ``[inputs (1, 1, D), state_h_0, state_c_0, ...]``
and return ``[mdn_output, h_0, c_0, ...]``; this engine feeds each step's
state outputs back as the next step's state inputs. Which output is which is
worked out once at load time (:mod:`impsy.model.tensor_map`) and exposed as
``tensor_map``. ``ai_edge_litert`` is imported here, so only loading a
``.tflite`` pays for it.

LiteRT is optional (the ``litert`` extra): it has no wheels for some
platforms and Pythons, and the NumPy engine runs every model impsy writes.
``litert_available`` tells the loader whether it can be used at all; the
loader then runs the ``.tflite``'s sibling weights instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from impsy.model.errors import ModelError
from impsy.model.params import SCALE
from impsy.model.tensor_map import identify_state_outputs, state_key, state_keys


class FlexOpsRequired(ModelError):
    """The ``.tflite`` needs TensorFlow's Flex (SELECT_TF_OPS) delegate, which LiteRT lacks.

    ``sizes`` is ``(dimension, units, layers)`` read from the input shapes,
    which LiteRT still reports, so a fallback file can be checked against it.
    """

    def __init__(self, message: str, sizes: tuple[int, int, int] | None) -> None:
        super().__init__(message)
        self.sizes = sizes


def _declared_sizes(details: list[dict]) -> tuple[int, int, int] | None:
    """(dimension, units, layers) from IMPSY-named input tensors, or None if unclear."""
    keys = {state_key(d["name"]): d for d in details}
    events = [d for d in details if state_key(d["name"]) is None]
    states = [d for key, d in keys.items() if key is not None]
    if len(events) != 1 or not states or len(states) % 2:
        return None
    return int(events[0]["shape"][-1]), int(states[0]["shape"][-1]), len(states) // 2


def litert_available() -> bool:
    """Whether LiteRT's interpreter imports (not installed, or broken, is False)."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def _is_flex_error(message: str) -> bool:
    return "Flex" in message or "Select TensorFlow" in message


class LiteRTEngine:
    """One ``.tflite`` interpreter stepped one event at a time."""

    name = "litert"
    gate = "sigmoid"  # as converted: IMPSY converts its sigmoid inference model
    state_map_source = "behaviour"
    """How output states were identified: "signature", "names" or "behaviour" (probing)."""

    def __init__(self, path: Path, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        source = str(path)
        try:
            interpreter = Interpreter(model_path=source, num_threads=num_threads)
        except (ValueError, RuntimeError) as err:
            raise ModelError(f"{source}: not a readable .tflite model ({err})") from None
        try:
            interpreter.allocate_tensors()
        except RuntimeError as err:
            if _is_flex_error(str(err)):
                raise FlexOpsRequired(
                    f"{source} needs TensorFlow Flex ops (SELECT_TF_OPS), which LiteRT cannot run",
                    _declared_sizes(interpreter.get_input_details()),
                ) from None
            raise ModelError(f"{source}: LiteRT cannot prepare this model ({err})") from None
        self._interpreter = interpreter
        self._source = source
        try:
            self._find_tensors()
        except ModelError:
            raise
        except (RuntimeError, ValueError) as err:
            # RuntimeError: invoke() on a model LiteRT cannot run; ValueError (also
            # UnicodeDecodeError): a damaged file's tensor names or details.
            raise ModelError(f"{source}: LiteRT cannot run this model ({err})") from None
        self.reset()

    def _find_tensors(self) -> None:
        """Name every input and output, introspecting the sizes from their shapes."""
        source = self._source
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        by_key: dict[str, dict] = {}
        others = []
        for detail in inputs:
            key = state_key(detail["name"])
            if key is None:
                others.append(detail)
            else:
                by_key[key] = detail
        named = [d for d in others if "inputs" in d["name"]]
        if len(named) == 1 or len(others) == 1:
            by_key["inputs"] = named[0] if len(named) == 1 else others[0]
        else:
            raise ModelError(
                f"{source}: cannot find the event input among inputs "
                f"{[d['name'] for d in inputs]} (expected one named 'inputs')"
            )
        dimension = int(by_key["inputs"]["shape"][-1])
        layers = len(by_key) // 2
        expected = ["inputs", *state_keys(layers)]
        if not layers or sorted(by_key) != sorted(expected) or len(inputs) != len(expected):
            raise ModelError(
                f"{source}: inputs {[d['name'] for d in inputs]} are not IMPSY's "
                f"'inputs', 'state_h_0', 'state_c_0', ... (one h and c per LSTM layer)"
            )
        units = int(by_key["state_h_0"]["shape"][-1])
        for key in expected[1:]:
            if tuple(by_key[key]["shape"]) != (1, units):
                raise ModelError(
                    f"{source}: state input {by_key[key]['name']} has shape "
                    f"{tuple(by_key[key]['shape'])}, expected (1, {units})"
                )
        state_outputs = [d for d in outputs if int(d["shape"][-1]) == units]
        mdn = [d for d in outputs if int(d["shape"][-1]) != units]
        width = int(mdn[0]["shape"][-1]) if len(mdn) == 1 else 0
        if len(mdn) != 1 or width % (2 * dimension + 1) or len(state_outputs) != 2 * layers:
            raise ModelError(
                f"{source}: outputs {[(d['name'], tuple(d['shape'])) for d in outputs]} are not "
                f"one MDN output of width K*(2*{dimension}+1) plus {2 * layers} states of {units}"
            )
        self.dimension = dimension
        self.units = units
        self.layers = layers
        self.mixtures = width // (2 * dimension + 1)

        signature_names = self._signature_output_names()
        by_signature = {
            state_key(signature_names.get(d["index"], "")): d["name"] for d in state_outputs
        }
        names_out = {state_key(d["name"]): d["name"] for d in state_outputs}
        if set(by_signature) == set(expected[1:]):
            state_map = by_signature  # impsy's own files: signature outputs name the states
            self.state_map_source = "signature"
        elif set(names_out) == set(expected[1:]):
            state_map = names_out  # tensors named like states
            self.state_map_source = "names"
        else:
            self.state_map_source = "behaviour"
            state_map = identify_state_outputs(
                self._run_by_name,
                {key: by_key[key]["name"] for key in expected},
                {key: tuple(by_key[key]["shape"]) for key in expected},
                [d["name"] for d in state_outputs],
                layers,
                source,
            )
        index_of_output = {d["name"]: d["index"] for d in outputs}
        self.tensor_map = {
            "inputs": [by_key[key]["name"] for key in expected],
            "mdn_output": mdn[0]["name"],
            "state_outputs": state_map,
        }
        self._x_index = by_key["inputs"]["index"]
        self._x_shape = tuple(by_key["inputs"]["shape"])
        self._mdn_index = mdn[0]["index"]
        self._state_pairs = [
            (index_of_output[state_map[key]], by_key[key]["index"]) for key in expected[1:]
        ]
        self._state_inputs = [(by_key[key]["index"], (1, units)) for key in expected[1:]]
        self._x = np.zeros(self._x_shape, dtype=np.float32)
        self._x_flat = self._x.reshape(-1)

    def _signature_output_names(self) -> dict[int, str]:
        """Output tensor index -> signature output name, when the file has one signature.

        Tensor names in converted files are ``StatefulPartitionedCall:N``;
        the signature keeps the names the model gave its outputs, which
        impsy's ``train`` and ``convert`` set to say which state is which.
        """
        try:
            signatures = self._interpreter.get_signature_list()
            if len(signatures) != 1:
                return {}
            runner = self._interpreter.get_signature_runner(next(iter(signatures)))
            return {d["index"]: name for name, d in runner.get_output_details().items()}
        except (ValueError, RuntimeError, KeyError, AttributeError):
            return {}

    def _run_by_name(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One invocation with inputs given by tensor name; every output by name."""
        interpreter = self._interpreter
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], feed[detail["name"]])
        interpreter.invoke()
        return {
            d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()
        }

    def reset(self) -> None:
        """Zero every state input."""
        self._put_state([np.zeros(shape, dtype=np.float32) for _, shape in self._state_inputs])

    def state(self) -> list[np.ndarray]:
        """The state inputs for the next step, ``[h_0, c_0, h_1, c_1, ...]``.

        Arrays of impsy's own, never the interpreter's (it copies in and out):
        those the last ``step``, ``reset`` or ``set_state`` put in, kept, so the
        player's copy of the state after each prediction costs no extra copy.
        """
        return [value[0] for value in self._held]

    def set_state(self, state: list[np.ndarray]) -> None:
        """Put back what ``state`` returned: the next step continues from there."""
        if len(state) != len(self._state_inputs):
            raise ValueError(f"expected {len(self._state_inputs)} state arrays, got {len(state)}")
        self._put_state(
            [
                np.array(value, dtype=np.float32).reshape(shape)
                for (_, shape), value in zip(self._state_inputs, state, strict=True)
            ]
        )

    def _put_state(self, values: list[np.ndarray]) -> None:
        for (index, _), value in zip(self._state_inputs, values, strict=True):
            self._interpreter.set_tensor(index, value)
        self._held = values

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one event; ``x`` is unscaled ``[dt, x1..xn]``. Returns the raw MDN output."""
        interpreter = self._interpreter
        np.multiply(x, SCALE, out=self._x_flat, casting="same_kind")
        interpreter.set_tensor(self._x_index, self._x)
        interpreter.invoke()
        get, put = interpreter.get_tensor, interpreter.set_tensor
        held = []
        for out_index, in_index in self._state_pairs:
            value = get(out_index)  # a copy: kept for ``state``
            put(in_index, value)
            held.append(value)
        self._held = held
        return get(self._mdn_index)[0]
