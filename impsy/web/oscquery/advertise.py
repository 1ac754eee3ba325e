"""Zeroconf (mDNS) advertisement of the OSCQuery server as ``_oscjson._tcp``.

Optional twice over: off unless ``[oscquery] zeroconf = true``, and the
``zeroconf`` package (the ``oscquery`` extra) is imported only then, so a
run without it never loads it. The responder runs on zeroconf's own thread
and event loop: it answers every mDNS packet on the network, which must not
cost the performance's loop anything, and registering waits about a second
for the name probes, so ``start`` and ``stop`` run on a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

from impsy.errors import ImpsyError

SERVICE_TYPE = "_oscjson._tcp.local."
INSTALL = "pip install 'impsy[oscquery]'"
MAX_LABEL = 63
"""The longest DNS label: a service instance name is cut to it."""


def check_available() -> None:
    """ImpsyError unless the ``zeroconf`` package can be imported (without importing it)."""
    if importlib.util.find_spec("zeroconf") is None:
        raise ImpsyError(
            f"[oscquery] zeroconf = true needs the zeroconf package, which is not installed; "
            f"install it with {INSTALL}, or set zeroconf = false"
        )


@dataclass(frozen=True)
class Advert:
    """What is advertised: the instance name, the port and the addresses it is reached at."""

    name: str
    port: int
    addresses: tuple[str, ...]
    server: str

    @property
    def instance(self) -> str:
        """``<name>._oscjson._tcp.local.``, the name cut to a DNS label."""
        label = self.name.encode()[:MAX_LABEL].decode(errors="ignore")
        return f"{label}.{SERVICE_TYPE}"


def advert_for(name: str, host: str, port: int, interface_addresses: list[str]) -> Advert:
    """What to advertise for a server bound to ``host``: that address, or on a wildcard
    every non-loopback IPv4 address of this machine (``interface_addresses``)."""
    if host in ("0.0.0.0", "", "::"):
        addresses = tuple(a for a in interface_addresses if not ipaddress.ip_address(a).is_loopback)
    else:
        addresses = (host,)
    server = socket.gethostname().split(".")[0] + ".local."
    return Advert(name, port, addresses, server)


class Advertiser:
    """Registers one ``_oscjson._tcp`` service while the server runs."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name, self.host, self.port = name, host, port
        self.advert: Advert | None = None
        self._zeroconf: Any = None
        self._info: Any = None

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._register)

    def _register(self) -> None:
        import ifaddr  # zeroconf's own dependency, listing this machine's addresses
        from zeroconf import ServiceInfo, Zeroconf  # the optional extra, only when enabled

        found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4]
        self.advert = advert = advert_for(self.name, self.host, self.port, found)
        if not advert.addresses:
            raise ImpsyError(
                "[oscquery] zeroconf: this machine has no network address to advertise"
            )
        info = ServiceInfo(
            SERVICE_TYPE,
            advert.instance,
            port=advert.port,
            addresses=[socket.inet_aton(a) for a in advert.addresses],
            server=advert.server,
        )
        zc = Zeroconf(interfaces=list(advert.addresses))
        try:
            zc.register_service(info, allow_name_change=True)
        except Exception:
            zc.close()
            raise
        self._zeroconf, self._info = zc, info

    async def stop(self) -> None:
        if self._zeroconf is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._unregister)

    def _unregister(self) -> None:
        zc, self._zeroconf = self._zeroconf, None
        try:
            zc.unregister_service(self._info)
        finally:
            zc.close()
