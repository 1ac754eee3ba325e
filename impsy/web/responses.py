"""JSON in and out, and the one place a handler's failure becomes an answer.

Every error is ``{"error": "..."}``; a body aiohttp's parsers refuse (a
malformed multipart upload) is the client's 4xx; an unexpected exception
is logged (rate-limited) and answered 500, and never travels further: the
performance sharing the loop must not notice a broken page. A request too
malformed to reach any handler (no ``Host`` header) is answered 400 by
aiohttp, and ``quiet_malformed_requests`` turns the traceback it would log
into one rate-limited line.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from impsy.ratelimit import RateLimitedWarning
from impsy.web.security import Handler, error

log = logging.getLogger("impsy")
_warn = RateLimitedWarning()


def clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return clean(value.item())
    return value


def dumps(value: Any) -> str:
    return json.dumps(clean(value), separators=(",", ":"))


def reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(clean(value), status=status, dumps=dumps)


class BadRequest(Exception):
    """A request the handler refuses; ``status`` and the message go back as JSON."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400/413 that says what is wrong."""
    try:
        data = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise BadRequest("request body too large", 413) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("expected a JSON object")
    return data


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as err:
        return error(err.status, str(err))
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return error(err.status, err.reason if err.text is None else _reason(err))
    except HttpProcessingError as err:  # aiohttp's parsers refusing the body (a bad multipart)
        status = err.code if 400 <= err.code < 500 else 400
        return error(status, f"malformed request: {err.message.strip()}")
    except Exception as err:  # a broken handler must not reach the engine
        _warn.warn(f"web:{request.path}", f"web UI: {request.method} {request.path} failed: {err}")
        log.debug("web UI handler failed", exc_info=True)
        return error(500, f"internal error: {err}")


class _MalformedRequests(logging.Filter):
    """Drops aiohttp's traceback for a request it refused before any handler ran.

    aiohttp answers such a request (no ``Host`` header, bytes that are not
    HTTP) with 400 and logs the parser's exception with its traceback, on the
    performer's terminal and once per request: a network client could flood
    the console. One rate-limited line says it instead.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        peer = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
        reason = (error.message or type(error).__name__).strip().splitlines()[-1].strip()
        _warn.warn("malformed", f"web UI: refused a malformed HTTP request from {peer}: {reason}")
        return False


_QUIET = _MalformedRequests()


def quiet_malformed_requests() -> None:
    """Install the filter above on aiohttp's server log (once; calling again does nothing)."""
    server_log = logging.getLogger("aiohttp.server")
    if _QUIET not in server_log.filters:
        server_log.addFilter(_QUIET)


def _reason(err: web.HTTPException) -> str:
    text = err.text or ""
    if text.startswith(f"{err.status}: "):
        text = text[len(f"{err.status}: ") :]
    return text or err.reason
