"""IMPSY 1.2.1's behavioural contract, checked case by case against impsy's own code."""

from impsy.conformance.runner import (
    HANDLERS,
    CaseResult,
    ConformanceError,
    first_difference,
    run_file,
    run_spec,
    vector_files,
)

__all__ = [
    "HANDLERS",
    "CaseResult",
    "ConformanceError",
    "first_difference",
    "run_file",
    "run_spec",
    "vector_files",
]
