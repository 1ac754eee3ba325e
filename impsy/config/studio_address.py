"""A studio's address, as ``[studio] address`` and ``--studio-address`` give it.

Parsed when the config loads, so a typo is refused with the file and key
before anything runs; :mod:`impsy.studio.reach` then tries it.
"""

from __future__ import annotations

from dataclasses import dataclass

from impsy.errors import ImpsyError

LOCAL = ("", "local")
"""Addresses that mean "start a Ray of our own for this job"."""


@dataclass(frozen=True)
class StudioAddress:
    """A Ray address: ``host:port`` (a cluster's GCS, from a node of it) or
    ``ray://host:port`` (Ray Client, from any machine); ``local`` starts one."""

    text: str
    host: str = ""
    port: int = 0

    @property
    def local(self) -> bool:
        return not self.host

    def __str__(self) -> str:
        return "a Ray started for this job" if self.local else self.text


def parse_address(text: str | None) -> StudioAddress:
    """``host:port``, ``ray://host:port`` or ``local``/empty; ImpsyError naming the text."""
    text = (text or "").strip()
    if text in LOCAL:
        return StudioAddress("local")
    rest = text.removeprefix("ray://")
    host, colon, port = rest.rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImpsyError(
            f"studio address {text!r}: expected host:port (e.g. 127.0.0.1:6379), "
            "ray://host:port (Ray Client, e.g. 192.168.1.20:10001) or local"
        )
    return StudioAddress(text, host, int(port))
