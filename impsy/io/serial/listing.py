"""The serial ports of this machine, as paths for ``[serial] port`` and ``[serialmidi] port``.

``impsy ports`` and the web UI's config wizard show them so that a person
picks a device instead of guessing its path. pyserial's ``comports()``
finds the hardware (USB adapters, a Raspberry Pi's UART, Bluetooth) with a
description and hardware id to tell them apart. Two things are added:

- **Stable names.** A USB device that is ``/dev/ttyACM0`` today may be
  ``/dev/ttyACM1`` after the next plug-in; the links udev makes in
  ``/dev/serial/by-id`` and ``/dev/serial/by-path`` (and a Pi's
  ``/dev/serial0``) do not change, so they are listed with the device as
  ``aliases``, the better names to paste.
- **Virtual ports.** A pseudo-terminal (``socat``'s ``pty,link=/tmp/ttyV0``,
  a test's device) is no hardware, and ``comports()`` never lists one; the
  paths and glob patterns given (the config's ports, ``impsy ports
  --serial``) are listed too when they exist, under the name given.

A listing reads sysfs (Linux) or asks the OS (macOS, Windows): a few
milliseconds, so the web UI does not run it on the event loop.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

LINK_PATTERNS = ("/dev/serial/by-id/*", "/dev/serial/by-path/*", "/dev/serial[0-9]*")
"""Where udev (and Raspberry Pi OS) keep stable links to serial devices."""
PTY_PREFIXES = ("/dev/pts/", "/dev/ttys")
"""Pseudo-terminals: Linux's, and macOS's (``/dev/ttys003``)."""


@dataclass(frozen=True)
class SerialPortInfo:
    """One serial device: the path to paste, what it is, and other names for it."""

    path: str
    """The name for ``[serial] port`` (for a given path: as given)."""
    device: str
    """The device it is (links followed)."""
    description: str
    """pyserial's description (``FT232R USB UART``), ``pseudo-terminal``, or ``n/a``."""
    hwid: str = "n/a"
    """pyserial's hardware id (``USB VID:PID=0403:6001 SER=...``), or ``n/a``."""
    aliases: tuple[str, ...] = ()
    """Stable links to the same device (``/dev/serial/by-id/...``): better names to paste."""
    source: str = "system"
    """``system`` (found by pyserial) or ``given`` (a path or pattern asked for)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "device": self.device,
            "description": self.description,
            "hwid": self.hwid,
            "aliases": list(self.aliases),
            "source": self.source,
        }


@dataclass(frozen=True)
class SerialListing:
    """Every serial port found, or why they could not be listed."""

    ports: tuple[SerialPortInfo, ...] = ()
    error: str | None = None
    """One line saying why the system's ports could not be listed; None when they were."""
    missing: tuple[str, ...] = field(default=())
    """Paths given that are not there (or are no character device)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "ports": [port.to_json() for port in self.ports],
            "error": self.error,
            "missing": list(self.missing),
        }


def is_device(path: str) -> bool:
    """Whether ``path`` is (or links to) a character device, as a serial port is."""
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def _expand(given: Iterable[str]) -> tuple[list[str], list[str]]:
    """The existing paths among ``given`` (globs expanded, ``~`` too), and those missing."""
    found: list[str] = []
    missing: list[str] = []
    for item in given:
        pattern = os.path.expanduser(item)
        if glob.has_magic(pattern):
            matches = sorted(glob.glob(pattern))
            found += [m for m in matches if is_device(m)]
            if not matches:
                missing.append(item)
        elif is_device(pattern):
            found.append(pattern)
        else:
            missing.append(item)
    return found, missing


def _links() -> dict[str, list[str]]:
    """Stable links by the device they point to."""
    links: dict[str, list[str]] = {}
    for pattern in LINK_PATTERNS:
        for link in sorted(glob.glob(pattern)):
            if os.path.islink(link):
                links.setdefault(os.path.realpath(link), []).append(link)
    return links


def list_serial(given: Sequence[str] = ()) -> SerialListing:
    """The system's serial ports (pyserial), then those of ``given`` that exist.

    ``given`` holds paths or glob patterns (``/tmp/ttyV*``), relative to the
    working directory as ``impsy run`` opens them. A path that leads to a
    device already listed becomes one of its aliases. Never raises.
    """
    error = None
    try:
        from serial.tools import list_ports

        system = sorted(list_ports.comports(), key=lambda p: p.device)
    except Exception as err:  # noqa: BLE001 - any failure of the OS query is one line
        system, error = [], f"serial: cannot list the serial ports: {err}"
    links = _links()
    ports: list[SerialPortInfo] = []
    for info in system:
        device = os.path.realpath(info.device)
        ports.append(
            SerialPortInfo(
                path=info.device,
                device=device,
                description=str(info.description or "n/a"),
                hwid=str(info.hwid or "n/a"),
                aliases=tuple(links.get(device, ())),
            )
        )
    found, missing = _expand(given)
    for path in dict.fromkeys(found):
        device = os.path.realpath(path)
        known = next((i for i, port in enumerate(ports) if port.device == device), None)
        if known is not None:
            port = ports[known]
            if path not in (port.path, *port.aliases):
                ports[known] = SerialPortInfo(
                    port.path,
                    port.device,
                    port.description,
                    port.hwid,
                    (*port.aliases, path),
                    port.source,
                )
            continue
        pty = device.startswith(PTY_PREFIXES)
        description = "pseudo-terminal" if pty else "character device"
        ports.append(
            SerialPortInfo(
                path, device, description, aliases=tuple(links.get(device, ())), source="given"
            )
        )
    return SerialListing(tuple(ports), error, tuple(missing))
