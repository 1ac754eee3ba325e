"""``.keras`` archives, fuzzed briefly on every run (``make fuzz`` runs the long one).

The target (``fuzz/keras_zip.py``) writes zips by hand around a real
model's entries so that every size, offset, method, flag, name and count can
lie, and checks that ``load_model`` either returns a model that steps or
raises one ``ModelError`` line naming the file, within a time and a peak
memory bound (a zip bomb must be refused from its directory, never
inflated). Inputs: the regression corpus in ``tests/fuzz_corpus/keras_zip``
(every input that once broke something: ``crash-*``, and the shapes worth
keeping: ``seed-*``) and operation lists Hypothesis builds, with
``derandomize=True`` so a red run is a real regression.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import keras_zip
from fuzz.harness import QuietLogging
from fuzz.run import corpus_files
from tests.fuzzing import repeatable, replay_corpus


@pytest.fixture(autouse=True)
def quiet_impsy_logger() -> Iterator[None]:
    with QuietLogging():
        yield


def test_regression_corpus_passes() -> None:
    replay_corpus("keras_zip", keras_zip.one_input)


def test_the_corpus_keeps_a_crash_for_each_defect_found() -> None:
    """The bombs and the damaged JSON of issue 17 (defects 1 and 6) stay in the corpus."""
    names = {path.name for path in corpus_files("keras_zip")}
    for kept in (
        "crash-zip-bomb-1gib-inflated-in-memory",
        "crash-zip-bomb-declaring-0-bytes-inflated-whole",
        "crash-config-nested-100000-deep-recursionerror",
        "crash-metadata-array-attributeerror",
    ):
        assert kept in names


# Four-byte operations on a real archive (how = 1), as the fuzzer's structured inputs.
OPERATION = st.tuples(
    st.integers(0, keras_zip.OPS - 1), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)
).map(bytes)


@repeatable(max_examples=60)
@given(seed=st.integers(0, 1), operations=st.lists(OPERATION, max_size=5))
def test_archives_rewritten_by_operations_load_or_fail_with_one_line(
    seed: int, operations: list[bytes]
) -> None:
    keras_zip.one_input(bytes([1, seed]) + b"".join(operations))


@repeatable(max_examples=40)
@given(seed=st.integers(0, 1), patches=st.binary(max_size=64))
def test_real_archives_with_bytes_overwritten_load_or_fail_with_one_line(
    seed: int, patches: bytes
) -> None:
    keras_zip.one_input(bytes([2, seed]) + patches)
