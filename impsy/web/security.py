"""The web UI's safety rules: who may connect, and what may change state.

- Bound to a loopback address by default; any other address needs a token
  (``[webui] token``), and then every request must carry it.
- On loopback, the ``Host`` header must name loopback too, so a web page that
  rebinds its own DNS name to 127.0.0.1 cannot read or steer impsy.
- State-changing requests need the ``X-Impsy: 1`` header (which a cross-site
  form cannot send, and a cross-site script cannot send without a CORS
  preflight this server never approves), a JSON or multipart body, and an
  ``Origin`` (when given) matching ``Host``. The live WebSocket checks
  ``Origin`` too: browsers let any page open a WebSocket anywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from impsy.errors import ImpsyError

COOKIE = "impsy_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
BODY_TYPES = ("application/json", "multipart/form-data")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (``localhost``, 127.x, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MIN_TOKEN_LENGTH = 16
"""Shortest token accepted when other machines can reach the web UI: guessing one of
16 random URL-safe characters takes ~10^28 tries; a one-letter token takes 64."""
MAKE_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token, or with one easy to guess."""
    if is_loopback(host):
        return
    if not token:
        raise ImpsyError(
            f"[webui] token: not set, but [webui] host {host!r} is reachable from other "
            'machines; set [webui] token = "<a long random string>" (every request must '
            f'then carry it; make one with {MAKE_TOKEN}), or use host = "127.0.0.1"'
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ImpsyError(
            f"[webui] token: {len(token)} characters is too easy to guess for host {host!r}, "
            f"which other machines can reach; use at least {MIN_TOKEN_LENGTH} (make one with "
            f'{MAKE_TOKEN}), or use host = "127.0.0.1"'
        )


def host_name(host_header: str) -> str:
    """``example.com:4000`` -> ``example.com``; ``[::1]:4000`` -> ``::1``."""
    parsed = urlsplit(f"//{host_header}")
    return (parsed.hostname or "").lower()


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _token_given(request: web.Request) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the URL."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip(), False
    if "token" in request.query:
        return request.query["token"], True
    return request.cookies.get(COOKIE), False


def security_middleware(host: str, token: str | None) -> Callable:
    """The middleware enforcing the rules above for a server bound to ``host``."""
    loopback = is_loopback(host)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if loopback and host_name(request.host) not in LOOPBACK_NAMES:
            return error(403, f"Host {request.host!r} is not this machine; open 127.0.0.1")
        from_url = False
        if token is not None:
            given, from_url = _token_given(request)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return error(
                    401, "missing or wrong token: open the URL with ?token=<[webui] token>"
                )
        origin = request.headers.get("Origin")
        websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        if origin is not None and (request.method in UNSAFE_METHODS or websocket):
            if urlsplit(origin).netloc.lower() != request.host.lower():
                return error(403, f"cross-site request from {origin} refused")
        if request.method in UNSAFE_METHODS:
            if request.headers.get("X-Impsy") != "1":
                return error(403, "state-changing requests need the header X-Impsy: 1")
            if request.body_exists and not request.content_type.startswith(BODY_TYPES):
                return error(415, "send JSON (application/json) or a multipart upload")
        response = await handler(request)
        if from_url and not response.prepared:
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
        return response

    return middleware
