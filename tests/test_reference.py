"""What people read about the commands agrees with the command table.

The reference in ``docs/commands.md`` and the web API's command list are
generated from the rows (``docs/generate.py``); the Pure Data patches are
written by hand, so their messages are checked against the rows here (and
sent to a real impsy by ``tests/system/test_pd_patches.py``).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

from impsy.app import every_command
from impsy.engine.commands import ENGINE_COMMANDS
from impsy.engine.table import STR, CommandTable
from tests.paths import ROOT

PATCHES = ROOT / "examples" / "pd"
PD_ONLY = {"connect", "disconnect", "listen", "set", "send"}


def _generator():  # noqa: ANN202 - the docs/generate.py module
    spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_references_are_up_to_date():
    generate = _generator()
    for path, body in generate.targets().items():
        text = path.read_text(encoding="utf-8")
        assert generate.regenerate(text, body(), path) == text, (
            f"{path.relative_to(ROOT)} is out of date: run `.venv/bin/python docs/generate.py`"
        )


def test_the_generator_rewrites_only_between_its_markers(tmp_path):
    generate = _generator()
    page = f"hand-written\n{generate.BEGIN}\nold\n{generate.END}\nalso hand-written\n"
    fresh = generate.regenerate(page, "| new |\n", tmp_path)
    assert (
        fresh == f"hand-written\n{generate.BEGIN}\n\n| new |\n\n{generate.END}\nalso hand-written\n"
    )


def test_the_reference_lists_every_row_and_every_older_spelling():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    for command in every_command():
        assert f"| `/impsy/{command.name}` |" in text
        for alias in command.aliases:
            assert f"`{alias}`" in text


def test_impsy_commands_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "impsy", "commands"], capture_output=True, text=True, check=True
    ).stdout
    names = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert names == [command.name for command in every_command()]


def _messages(patch: str) -> list[list[str]]:
    """The message boxes of a patch, as words, without Pd's own plumbing."""
    text = (PATCHES / patch).read_text(encoding="utf-8")
    boxes = re.findall(r"^#X msg \d+ \d+ (.+?);$", text, re.MULTILINE)
    words = [box.split() for box in boxes]
    # not for impsy: Pd's own messages, a "\; receiver ..." box, a bare number list
    return [box for box in words if box and box[0] not in PD_ONLY and box[0][0].isalpha()]


def _table() -> CommandTable:
    table = CommandTable()
    table.register(every_command(), None)
    return table


def _accepts(table: CommandTable, name: str, words: list[str]) -> None:
    """``name words...`` as Pd sends it is a row whose arguments fit (``$1``: a number)."""
    command = table.find(name)
    assert command is not None, f"{name}: not a command"
    many = any(arg.many for arg in command.args)
    assert many or len(words) <= len(command.args), f"{name}: too many arguments {words}"
    required = [arg for arg in command.args if not (arg.optional or arg.many)]
    assert len(words) >= len(required), f"{name}: needs {[arg.name for arg in required]}"
    for word, arg in zip(words, command.args, strict=False):
        if word.startswith("\\$"):
            assert arg.kind != STR, f"{name} {arg.name}: Pd sends a number there"
            continue
        try:
            value: object = float(word)
        except ValueError:
            value = word
        arg.convert(value, name)  # raises CommandError if the row refuses it


def test_the_command_panel_sends_every_engine_command_and_only_rows():
    table = _table()
    sent = {}
    for words in _messages("impsy-commands.pd"):
        sent[words[0]] = words[1:]
        _accepts(table, words[0], words[1:])
    assert set(sent) == {command.name for command in ENGINE_COMMANDS}
    text = (PATCHES / "impsy-commands.pd").read_text(encoding="utf-8")
    says = text[text.index("SENDS:") : text.index("RECEIVES:")]
    for command in ENGINE_COMMANDS:
        assert f"/impsy/{command.name}" in says, f"the patch's SENDS comment misses {command.name}"


def test_the_sequencer_patch_sends_only_sequencer_rows():
    table = _table()
    for words in _messages("impsy-sequencer.pd"):
        _accepts(table, f"seq/{words[0]}", words[1:])
    text = (PATCHES / "impsy-sequencer.pd").read_text(encoding="utf-8")
    says = text[text.index("SENDS:") : text.index("over UDP")]
    for name in re.findall(r"[a-z_]+", says.replace("/impsy/seq/", "")):
        if name not in ("sends",):
            assert table.find(f"seq/{name}") is not None, f"the SENDS comment names seq/{name}"
