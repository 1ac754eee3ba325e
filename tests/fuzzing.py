"""What the short fuzz tests share: Hypothesis settings that repeat, and the corpus replay."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, settings

from fuzz.run import corpus_files


def repeatable(max_examples: int) -> settings:
    """The same inputs on every run (``derandomize``), so a red test is a real regression."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=max_examples,
        suppress_health_check=list(HealthCheck),
    )


def replay_corpus(target: str, one_input: Callable[[bytes], object]) -> None:
    """Every saved input of ``target`` (the ones that once broke something, among them)."""
    files = corpus_files(target)
    assert len(files) >= 5, f"tests/fuzz_corpus/{target} is missing"
    for path in files:
        one_input(path.read_bytes())
