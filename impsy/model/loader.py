"""``load_model``: from a file name to a ready :class:`MDRNN`, never touching TensorFlow.

``.h5`` and ``.keras`` files are read with h5py and run by the NumPy engine;
``.tflite`` files are run by LiteRT (``ai_edge_litert``, the ``litert``
extra). The weights in a sibling ``.h5``/``.weights.h5``/``.keras`` of the
same name are run by the NumPy engine instead when LiteRT cannot run the
``.tflite``:

- LiteRT is not installed: it is optional, because it has no wheels for
  some platforms and Pythons and the NumPy engine needs none (impsy's own
  ``train``/``convert`` always write the ``.keras`` next to the ``.tflite``);
- the file needs TensorFlow's Flex ops (IMPSY's 2024 dim-2/dim-4 files),
  which LiteRT lacks; this one is a warning.

Without either, the error says which is missing and what to do. Unlike
IMPSY, nothing is ever written back over the user's files.

The default model ships inside the package (``impsy/data/models``):
``packaged_model`` finds it by file name, for ``impsy run`` anywhere and for
``impsy init`` to copy.

``check_model_file`` loads a file in a separate Python process with a memory,
CPU and time limit, for files that arrive while a performance plays (the web
UI's uploads and hot-swaps): whatever a hostile file does to h5py, HDF5 or
LiteRT (a crash, a hang, gigabytes of allocation), it does there, and the
performing process only loads the file once it is known to load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from importlib.resources import files
from pathlib import Path

from impsy.model.errors import ModelError, ModelWarning
from impsy.model.gate import GATES, resolve_gate
from impsy.model.limits import CHECK_MEMORY_BYTES, CHECK_SECONDS, CHECKS_AT_ONCE
from impsy.model.mdrnn import MDRNN
from impsy.model.weights import MDRNNWeights, check_finite

ENGINES = ("auto", "numpy", "litert")
WEIGHT_SUFFIXES = (".h5", ".keras")
LITERT_INSTALL = "pip install ai-edge-litert (or impsy[litert])"


def packaged_models() -> Path:
    """The folder of the models shipped inside the package (the bundled default)."""
    return Path(str(files("impsy").joinpath("data", "models")))


def packaged_model(name: str) -> Path | None:
    """The packaged model file called ``name`` (a bare file name), or None if impsy ships none."""
    if not name or Path(name).name != name:
        return None
    path = packaged_models() / name
    return path if path.is_file() else None


def packaged_model_files(name: str) -> list[Path]:
    """The packaged ``name`` and every file beside it with its stem (what the engines read)."""
    path = packaged_model(name)
    if path is None:
        return []
    return sorted(p for p in path.parent.iterdir() if p.is_file() and p.stem == path.stem)


def _read_weights(path: Path) -> MDRNNWeights:
    from impsy.model.formats import read_h5, read_keras  # h5py only when a file needs it

    return read_keras(path) if path.suffix.lower() == ".keras" else read_h5(path)


def sibling_weights(path: Path) -> Path | None:
    """The first of ``NAME.h5``, ``NAME.weights.h5``, ``NAME.keras`` next to ``NAME.tflite``."""
    for name in (f"{path.stem}.h5", f"{path.stem}.weights.h5", f"{path.stem}.keras"):
        candidate = path.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def _numpy_model(
    path: Path,
    weights_path: Path,
    gate: str,
    seed: int | None,
    expected: tuple[int, int, int] | None = None,
    reason: str | None = None,
) -> MDRNN:
    """``weights_path`` on the NumPy engine; ``path`` is the file it stands for.

    ``reason``, when given, is why ``gate`` was chosen (it is then used as it is).
    """
    from impsy.model.numpy_engine import NumpyEngine

    weights = _read_weights(weights_path)
    check_finite(weights, str(weights_path))
    found = (weights.dimension, weights.units, weights.layers)
    if expected is not None and found != expected:
        raise ModelError(
            f"{weights_path} holds a model of dimension {found[0]}, {found[1]} units x "
            f"{found[2]} layers, but {path.name} is dimension {expected[0]}, {expected[1]} "
            f"units x {expected[2]} layers, so it cannot stand in for it"
        )
    if reason is None:
        chosen, reason = resolve_gate(gate, weights.provenance, str(weights_path))
    else:
        chosen = gate
    engine = NumpyEngine(weights, chosen)
    return MDRNN(engine, path, seed=seed, gate_reason=reason, weights_path=weights_path)


def _tflite_model(path: Path, engine: str, gate: str, seed: int | None) -> MDRNN:
    from impsy.model.litert_engine import FlexOpsRequired, LiteRTEngine, litert_available

    if engine == "numpy":
        raise ModelError(
            f"{path}: the numpy engine runs .h5/.keras weights; load the model's .h5 or .keras "
            "file instead, or use engine 'litert' for a .tflite"
        )
    if gate not in ("auto", *GATES):
        raise ModelError(f"unknown gate {gate!r}: use 'auto', 'sigmoid' or 'hard_sigmoid'")
    if not litert_available():
        return _without_litert(path, engine, gate, seed)
    try:
        litert = LiteRTEngine(path)
    except FlexOpsRequired as err:
        fallback = sibling_weights(path)
        if fallback is None:
            raise ModelError(
                f"{err}, and there is no {path.stem}.h5, .weights.h5 or .keras beside it to run "
                "instead: put the model's weights next to it, or reconvert it with builtin ops only"
            ) from None
        model = _numpy_model(path, fallback, gate, seed, expected=err.sizes)
        warnings.warn(
            f"{path.name} needs TensorFlow Flex ops that LiteRT cannot run; running the weights "
            f"in {fallback.name} with the numpy engine instead ({model.gate} gate)",
            ModelWarning,
            stacklevel=3,
        )
        return model
    if gate == "hard_sigmoid":
        raise ModelError(
            f"{path}: a .tflite runs the gate it was converted with ({litert.gate}); "
            "load the .h5 or .keras weights to choose the gate"
        )
    return MDRNN(litert, path, seed=seed, gate_reason="as converted")


def _without_litert(path: Path, engine: str, gate: str, seed: int | None) -> MDRNN:
    """A ``.tflite`` when LiteRT is not installed: its sibling weights on the NumPy engine."""
    if engine == "litert":
        raise ModelError(
            f"{path}: engine 'litert' needs LiteRT, which is not installed: {LITERT_INSTALL}, "
            "or use engine 'auto' to run the model's .keras/.h5 weights with the numpy engine"
        )
    if gate == "hard_sigmoid":
        raise ModelError(
            f"{path}: a .tflite runs the gate it was converted with (sigmoid); "
            "load the .h5 or .keras weights to choose the gate"
        )
    fallback = sibling_weights(path)
    if fallback is None:
        raise ModelError(
            f"{path}: running a .tflite needs LiteRT, which is not installed, and there is no "
            f"{path.stem}.h5, .weights.h5 or .keras beside it for the numpy engine: "
            f"{LITERT_INSTALL}, or put the model's weights next to it"
        )
    # The .tflite's own gate (IMPSY and impsy convert with sigmoid), so a model plays the
    # same with LiteRT or without it, even for Keras 2 weights that "auto" would run with
    # hard_sigmoid.
    return _numpy_model(
        path, fallback, "sigmoid", seed, reason="as the .tflite was converted; LiteRT not installed"
    )


def load_model(
    path: str | Path, engine: str = "auto", gate: str = "auto", seed: int | None = None
) -> MDRNN:
    """Load an MDRNN from a ``.tflite``, ``.keras`` or ``.h5`` file.

    ``engine``: ``"auto"`` (LiteRT for ``.tflite`` when it is installed, else the
    sibling weights on NumPy; NumPy otherwise), ``"numpy"`` or ``"litert"``.
    ``gate``: ``"auto"`` (see :mod:`impsy.model.gate`), ``"sigmoid"`` or
    ``"hard_sigmoid"``. ``seed`` seeds the sampling generator.
    Raises :class:`ModelError` for anything wrong with the file or the choices.
    """
    path = Path(path)
    if engine not in ENGINES:
        raise ModelError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return _tflite_model(path, engine, gate, seed)
    if suffix in WEIGHT_SUFFIXES:
        if engine == "litert":
            raise ModelError(
                f"{path}: the litert engine runs .tflite files; use engine 'numpy' or 'auto'"
            )
        return _numpy_model(path, path, gate, seed)
    raise ModelError(
        f"{path}: unknown model file type {path.suffix or '(none)'}; "
        "impsy reads .tflite, .keras and .h5"
    )


_CHECKS = threading.BoundedSemaphore(CHECKS_AT_ONCE)
"""Held while a checking process runs: a burst of uploads waits its turn."""
_CHILD = "from impsy.model.loader import _check_child; _check_child()"


def check_model_file(
    path: str | Path,
    engine: str = "auto",
    gate: str = "auto",
    seconds: float = CHECK_SECONDS,
    memory: int = CHECK_MEMORY_BYTES,
) -> int:
    """Load ``path`` (and step it once) in a separate, limited process; its dimension.

    The child has at most ``memory`` bytes of address space and ``seconds``
    of CPU and wall time, runs at low priority, and reports one line of JSON.
    Raises :class:`ModelError` with the child's message when the file does not
    load, and says so when the child ran out of memory or time, or crashed.
    Blocking: call it from a worker thread in async code.
    """
    path = Path(path)
    command = [sys.executable, "-P", "-c", _CHILD, str(path), engine, gate, str(memory)]
    command.append(str(max(1, int(seconds))))
    environment = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # glibc reserves 64 MiB of address space per thread's malloc arena: with LiteRT's
        # threads on a many-core machine that alone would approach the memory limit.
        "MALLOC_ARENA_MAX": "2",
    }
    with _CHECKS:
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # LiteRT's and HDF5's chatter; the verdict is stdout
                env=environment,
                timeout=seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ModelError(
                f"{path}: loading it took longer than {seconds:g} s; impsy gave up"
            ) from None
        except OSError as err:
            raise ModelError(f"{path}: could not start a process to check it ({err})") from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        verdict = json.loads(lines[-1]) if lines else None
    except ValueError:
        verdict = None
    if isinstance(verdict, dict) and isinstance(verdict.get("error"), str):
        raise ModelError(verdict["error"])
    if done.returncode == 0 and isinstance(verdict, dict):
        dimension = verdict.get("dimension")
        if isinstance(dimension, int):
            return dimension
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit status {done.returncode}"
    raise ModelError(
        f"{path}: loading it failed in the checking process ({how}; it may need more than "
        f"{memory // (1024 * 1024)} MiB or {seconds:g} s of CPU)"
    )


def _limit_this_process(memory: int, seconds: int) -> None:
    """Address space, CPU time and priority limits for the checking process (POSIX)."""
    try:
        import resource
    except ImportError:  # Windows: only the parent's timeout applies
        return
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, seconds)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # a hard limit already lower: keep it
            pass
    try:
        os.nice(10)
    except OSError:
        pass


def _check_child() -> None:
    """The checking process: ``-c`` arguments PATH ENGINE GATE MEMORY SECONDS; one JSON line."""
    import numpy as np

    path, engine, gate, memory, seconds = sys.argv[1:6]
    _limit_this_process(int(memory), int(seconds))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = load_model(path, engine=engine, gate=gate, seed=0)
            model.step(np.zeros(model.dimension, dtype=np.float32))
        verdict: dict[str, object] = {"dimension": model.dimension}
    except ModelError as err:
        verdict = {"error": str(err)}
    except MemoryError:
        verdict = {"error": f"{path}: loading it needs more than {int(memory) >> 20} MiB of memory"}
    except Exception as err:  # noqa: BLE001 - a bug's reason beats "exit status 1" for an upload
        verdict = {"error": f"{path}: loading it failed ({type(err).__name__}: {err})"}
    print(json.dumps(verdict), flush=True)
