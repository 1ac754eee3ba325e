"""The web UI's front door against malformed and hostile requests.

Real HTTP over TCP on 127.0.0.1: raw bytes where a client library would
refuse to send them (no ``Host`` header, a NUL in a path or a file name).
Each gets a 4xx and at most one line on the performer's terminal, never a
traceback or a 500.
"""

from __future__ import annotations

import asyncio
import logging

from impsy.ratelimit import RateLimitedWarning
from impsy.web import responses
from tests.web.test_api import TRAINED, run, served


async def raw_request(port: int, request: bytes) -> bytes:
    """Send ``request`` as it is and return the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 5)
    finally:
        writer.close()
    return answer.split(b"\r\n", 1)[0]


def test_requests_without_a_host_get_400_and_one_line_not_tracebacks(tmp_path, caplog, monkeypatch):
    # a limiter of its own: the HTTP fuzz test, run just before, may have said its line < 5 s ago
    monkeypatch.setattr(responses, "_warn", RateLimitedWarning())

    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            with caplog.at_level(logging.DEBUG):
                lines = [
                    await raw_request(web.ctx.port, b"GET /api/status HTTP/1.1\r\n\r\n")
                    for _ in range(50)
                ]
            return lines

    lines = run(main())
    assert all(line.startswith(b"HTTP/1.") and b" 400 " in line for line in lines), lines[:3]
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert tracebacks == [], tracebacks[0].getMessage() if tracebacks else ""
    said = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(said) == 1, said
    assert "Host" in said[0]


def test_a_nul_in_a_static_path_is_404_not_500(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            return [
                await raw_request(
                    web.ctx.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                )
                for path in (
                    "/static/%00",
                    "/static/js/%00main.js",
                    "/api/files/models/a%00.tflite",
                )
            ]

    for line in run(main()):
        assert b" 404 " in line or b" 400 " in line, line


def multipart(name: bytes, data: bytes) -> tuple[bytes, bytes]:
    """A form with one file field named ``name``, as raw bytes (clients refuse a NUL)."""
    boundary = b"impsy-test-boundary"
    body = (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
        b"--" + boundary + b"--\r\n"
    )
    return boundary, body


def test_an_upload_whose_file_name_holds_a_nul_is_refused_with_400(tmp_path):
    async def main():  # noqa: ANN202
        async with served(tmp_path, with_engine=False) as web:
            boundary, body = multipart(b"mine\x00.tflite", TRAINED.read_bytes())
            head = (
                f"POST /api/files/models HTTP/1.1\r\nHost: 127.0.0.1:{web.ctx.port}\r\n"
                f"X-Impsy: 1\r\nContent-Length: {len(body)}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary.decode()}\r\n\r\n"
            )
            return await raw_request(web.ctx.port, head.encode() + body)

    line = run(main())
    assert b" 400 " in line, line
    assert not list((tmp_path / "models").glob("mine*"))
