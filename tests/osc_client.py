"""A real OSC peer for the tests: sends to impsy and records what comes back.

It is an ordinary UDP socket on 127.0.0.1 speaking OSC through python-osc,
the way Pure Data or a phone app would.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def osc_bytes(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class OscPeer(asyncio.DatagramProtocol):
    """Listens on its own port (impsy's client port) and sends to impsy's server port."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, list[Any]]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self._arrived = asyncio.Event()

    @classmethod
    async def open(cls, port: int, server_port: int) -> OscPeer:
        loop = asyncio.get_running_loop()
        transport, peer = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", port))
        peer.server = ("127.0.0.1", server_port)
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = OscMessage(data)
        self.received.append((time.monotonic(), message.address, list(message.params)))
        self._arrived.set()

    def send(self, address: str, *args: Any) -> None:
        assert self.transport is not None
        self.transport.sendto(osc_bytes(address, *args), self.server)

    def send_raw(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, self.server)

    def messages(self, address: str) -> list[list[Any]]:
        return [args for _, addr, args in self.received if addr == address]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 3.0) -> list[list[Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages(address)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} {address} messages within {timeout} s, "
                    f"got {len(self.messages(address))}"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass
        return self.messages(address)

    async def status(self) -> dict[str, Any]:
        return await self.reply("/impsy/status")

    async def reply(self, address: str) -> dict[str, Any]:
        """Send a query command (``/impsy/status``, ``/impsy/steering``...) and return its
        reply's name/value pairs as a dict."""
        before = len(self.messages(address))
        self.send(address)
        replies = await self.wait_for(address, before + 1)
        args = replies[-1]
        return dict(zip(args[::2], args[1::2], strict=True))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
