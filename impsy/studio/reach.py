"""Whether anything answers at a studio's address, asked before Ray is.

``ray.init`` to an address where nothing listens retries for about a
minute before it fails with a long trace; a performer needs one line,
quickly, that names the address. So the port is tried with a plain TCP
connection (a few seconds at most) first.
"""

from __future__ import annotations

import socket

from impsy.config.studio_address import StudioAddress
from impsy.errors import ImpsyError

CONNECT_SECONDS = 3.0


def check_reachable(address: StudioAddress, seconds: float = CONNECT_SECONDS) -> None:
    """Raise one ImpsyError naming the address when nothing accepts a connection there."""
    if address.local:
        return
    try:
        with socket.create_connection((address.host, address.port), timeout=seconds):
            return
    except OSError as err:
        reason = err.strerror or type(err).__name__
        if isinstance(err, TimeoutError | socket.timeout):
            reason = f"no answer within {seconds:g} s"
    start = (
        "`ray start --head` (its Ray Client listens on 10001)"
        if address.text.startswith("ray://")
        else f"`ray start --head --port {address.port}`"
    )
    raise ImpsyError(
        f"the Ray studio at {address.text} cannot be reached ({reason}); start one there "
        f"with {start} (docs/studio.md), or change [studio] address / --studio-address"
    )
