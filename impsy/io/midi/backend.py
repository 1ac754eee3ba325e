"""python-rtmidi, used so that it cannot deadlock: the API, port lists, ports, callbacks.

impsy talks to python-rtmidi directly rather than through mido's port
classes (mido's rtmidi backend is a thin layer over the same objects) for
three reasons:

- **Deadlocks.** python-rtmidi keeps the GIL during every RtMidi call, and
  it runs Python input callbacks on the backend's own thread: JACK's process
  thread, ALSA's input thread. Opening or closing any JACK port, or closing
  an ALSA input, waits for those threads; if one of them is waiting for the
  GIL to deliver a message at that moment, both wait forever (reproduced here
  with a controller sending while a port was opened: a hang on the 12th
  open). So impsy pauses its input callbacks around every open and close
  (``CallbackSlot``): RtMidi then queues messages in C without the GIL, and
  impsy drains the queue when the callbacks are back. mido's input ports
  always install a Python callback, which makes them unsafe in the same way.
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

import gc
import os
from collections.abc import Callable
from typing import Any

import rtmidi

from impsy.errors import ImpsyError

API_ENV = "IMPSY_MIDI_API"
CLIENT_NAME = "impsy"
# Messages RtMidi may queue while impsy's callbacks are paused (RtMidi's default is 100).
QUEUE_SIZE = 1024

MidiPort = rtmidi.MidiIn | rtmidi.MidiOut
Callback = Callable[[tuple[list[int], float], Any], None]


def _api_names() -> dict[str, int]:
    """Every spelling of every API python-rtmidi knows, upper case."""
    names: dict[str, int] = {}
    for attribute in dir(rtmidi):
        if attribute.startswith("API_") and attribute != "API_UNSPECIFIED":
            api = getattr(rtmidi, attribute)
            names[attribute[len("API_") :]] = api
            names[rtmidi.get_api_name(api).upper()] = api
    return names


def api_label(api: int) -> str:
    """``UNIX_JACK``-style name of an API constant, as ``IMPSY_MIDI_API`` spells it."""
    for attribute in dir(rtmidi):
        if attribute.startswith("API_") and getattr(rtmidi, attribute) == api:
            return attribute[len("API_") :]
    return str(api)


def selected_api(value: str | None = None) -> int:
    """The RtMidi API to use: ``value``, else ``$IMPSY_MIDI_API``, else RtMidi's default.

    An API that this python-rtmidi was not built with is an error: RtMidi
    itself would print a warning and silently use another one.
    """
    if value is None:
        value = os.environ.get(API_ENV, "")
    spelled = value.strip()
    if not spelled:
        return rtmidi.API_UNSPECIFIED
    key = spelled.upper().removeprefix("RTMIDI/").removeprefix("API_")
    compiled = rtmidi.get_compiled_api()
    choices = ", ".join(api_label(api) for api in compiled)
    api = _api_names().get(key)
    if api is None:
        raise ImpsyError(f"{API_ENV}={spelled!r} is not a MIDI API; expected one of {choices}")
    if api not in compiled:
        raise ImpsyError(
            f"{API_ENV}={spelled!r}: this python-rtmidi has no {api_label(api)} support; "
            f"expected one of {choices}"
        )
    return api


def new_input(api: int) -> rtmidi.MidiIn:
    return rtmidi.MidiIn(rtapi=api, name=CLIENT_NAME, queue_size_limit=QUEUE_SIZE)


def new_output(api: int) -> rtmidi.MidiOut:
    return rtmidi.MidiOut(rtapi=api, name=CLIENT_NAME)


def open_port(port: MidiPort, device: str | None, port_name: str) -> None:
    """Connect ``port`` to the system port named ``device``, or make it virtual if None.

    Raises ``LookupError`` when ``device`` is gone (lists change between a
    scan and an open) and ``rtmidi.RtMidiError`` when the backend refuses.
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


def _installed(midi_in: rtmidi.MidiIn, func: Callback) -> object | None:
    """The ``(func, data)`` tuple python-rtmidi passed to C as the callback's context.

    python-rtmidi keeps the only reference to it; ``cancel_callback`` drops
    that reference, so a callback already waiting for the GIL on another
    thread would then read freed memory. Holding our own reference until the
    GIL has been released for a while prevents that. Found through the GC
    (Cython's traverse lists an object's attributes); None if not found.
    """
    for referent in gc.get_referents(midi_in):
        if type(referent) is tuple and len(referent) == 2 and referent[0] is func:
            return referent
    return None


class CallbackSlot:
    """A MidiIn's Python callback, which can be paused for opens and closes.

    While paused, RtMidi queues incoming messages itself, without Python, so
    no backend thread waits for the GIL; ``resume`` returns what was queued
    meanwhile, oldest first.
    """

    def __init__(self, midi_in: rtmidi.MidiIn, func: Callback, data: Any) -> None:
        self.midi_in = midi_in
        self._func = func
        self._data = data
        self._context: object | None = None
        self._retired: list[object] = []
        self.armed = False

    def arm(self) -> None:
        self.midi_in.set_callback(self._func, self._data)
        self._context = _installed(self.midi_in, self._func)
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
