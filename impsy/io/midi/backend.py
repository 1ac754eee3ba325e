"""RtMidi through whichever binding is installed, used so that it cannot deadlock.

This is the only module that imports a Python binding of RtMidi. Two are
supported, behind the small interface below (``Binding``, ``MidiIn``,
``MidiOut``: python-rtmidi's own method names, the subset impsy uses):

- **python-rtmidi** (``import rtmidi``), used wherever it is installed. It
  has wheels for Python 3.11 and 3.12; on newer Pythons it compiles, which
  needs a C++ compiler and the ALSA and JACK headers.
- **rtmidi2**, which has wheels for Python 3.11-3.14 on Linux x86_64, macOS
  and Windows; impsy's dependencies pick it on Python 3.13 and later. Its
  ports are wrapped here to look like python-rtmidi's. Two limits of its
  wheels: the libjack bundled in its Linux wheels (1.9.14) speaks JACK
  protocol 8 and cannot reach jackd2 1.9.17 or later (protocol 9: Debian
  12, Ubuntu 22.04 and newer), so on Linux use ALSA, RtMidi's default; and
  an RtMidi error inside its port calls aborts the process (its C++
  declarations do not translate exceptions), so the wrapper checks what
  can be checked first (``_RtMidi2Port``).

``IMPSY_MIDI_BINDING`` (``python-rtmidi`` or ``rtmidi2``) forces one, to
test the other binding on a machine that has both. A binding is imported
only when MIDI is used, so impsy starts without one when no ``[midi]``
section asks for it.

impsy talks to RtMidi directly rather than through mido's port classes
(mido's rtmidi backend is a thin layer over the same objects) for three
reasons:

- **Deadlocks.** Both bindings keep the GIL during every RtMidi call, and
  they run Python input callbacks on the backend's own thread: JACK's
  process thread, ALSA's input thread. Opening or closing any JACK port, or
  closing an ALSA input, waits for those threads; if one of them is waiting
  for the GIL to deliver a message at that moment, both wait forever
  (reproduced here with a controller sending while a port was opened: a
  hang on the 12th open). So impsy pauses its input callbacks around every
  open and close (``CallbackSlot``): RtMidi then queues messages in C
  without the GIL, and impsy drains the queue when the callbacks are back.
  mido's input ports always install a Python callback, which makes them
  unsafe in the same way.
- **Port lists.** mido opens a new RtMidi client (on JACK, a new JACK
  client) for every ``get_input_names()``; impsy keeps one scanner per
  direction, and a listing costs ~15 us on JACK, cheap enough to run on the
  event loop.
- **Raw bytes.** The codecs in ``impsy.mapping.midi`` work on byte tuples,
  which is what RtMidi delivers; mido messages are built only for realtime
  listeners.

The API comes from ``IMPSY_MIDI_API`` (``UNIX_JACK``, ``LINUX_ALSA``,
``MACOSX_CORE``, ``WINDOWS_MM``; or mido's spelling ``rtmidi/UNIX_JACK``; or
RtMidi's short names ``jack``, ``alsa``...); unset means RtMidi's default
(ALSA on Linux, CoreMIDI on macOS).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from impsy.errors import ImpsyError

API_ENV = "IMPSY_MIDI_API"
BINDING_ENV = "IMPSY_MIDI_BINDING"
CLIENT_NAME = "impsy"
# Messages RtMidi may queue while impsy's callbacks are paused (RtMidi's default is 100).
QUEUE_SIZE = 1024

# RtMidi's API numbers (RtMidi::Api). The first five have had these values in every
# RtMidi release, so they are the same in both bindings; the rest (dummy, web) differ.
API_UNSPECIFIED = 0
APIS = {"MACOSX_CORE": 1, "LINUX_ALSA": 2, "UNIX_JACK": 3, "WINDOWS_MM": 4}
SHORT_NAMES = {"CORE": 1, "ALSA": 2, "JACK": 3, "WINMM": 4}
"""RtMidi's short API names (``rtmidi_api_names``), upper case."""

Callback = Callable[[tuple[list[int], float], Any], None]
"""An input callback: ``callback((message, delta_time), data)``, as python-rtmidi calls it."""


class _Port(Protocol):
    """What an RtMidi input and output share, with python-rtmidi's method names."""

    def get_ports(self) -> list[str]: ...
    def get_current_api(self) -> int: ...
    def open_port(self, port: int, name: str) -> None: ...
    def open_virtual_port(self, name: str) -> None: ...
    def close_port(self) -> None: ...
    def delete(self) -> None: ...


class MidiIn(_Port, Protocol):
    """An RtMidi input with python-rtmidi's method names: what impsy calls on one."""

    def ignore_types(self, sysex: bool, timing: bool, active_sense: bool) -> None: ...
    def set_callback(self, func: Callback, data: Any = None) -> None: ...
    def cancel_callback(self) -> None: ...
    def get_message(self) -> tuple[list[int], float] | None: ...


class MidiOut(_Port, Protocol):
    """An RtMidi output with python-rtmidi's method names: what impsy calls on one."""

    def send_message(self, message: Sequence[int]) -> None: ...


MidiPort = MidiIn | MidiOut


class Binding(Protocol):
    """One Python binding of RtMidi, as impsy uses it."""

    name: str
    """The package's name on PyPI."""
    errors: tuple[type[Exception], ...]
    """What its port calls raise when RtMidi refuses."""

    def new_input(self, api: int) -> MidiIn: ...
    def new_output(self, api: int) -> MidiOut: ...
    def compiled_apis(self) -> list[int]: ...
    def callback_context(self, midi_in: MidiIn, func: Callback) -> object | None:
        """The object C holds as the installed callback's context (see ``CallbackSlot``)."""
        ...


# ------------------------------------------------------------- python-rtmidi
class _PythonRtMidi:
    """python-rtmidi: its MidiIn and MidiOut are used as they are."""

    name = "python-rtmidi"

    def __init__(self, module: Any) -> None:
        self._rtmidi = module
        self.errors = (module.RtMidiError,)

    def new_input(self, api: int) -> MidiIn:
        return self._rtmidi.MidiIn(rtapi=api, name=CLIENT_NAME, queue_size_limit=QUEUE_SIZE)

    def new_output(self, api: int) -> MidiOut:
        return self._rtmidi.MidiOut(rtapi=api, name=CLIENT_NAME)

    def compiled_apis(self) -> list[int]:
        return list(self._rtmidi.get_compiled_api())

    def callback_context(self, midi_in: MidiIn, func: Callback) -> object | None:
        """The ``(func, data)`` tuple python-rtmidi passed to C as the callback's context.

        python-rtmidi keeps the only reference to it; ``cancel_callback`` drops
        that reference, so a callback already waiting for the GIL on another
        thread would then read freed memory. Found through the GC (Cython's
        traverse lists an object's attributes); None if not found.
        """
        for referent in gc.get_referents(midi_in):
            if type(referent) is tuple and len(referent) == 2 and referent[0] is func:
                return referent
        return None


# ------------------------------------------------------------------- rtmidi2
RTMIDI2_APIS = {"linux": [2, 3], "darwin": [1], "win32": [4]}
"""What rtmidi2's wheels are built with (it has no ``get_compiled_api``)."""
# JACK refuses port names this long (jack_port_name_size() is 320 with the client's name).
LONGEST_PORT_NAME = 200
# RtMidi's warnings when a client cannot be made; rtmidi2 only prints them.
NOT_RUNNING = ("server not running", "error creating", "error initializing")


class _Delivery(NamedTuple):
    """rtmidi2's callback context: calls ``func((message, delta), data)`` like python-rtmidi."""

    func: Callback
    data: Any

    def __call__(self, message: list[int], delta: float) -> None:
        self.func((message, delta), self.data)


@contextlib.contextmanager
def capture_stderr() -> Iterator[list[str]]:
    """Collect what RtMidi writes to file descriptor 2 meanwhile (its only error channel).

    The lines are the caller's to report or drop; file descriptors belong to
    the whole process, so anything else written there meanwhile is collected
    too.
    """
    found: list[str] = []
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield found
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", "replace")
            found.extend(line.strip() for line in text.splitlines() if line.strip())


class _RtMidi2Port:
    """An rtmidi2 ``MidiIn`` or ``MidiOut`` with python-rtmidi's methods.

    rtmidi2 declares RtMidi's port calls without C++ exception translation,
    so an RtMidi error there ends the process. The only errors left once a
    client exists are a port name JACK refuses (too long) and a port number
    that vanished; both are checked here first, and a client that could not
    be made is an error when the object is made, as in python-rtmidi.
    """

    def __init__(self, port: Any) -> None:
        self._port = port
        self._callback: _Delivery | None = None
        if hasattr(port, "send_message"):
            self.send_message = port.send_message  # the hot path: no wrapper per message

    def get_ports(self) -> list[str]:
        return list(self._port.ports)

    def get_current_api(self) -> int:
        return int(self._port.get_current_api())

    def _check_name(self, name: str) -> None:
        if len(name.encode("ascii", "ignore")) > LONGEST_PORT_NAME:
            raise ValueError(f"port name longer than {LONGEST_PORT_NAME} characters: {name!r}")

    def open_port(self, port: int, name: str) -> None:
        # rtmidi2 cannot name impsy's end of the connection (RtMidi calls it "RtMidi ...").
        if not 0 <= port < len(self._port.ports):
            raise LookupError(port)
        self._port.open_port(port)

    def open_virtual_port(self, name: str) -> None:
        self._check_name(name)
        self._port.open_virtual_port(name)

    def close_port(self) -> None:
        self._port.close_port()

    def delete(self) -> None:
        """Free the RtMidi client now (rtmidi2 frees it when the object goes)."""
        port, self._port = self._port, None  # ours was the only reference to it
        if port is not None and self._callback is not None:
            port.callback = None
        self._callback = None

    def ignore_types(
        self, sysex: bool = True, timing: bool = True, active_sense: bool = True
    ) -> None:
        self._port.ignore_types(sysex, timing, active_sense)

    def set_callback(self, func: Callback, data: Any = None) -> None:
        self._callback = _Delivery(func, data)
        self._port.callback = self._callback

    def cancel_callback(self) -> None:
        self._port.callback = None
        self._callback = None

    def get_message(self) -> tuple[list[int], float] | None:
        message = self._port.get_message()
        return None if message is None else (message, self._port.deltatime)


class _RtMidi2:
    """rtmidi2, its ports wrapped in ``_RtMidi2Port``."""

    name = "rtmidi2"
    errors: tuple[type[Exception], ...] = (RuntimeError, ValueError)

    def __init__(self, module: Any) -> None:
        self._rtmidi2 = module

    def _made(self, make: Callable[[], Any]) -> _RtMidi2Port:
        with capture_stderr() as warnings:
            try:
                port = make()
            except RuntimeError as err:
                raise RuntimeError(str(err).strip()) from None
        failed = [line for line in warnings if any(text in line for text in NOT_RUNNING)]
        if failed:
            if any("protocol mismatch" in line for line in warnings):
                where = failed[-1].partition(": ")[0]
                raise RuntimeError(
                    f"{where}: JACK protocol mismatch: the libjack inside rtmidi2's wheel is "
                    "older than this JACK server; use ALSA (IMPSY_MIDI_API=LINUX_ALSA) or "
                    "install python-rtmidi (pip install 'impsy[midi]')"
                )
            raise RuntimeError(failed[-1])
        if warnings:  # not ours to judge: pass them on
            print("\n".join(warnings), file=sys.stderr)
        return _RtMidi2Port(port)

    def new_input(self, api: int) -> MidiIn:
        return self._made(lambda: self._rtmidi2.MidiIn(CLIENT_NAME, QUEUE_SIZE, api))

    def new_output(self, api: int) -> MidiOut:
        return self._made(lambda: self._rtmidi2.MidiOut(CLIENT_NAME, api))

    def compiled_apis(self) -> list[int]:
        return list(RTMIDI2_APIS.get(sys.platform, []))

    def callback_context(self, midi_in: MidiIn, func: Callback) -> object | None:
        installed = getattr(midi_in, "_callback", None)
        return installed if installed is not None and installed.func is func else None


# ------------------------------------------------------------- the choice
BINDINGS = ("python-rtmidi", "rtmidi2")


def _python_rtmidi() -> Binding | None:
    try:
        import rtmidi
    except ImportError:
        return None
    # "rtmidi" is also the import name of an unrelated, older package.
    return _PythonRtMidi(rtmidi) if hasattr(rtmidi, "get_compiled_api") else None


def _rtmidi2() -> Binding | None:
    try:
        import rtmidi2
    except ImportError:
        return None
    return _RtMidi2(rtmidi2)


@functools.cache
def _load(forced: str) -> Binding:
    loaders = {"python-rtmidi": _python_rtmidi, "rtmidi2": _rtmidi2}
    if forced:
        key = {"rtmidi": "python-rtmidi", "python_rtmidi": "python-rtmidi"}.get(forced, forced)
        if key not in loaders:
            raise ImpsyError(
                f"{BINDING_ENV}={forced!r} is not a MIDI binding; expected one of "
                f"{', '.join(BINDINGS)}, or leave it unset to use whichever is installed"
            )
        chosen = loaders[key]()
        if chosen is None:
            raise ImpsyError(
                f"{BINDING_ENV}={forced}, but {key} is not installed: pip install {key}, "
                f"or unset {BINDING_ENV}"
            )
        return chosen
    for load in loaders.values():
        chosen = load()
        if chosen is not None:
            return chosen
    raise ImpsyError(
        "[midi] needs python-rtmidi or rtmidi2, and neither is installed: pip install rtmidi2 "
        "(wheels for Python 3.11-3.14 on Linux x86_64, macOS and Windows), else pip install "
        "python-rtmidi (it compiles where it has no wheel: a C++ compiler and the ALSA headers)"
    )


def binding() -> Binding:
    """The RtMidi binding: ``$IMPSY_MIDI_BINDING``, else python-rtmidi, else rtmidi2.

    Raises ``ImpsyError`` (one line, saying what to install) when there is none.
    """
    return _load(os.environ.get(BINDING_ENV, "").strip().lower())


def _api_names() -> dict[str, int]:
    """Every spelling of every API, upper case."""
    return {**APIS, **SHORT_NAMES}


def api_label(api: int) -> str:
    """``UNIX_JACK``-style name of an API constant, as ``IMPSY_MIDI_API`` spells it."""
    for label, value in APIS.items():
        if value == api:
            return label
    return "UNSPECIFIED" if api == API_UNSPECIFIED else str(api)


def selected_api(value: str | None = None) -> int:
    """The RtMidi API to use: ``value``, else ``$IMPSY_MIDI_API``, else RtMidi's default.

    An API that the binding was not built with is an error: RtMidi itself
    would print a warning and silently use another one.
    """
    if value is None:
        value = os.environ.get(API_ENV, "")
    spelled = value.strip()
    if not spelled:
        return API_UNSPECIFIED
    key = spelled.upper().removeprefix("RTMIDI/").removeprefix("API_")
    chosen = binding()
    compiled = chosen.compiled_apis()
    choices = ", ".join(api_label(api) for api in compiled)
    api = _api_names().get(key)
    if api is None:
        raise ImpsyError(f"{API_ENV}={spelled!r} is not a MIDI API; expected one of {choices}")
    if api not in compiled:
        raise ImpsyError(
            f"{API_ENV}={spelled!r}: this {chosen.name} has no {api_label(api)} support; "
            f"expected one of {choices}"
        )
    return api


def midi_errors() -> tuple[type[Exception], ...]:
    """What the binding's port calls raise when RtMidi refuses (for ``except``)."""
    return binding().errors


def new_input(api: int) -> MidiIn:
    """A new input (on JACK, a new client) of the chosen binding."""
    return binding().new_input(api)


def new_output(api: int) -> MidiOut:
    """A new output (on JACK, a new client) of the chosen binding."""
    return binding().new_output(api)


def open_port(port: MidiPort, device: str | None, port_name: str) -> None:
    """Connect ``port`` to the system port named ``device``, or make it virtual if None.

    Raises ``LookupError`` when ``device`` is gone (lists change between a
    scan and an open) and one of ``midi_errors()`` when the backend refuses.
    """
    if device is None:
        port.open_virtual_port(port_name)
        return
    names = port.get_ports()
    if device not in names:
        raise LookupError(device)
    port.open_port(names.index(device), port_name)


def dispose(port: MidiPort | None) -> None:
    """Close a port and free its RtMidi client (on JACK, the JACK client)."""
    if port is None:
        return
    try:
        port.close_port()
    finally:
        port.delete()


class CallbackSlot:
    """A MidiIn's Python callback, which can be paused for opens and closes.

    While paused, RtMidi queues incoming messages itself, without Python, so
    no backend thread waits for the GIL; ``resume`` returns what was queued
    meanwhile, oldest first.

    The binding keeps the only reference to the callback's context, and
    cancelling drops it, so a callback already waiting for the GIL on
    another thread would then read freed memory. Holding our own reference
    until the GIL has been released for a while (``settle``) prevents that.
    """

    def __init__(self, midi_in: MidiIn, func: Callback, data: Any) -> None:
        self.midi_in = midi_in
        self._func = func
        self._data = data
        self._context: object | None = None
        self._retired: list[object] = []
        self.armed = False

    def arm(self) -> None:
        self.midi_in.set_callback(self._func, self._data)
        self._context = binding().callback_context(self.midi_in, self._func)
        self.armed = True

    def pause(self) -> None:
        """Stop Python callbacks; call ``settle`` once the GIL has been free for a moment."""
        if not self.armed:
            return
        if self._context is not None:
            self._retired.append(self._context)
        self.midi_in.cancel_callback()
        self.armed = False

    def settle(self) -> None:
        """Forget old callback contexts: any callback that was in flight has finished."""
        self._retired.clear()

    def resume(self) -> list[tuple[list[int], float]]:
        """Re-install the callback; returns the messages RtMidi queued while paused.

        The queue is drained before the callback goes back (RtMidi refuses
        to read it while one is installed), so a message landing in the
        nanoseconds between the two waits there until the next pause.
        """
        queued = []
        while (event := self.midi_in.get_message()) is not None:
            queued.append(event)
        self.arm()
        return queued
