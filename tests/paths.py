"""Where the tests find the repository's files, wherever a test module sits."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository root."""
DATA = ROOT / "tests" / "data"
SPEC = ROOT / "tests" / "conformance" / "impsy-1.2.1"
"""IMPSY 1.2.1's conformance vectors."""
MODELS = ROOT / "models"
BENCHMARKS = ROOT / "benchmarks"
