"""Rewrite the parts of the docs that are made from the command table.

    .venv/bin/python docs/generate.py          # rewrite them
    .venv/bin/python docs/generate.py --check  # exit 1 if one is out of date

Each target file holds its generated part between two marker lines; the
rest of the file is written by hand. ``tests/test_reference.py`` runs the
check, so a command added, renamed or changed without regenerating fails CI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN = "<!-- generated from the command table by docs/generate.py: begin -->"
END = "<!-- generated from the command table by docs/generate.py: end -->"


def targets() -> dict[Path, Callable[[], str]]:
    """Each file with a generated part, and what that part is."""
    from impsy.app import every_command
    from impsy.engine import reference

    return {
        ROOT / "docs" / "commands.md": lambda: reference.markdown(every_command()),
        ROOT / "impsy" / "web" / "API.md": lambda: reference.markdown(every_command(), ""),
    }


def regenerate(text: str, body: str, where: Path) -> str:
    """``text`` with what stands between the markers replaced by ``body``."""
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"{where}: no generated part (the marker lines are missing)") from None
    return f"{head}{BEGIN}\n\n{body}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, body in targets().items():
        text = path.read_text(encoding="utf-8")
        fresh = regenerate(text, body(), path)
        if fresh == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(fresh, encoding="utf-8")
    verb = "out of date" if args.check else "rewritten"
    for path in stale:
        print(f"{path.relative_to(ROOT)}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
