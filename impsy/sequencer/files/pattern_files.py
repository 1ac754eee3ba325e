"""The files that commands name: bare names in the patterns folder, MIDI work off the loop.

``PatternFiles`` is what ``seq/save``, ``seq/load``, ``seq/export_midi`` and
``seq/import_midi`` run: it owns the bank file (``[sequencer] patterns``) and
the patterns folder beside it. Anyone who can send OSC (or reach the web UI)
can send a file name, so a command never takes a path: only a bare name with
an allowed extension, looked up in that one folder (``named_file``). Reading
and writing MIDI files goes through mido, which takes milliseconds for a big
pattern (tens the first time, while mido loads), so it runs in a worker
thread (``Background``) on a copy of the patterns, and only the result comes
back to the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from impsy.engine.table import Pending
from impsy.errors import CommandError
from impsy.sequencer.files.storage import BankFileError, load_bank, save_bank
from impsy.sequencer.pattern import Bank, Pattern

if TYPE_CHECKING:
    from impsy.sequencer.sequencer import Sequencer

log = logging.getLogger("impsy")

PATTERNS_FOLDER = "patterns"
"""Where file names from commands go when ``[sequencer] patterns`` is not set."""
BANK_EXTENSIONS = (".json", ".toml")
MIDI_EXTENSIONS = (".mid", ".midi")
MAX_MIDI_BYTES = 1 << 20
"""A pattern's MIDI file is a few kB; a file this big is not one."""


def named_file(folder: Path, name: Any, extensions: tuple[str, ...], write: bool = False) -> Path:
    """``name`` as a file in ``folder``, or CommandError saying why not.

    Refused: anything but a non-empty string; a folder separator, a leading
    dot (so no ``..`` and no hidden files), control characters; another
    extension; a link that leads out of ``folder``; a folder. ``write``
    creates ``folder`` when it is missing.
    """
    if not isinstance(name, str) or not name:
        raise CommandError(f"expected a file name, got {name!r}")
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or len(name) > 255
        or any(ord(c) < 32 for c in name)
    ):
        raise CommandError(
            f"{name!r}: give a bare file name (no folders, no leading dot); "
            f"files are kept in {folder}/"
        )
    if not name.lower().endswith(extensions):
        raise CommandError(f"{name!r}: expected a {' or '.join(extensions)} file")
    target = folder / name
    if write:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CommandError(f"{folder}: cannot create: {err.strerror or err}") from None
    if target.is_symlink() or target.exists():
        if target.resolve().parent != folder.resolve():
            raise CommandError(f"{target}: links out of {folder}/; not following it")
        if target.is_dir():
            raise CommandError(f"{target} is a folder")
    return target


def midi_size_check(source: Path) -> None:
    """CommandError when ``source`` cannot be read or is too big to be a pattern."""
    try:
        size = source.stat().st_size
    except OSError as err:
        raise CommandError(f"{source}: cannot read: {err.strerror or err}") from None
    if size > MAX_MIDI_BYTES:
        raise CommandError(f"{source}: {size} bytes is too big for a pattern's MIDI file")


def write_midi(patterns: list[Pattern], tempo: float, title: str, target: Path) -> Path:
    """(Worker thread.) ``patterns`` in order as one SMF; never half a file at ``target``."""
    from impsy.sequencer.files.smf import song_to_midi

    midi = song_to_midi(patterns, tempo, name=title)
    partial = target.with_name(target.name + ".partial")
    try:
        midi.save(partial)
        partial.replace(target)
    except OSError as err:
        raise CommandError(f"{target}: cannot write: {err.strerror or err}") from None
    return target


def read_midi(source: Path) -> Pattern:
    """(Worker thread.) A pattern from a MIDI file; CommandError when it is not one."""
    from impsy.sequencer.files.smf import SmfError, load_pattern

    try:
        return load_pattern(source)
    except SmfError as err:
        raise CommandError(str(err)) from None


class Background:
    """File work in a worker thread; its result handed to ``then`` on the loop.

    A failure (a file that is not MIDI, a full disk) comes after the command
    has returned, so it goes to ``report(reason, detail)`` (the engine's
    bad input count and rate-limited warning), and to whoever sent the
    command through the ``Pending`` outcome ``run`` returns (OSC replies to
    the sender, the web API answers), whatever the warning rate limit. Without
    a running loop (a script) the work runs at once and raises.
    """

    def __init__(self, report: Callable[[str, str], None]) -> None:
        self.report = report
        self._pending: set[asyncio.Future[Any]] = set()

    def run(
        self,
        reason: str,
        work: Callable[..., Any],
        *args: Any,
        then: Callable[[Any], object] | None = None,
    ) -> Pending | object:
        """Start ``work(*args)``; the outcome is what ``then`` returns (or the work's result)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            result = work(*args)
            return then(result) if then is not None else result
        future = loop.run_in_executor(None, work, *args)
        outcome: asyncio.Future[object] = loop.create_future()
        self._pending.add(future)

        def finished(done: asyncio.Future[Any]) -> None:
            self._pending.discard(done)
            try:
                result = done.result()
                outcome.set_result(then(result) if then is not None else result)
            except CommandError as err:
                self.report(reason, str(err))
                outcome.set_exception(CommandError(f"{reason}: {err}"))
            except Exception as err:  # a bug must not go unseen, nor stop the music
                log.exception("sequencer: %s failed", reason)
                self.report(reason, f"{type(err).__name__}: {err}")
                outcome.set_exception(CommandError(f"{reason}: {type(err).__name__}: {err}"))

        future.add_done_callback(finished)
        return Pending(outcome)

    async def drain(self) -> None:
        """Wait for the work under way (at stop: no half-written files)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
            await asyncio.sleep(0)  # let the done callbacks run


def startup_bank(path: Path | None, empty: Bank) -> Bank:
    """The bank in ``path`` when there is one; else (or when it cannot be read) ``empty``."""
    if path is None or not path.exists():
        return empty
    try:
        return load_bank(path)
    except BankFileError as err:
        log.warning("sequencer: %s; starting with an empty pattern", err)
        return empty


class PatternFiles:
    """The sequencer's bank file and patterns folder, as the file commands see them.

    ``report(reason, detail)`` hears of MIDI work that failed after its
    command returned (see ``Background``); ``loaded()`` runs after a bank or
    a pattern joined the sequencer, so the ports its tracks name are opened.
    """

    def __init__(
        self,
        sequencer: Sequencer,
        bank_path: Path | None,
        report: Callable[[str, str], None],
        loaded: Callable[[], None],
    ) -> None:
        self.sequencer = sequencer
        self.bank_path = bank_path
        self.loaded = loaded
        self._work = Background(report)

    @property
    def folder(self) -> Path:
        """Where commands' file names live: the bank file's folder, else ``./patterns``."""
        return self.bank_path.parent if self.bank_path is not None else Path(PATTERNS_FOLDER)

    def named_file(self, name: Any, extensions: tuple[str, ...], write: bool = False) -> Path:
        """A file name from a command, as a path in ``folder`` (see ``named_file``)."""
        return named_file(self.folder, name, extensions, write)

    def save_named(self, name: str | None) -> Path:
        """``seq/save``: the bank file, or ``name`` in the patterns folder.

        An existing file there is only replaced when it is a bank: whatever
        folder the bank lives in, a command cannot overwrite another file
        (a ``config.toml`` beside it, say).
        """
        if name is None:
            return self.save()
        target = self.named_file(name, BANK_EXTENSIONS, write=True)
        if target.exists() and target != self.bank_path:
            try:
                load_bank(target)
            except BankFileError:
                raise CommandError(
                    f"{target} exists and is not a pattern bank; not overwriting it"
                ) from None
        return self.save(str(target))

    def load_named(self, name: str | None) -> None:
        """``seq/load``: the bank file, or ``name`` in the patterns folder."""
        self.load(None if name is None else str(self.named_file(name, BANK_EXTENSIONS)))

    def save(self, path: str | None = None) -> Path:
        """The bank to ``path`` (any path: for code, not commands), else to the bank file."""
        target = self._bank_file(path)
        try:
            saved = save_bank(self.sequencer.bank, target)
        except BankFileError as err:
            raise CommandError(str(err)) from None
        log.info("sequencer: saved %s", saved)
        return saved

    def load(self, path: str | None = None) -> None:
        """The bank in ``path`` (any path: for code, not commands), else in the bank file."""
        target = self._bank_file(path)
        try:
            bank = load_bank(target)
        except BankFileError as err:
            raise CommandError(str(err)) from None
        self.sequencer.load_bank(bank)
        self.loaded()
        log.info("sequencer: loaded %s", target)

    def _bank_file(self, path: str | None) -> Path:
        target = Path(path).expanduser() if path else self.bank_path
        if target is None:
            raise CommandError("no file: set [sequencer] patterns or give a path")
        return target

    def export_midi(self, name: str) -> Pending | object:
        """``seq/export_midi``: the song when one is set, else the current pattern, as SMF.

        Written in a worker thread from a copy taken now; the outcome is the path written.
        """
        target = self.named_file(name, MIDI_EXTENSIONS, write=True)
        seq = self.sequencer
        if seq.bank.song:
            copies = {i: seq.bank.patterns[i].copy() for i in set(seq.bank.song)}
            patterns, title = [copies[i] for i in seq.bank.song], "song"
        else:
            patterns, title = [seq.pattern.copy()], seq.pattern.name

        def written(path: Path) -> str:
            log.info("sequencer: exported %s", path)
            return str(path)

        return self._work.run(
            "cannot export a MIDI file",
            write_midi,
            patterns,
            seq.tempo,
            title,
            target,
            then=written,
        )

    def import_midi(self, name: str) -> Pending | object:
        """``seq/import_midi``: a MIDI file becomes a new pattern, appended and selected.

        Read in a worker thread; the pattern joins the bank when it is ready, and
        the outcome is its index.
        """
        source = self.named_file(name, MIDI_EXTENSIONS)
        midi_size_check(source)

        def add(pattern: Pattern) -> int:
            index = self.sequencer.add_pattern(pattern)
            self.loaded()
            log.info("sequencer: imported %s as pattern %d", source, index)
            return index

        return self._work.run("cannot import a MIDI file", read_midi, source, then=add)

    async def drain(self) -> None:
        """Wait for the MIDI files being read or written (at stop: no half-written files)."""
        await self._work.drain()
