"""The MIDI ports of this machine, named the way ``[midi] in_device`` and ``out_device`` match.

``impsy ports`` and the web UI's config wizard show these lists so that a
person picks a port instead of guessing its name. Three things make that
more than RtMidi's ``get_ports()``:

- **Names to paste.** A configured name picks the port named exactly so,
  else the first port whose name contains it (``ports.match_port``). ALSA
  appends client and port numbers (``X-TOUCH MINI:X-TOUCH MINI MIDI 1
  24:0``) and Windows a port index, and both change when the device is
  plugged in again; the name offered for the config leaves them out when
  the shorter name still picks the same port.
- **impsy's own ports** (a running impsy's ports on JACK or ALSA) are
  flagged: a partial match never picks them, and connecting one to impsy
  would be a feedback loop.
- **No MIDI system** (no binding installed, a wrong ``IMPSY_MIDI_API``, a
  JACK server that is not running, no ALSA sequencer) is one line in
  ``error``, never a traceback. What RtMidi, ALSA and libjack print on file
  descriptor 2 while failing (five lines for a missing JACK server) is held
  back, since that line says it all.

A listing makes one RtMidi client per direction (on JACK, two JACK clients:
milliseconds, with the GIL held throughout), and making a JACK client in a
process whose MIDI input callbacks are armed can deadlock (see
``impsy.io.midi.backend``). So it never runs beside a performance: ``impsy
ports`` runs in its own process, and the web UI runs ``impsy ports`` as a
subprocess.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from impsy.errors import ImpsyError
from impsy.io.midi.backend import (
    API_UNSPECIFIED,
    APIS,
    MidiPort,
    api_label,
    binding,
    capture_stderr,
    midi_errors,
    new_input,
    new_output,
    selected_api,
)
from impsy.io.midi.ports import OWN_PORT, match_port

# What ALSA and Windows MM append to a port's name, and which changes between plug-ins.
_ALSA_NUMBERS = re.compile(r" \d+:\d+$")
_WINDOWS_INDEX = re.compile(r" \d+$")
# RtMidi's messages start with the class and method: "MidiInJack::initialize: ".
_RTMIDI_PREFIX = re.compile(r"^\w+::\w+: ")


@dataclass(frozen=True)
class MidiPortName:
    """One port as the system names it, and the name to write in the config."""

    name: str
    """The system's full name (``in_device = ["<name>"]`` always picks it)."""
    config_name: str
    """The shortest name that still picks this port: ``name`` without ALSA's numbers."""
    own: bool = False
    """A port of a running impsy (never picked by a partial match)."""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "config_name": self.config_name, "own": self.own}


@dataclass(frozen=True)
class MidiListing:
    """Every MIDI input and output of one MIDI system, or why there are none."""

    api: str | None
    """The MIDI system listed (``UNIX_JACK``...); None when none could be used."""
    binding: str | None
    """The RtMidi binding used (``python-rtmidi`` or ``rtmidi2``)."""
    inputs: tuple[MidiPortName, ...] = ()
    """Ports impsy can read (controllers): names for ``[midi] in_device``."""
    outputs: tuple[MidiPortName, ...] = ()
    """Ports impsy can play to (synths): names for ``[midi] out_device``."""
    error: str | None = None
    """One line saying why MIDI could not be listed; None when it was."""

    def names(self, is_input: bool) -> list[str]:
        return [port.name for port in (self.inputs if is_input else self.outputs)]

    def to_json(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "binding": self.binding,
            "inputs": [port.to_json() for port in self.inputs],
            "outputs": [port.to_json() for port in self.outputs],
            "error": self.error,
        }


def config_name(name: str, names: Sequence[str], api: int) -> str:
    """The name to write in the config for port ``name``, one of ``names``.

    ALSA's trailing ``client:port`` numbers and Windows MM's trailing index
    are left out when what is left still picks ``name`` under IMPSY's rule
    (exact, else first containing); otherwise the full name.
    """
    pattern = {APIS["LINUX_ALSA"]: _ALSA_NUMBERS, APIS["WINDOWS_MM"]: _WINDOWS_INDEX}.get(api)
    if pattern is not None:
        short = pattern.sub("", name)
        if short and short != name and match_port(short, names) == name:
            return short
    return name


def quiet_stderr() -> contextlib.AbstractContextManager[list[str]]:
    """Collect what native code writes to file descriptor 2 meanwhile, as lines.

    RtMidi, ALSA and libjack have no other channel for their complaints. The
    caller decides whether to pass the lines on. File descriptors belong to
    the whole process, so this is for a process that runs nothing else
    meanwhile (``impsy ports``), never the server's.
    """
    return capture_stderr()


ADVICE = {
    APIS["UNIX_JACK"]: "start the JACK server",
    APIS["LINUX_ALSA"]: "load the ALSA sequencer (modprobe snd-seq: /dev/snd/seq)",
}
"""What to do when a MIDI system refuses, by system."""
_SYSTEM_IN_MESSAGE = {"Jack": APIS["UNIX_JACK"], "Alsa": APIS["LINUX_ALSA"]}


def midi_problem(err: BaseException, api: int) -> str:
    """One line for a MIDI system that refused to make a client: what, and what to do."""
    text = str(err).strip()
    prefix = _RTMIDI_PREFIX.match(text)
    reason = _RTMIDI_PREFIX.sub("", text.splitlines()[0] if text else "").rstrip(".")
    reason = reason or type(err).__name__
    system = api
    if api == API_UNSPECIFIED and prefix is not None:
        system = next((v for k, v in _SYSTEM_IN_MESSAGE.items() if k in prefix[0]), api)
    where = api_label(api) if api != API_UNSPECIFIED else "RtMidi's default"
    if api == API_UNSPECIFIED and system != api:
        where += f", {api_label(system)}"
    if system == APIS["UNIX_JACK"] and os.environ.get("JACK_DEFAULT_SERVER"):
        where += f", JACK server {os.environ['JACK_DEFAULT_SERVER']!r}"
    try:
        others = [api_label(a) for a in binding().compiled_apis() if a != system]
    except ImpsyError:
        others = []
    advice = ADVICE.get(system, "check that the MIDI system works")
    if others:
        advice += f", or set IMPSY_MIDI_API to another MIDI system ({', '.join(others)})"
    return f"MIDI ({where}): {reason}; {advice}"


def _delete(port: MidiPort) -> None:
    with contextlib.suppress(*midi_errors()):
        port.delete()


def list_midi(api: str | None = None) -> MidiListing:
    """Every input and output of the MIDI system impsy would use (``api`` overrides it).

    ``api`` is spelled as ``IMPSY_MIDI_API`` (None: that variable, else
    RtMidi's default). Never raises for a missing binding or MIDI system:
    the listing's ``error`` says what is missing. Blocks for milliseconds
    and writes to file descriptor 2 meanwhile: see the module docstring.
    """
    try:
        chosen = binding()
        number = selected_api(api)
    except ImpsyError as err:
        return MidiListing(None, None, error=f"MIDI: {str(err).removeprefix('[midi] ')}")
    scanners: list[MidiPort] = []
    with quiet_stderr() as noise:
        try:
            scanners.append(new_input(number))
            scanners.append(new_output(number))
            number = scanners[0].get_current_api()
            inputs, outputs = scanners[0].get_ports(), scanners[1].get_ports()
            problem = None
        except midi_errors() as err:
            problem = midi_problem(err, number)
        finally:
            for scanner in scanners:
                _delete(scanner)
    if problem is not None:
        return MidiListing(None, chosen.name, error=problem)
    for line in noise:  # it worked: whatever was said is not ours to judge
        print(line, file=sys.stderr)

    def named(names: list[str]) -> tuple[MidiPortName, ...]:
        return tuple(
            MidiPortName(name, config_name(name, names, number), bool(OWN_PORT.match(name)))
            for name in names
        )

    return MidiListing(api_label(number), chosen.name, named(inputs), named(outputs))
