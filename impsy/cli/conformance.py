"""``impsy conformance SPEC_DIR``: check impsy against IMPSY's conformance vectors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from impsy.cli.errors import user_errors


@click.command(name="conformance")
@click.argument("spec_dir", type=click.Path(path_type=Path))
@user_errors
def conformance(spec_dir: Path) -> None:
    """Run every case in SPEC_DIR/vectors/*.json and report PASS/FAIL per case.

    Exits 0 only when at least one case ran and none failed, so CI can gate
    on it; a missing directory, an unreadable or unknown vector file, or any
    difference from the expected results exits non-zero.
    """
    from impsy.conformance.runner import run_spec

    passed = failed = 0
    for result in run_spec(spec_dir):
        label = f"{result.file}:{result.case}"
        if result.passed:
            passed += 1
            click.secho(f"PASS {label}", fg="green")
        else:
            failed += 1
            click.secho(f"FAIL {label}: {result.detail}", fg="red")
    click.echo(f"{passed} passed, {failed} failed")
    if passed + failed == 0:
        click.secho("error: no conformance cases ran", fg="red", err=True)
    if failed or not passed:
        sys.exit(1)
