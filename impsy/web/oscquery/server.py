"""The OSCQuery HTTP server: the namespace as JSON, HOST_INFO, and the WebSocket.

It is its own small aiohttp application on its own port (``[oscquery]
host``/``port``), not a path of the web UI, because OSCQuery clients look
for the namespace at ``/`` of a host and port, which is the web UI's page;
because a run may have OSCQuery without the web UI; and because its rules
for who may connect differ: an OSCQuery client sends neither the web UI's
``X-Impsy`` header nor its cookie. It runs on the performance's loop, like
the web UI, and only reads: every change goes through the command table,
as OSC to ``[osc]`` or OSC over this server's WebSocket.

Answers, as the OSCQuery proposal has them: ``GET /`` the whole tree,
``GET /impsy/seq`` a part of it, ``GET /impsy/pitemp?VALUE`` one attribute
(``{}`` when the node has none; 204 for VALUE of a node that cannot be
read), ``?HOST_INFO`` the server (name, OSC port and transport, the
attributes it supports) whatever the path, 404 for an unknown path, 400 for
an attribute it does not know or support.

Who may connect follows the web UI's rules (``impsy.web.security``): on
loopback by default, where the ``Host`` header must name loopback too (no
DNS rebinding); bound anywhere else only with ``[oscquery] token``, which
every request then carries (``Authorization: Bearer <token>`` or
``?token=``); a request with an ``Origin`` other than the server itself (a
web page anywhere) is refused, so no page can read the namespace or open
the WebSocket.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from impsy.errors import ImpsyError
from impsy.io.osc import SURPRISE_ADDRESS
from impsy.web.oscquery.listen import Streams
from impsy.web.oscquery.namespace import READ, Namespace, Output, build_namespace
from impsy.web.oscquery.values import readers
from impsy.web.responses import quiet_malformed_requests
from impsy.web.security import (
    LOOPBACK_NAMES,
    MAKE_TOKEN,
    MIN_TOKEN_LENGTH,
    Handler,
    error,
    host_name,
    is_loopback,
)

if TYPE_CHECKING:
    from impsy.config.schema import OscConfig, OscQueryConfig
    from impsy.engine.core import Engine
    from impsy.engine.table import CommandTable

log = logging.getLogger("impsy")
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

WILDCARDS = ("0.0.0.0", "::", "")
ATTRIBUTES = (
    "FULL_PATH",
    "CONTENTS",
    "TYPE",
    "ACCESS",
    "RANGE",
    "DESCRIPTION",
    "TAGS",
    "OVERLOADS",
)
UNSUPPORTED = ("EXTENDED_TYPE", "UNIT", "CRITICAL", "CLIPMODE", "HTML")
EXTENSIONS = {
    "ACCESS": True,
    "VALUE": True,
    "RANGE": True,
    "DESCRIPTION": True,
    "TAGS": True,
    "OVERLOADS": True,
    "LISTEN": True,
    **{name: False for name in UNSUPPORTED},
    "PATH_CHANGED": False,
    "PATH_RENAMED": False,
    "PATH_ADDED": False,
    "PATH_REMOVED": False,
}
"""The namespace is fixed once a run has started, so it never announces a change."""


def check_oscquery(config: OscQueryConfig) -> None:
    """What ``[oscquery]`` must satisfy beyond its types: the web UI's exposure rules.

    Other machines may reach it only with a long token; zeroconf advertises
    it to the network, so it needs a host other machines can reach, and the
    ``zeroconf`` package.
    """
    host = config.host
    if not is_loopback(host):
        if not config.token:
            raise ImpsyError(
                f"[oscquery] token: not set, but [oscquery] host {host!r} is reachable from "
                'other machines; set [oscquery] token = "<a long random string>" (every '
                f"request must then carry it; make one with {MAKE_TOKEN}), or use "
                'host = "127.0.0.1"'
            )
        if len(config.token) < MIN_TOKEN_LENGTH:
            raise ImpsyError(
                f"[oscquery] token: {len(config.token)} characters is too easy to guess for "
                f"host {host!r}, which other machines can reach; use at least "
                f'{MIN_TOKEN_LENGTH} (make one with {MAKE_TOKEN}), or use host = "127.0.0.1"'
            )
    if config.zeroconf:
        if is_loopback(host):
            raise ImpsyError(
                f"[oscquery] zeroconf = true advertises the namespace to other machines, but "
                f"host {host!r} only this machine can reach; set host (and token), or set "
                "zeroconf = false"
            )
        from impsy.web.oscquery.advertise import check_available

        check_available()


def outputs_of(
    osc: OscConfig, dimension: int, sequencer: bool, sequencer_streamed: bool = True
) -> list[Output]:
    """Every address impsy sends to the ``[osc]`` client, with what each carries;
    ``sequencer_streamed``: the sequencer's are streamed to LISTENers too."""
    count = dimension - 1
    found = [
        Output(
            osc.output_address,
            "f" * count,
            f"the model's output x1..x{count}, each in [0, 1] ([osc] output_address)",
            tuple({"MIN": 0.0, "MAX": 1.0} for _ in range(count)),
            streamed=True,
        ),
        Output(
            SURPRISE_ADDRESS,
            "f",
            "the surprise meter: how unexpected the last gesture was to the model (nats), "
            "while the meter is on",
            streamed=True,
        ),
    ]
    if sequencer:
        from impsy.sequencer.adapter import (
            CC_ADDRESS,
            HISTOGRAM_ADDRESS,
            PLAY_ADDRESS,
            STATUS_ADDRESS,
        )

        found += [
            Output(
                PLAY_ADDRESS,
                "iii",
                "a note of a track played over OSC: track, note, velocity (0 is note off)",
                ({"MIN": 0}, {"MIN": 0, "MAX": 127}, {"MIN": 0, "MAX": 127}),
                streamed=sequencer_streamed,
            ),
            Output(
                CC_ADDRESS,
                "iii",
                "a control change of a track played over OSC: track, controller, value",
                ({"MIN": 0}, {"MIN": 0, "MAX": 127}, {"MIN": 0, "MAX": 127}),
                streamed=sequencer_streamed,
            ),
            Output(
                STATUS_ADDRESS,
                "s",
                "the answer to /impsy/seq/status: name, value pairs (tempo, playing, playhead, "
                "pattern, track, lateness_count, lateness_p50_ms, lateness_p99_ms, "
                "lateness_max_ms)",
                streamed=sequencer_streamed,
            ),
            Output(
                HISTOGRAM_ADDRESS,
                "i",
                "sent after /impsy/seq/status: the lateness histogram's counts, one int per bin",
                streamed=sequencer_streamed,
            ),
        ]
    return found


def guard(host: str, token: str | None) -> Middleware:
    """The rules above for a server bound to ``host``."""
    loopback = is_loopback(host)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if loopback and host_name(request.host) not in LOOPBACK_NAMES:
            return error(403, f"Host {request.host!r} is not this machine; use 127.0.0.1")
        if token is not None:
            given = _token_given(request)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                return error(
                    401,
                    "missing or wrong token: send Authorization: Bearer <[oscquery] token> "
                    "or add ?token=<[oscquery] token>",
                )
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.host.lower():
            return error(403, f"cross-site request from {origin} refused")
        return await handler(request)

    return middleware


def _token_given(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.query.get("token")


class OscQueryServer:
    """Serves one run's namespace on ``config.host:config.port`` while it plays."""

    def __init__(
        self,
        config: OscQueryConfig,
        osc: OscConfig,
        engine: Engine,
        commands: CommandTable,
        sequencer: Any = None,
        *,
        learning: Any = None,
        sequencer_adapter: Any = None,
    ) -> None:
        self.config = config
        self.osc = osc
        self.engine = engine
        self.commands = commands
        self.sequencer = sequencer
        """The ``SequencerControl`` whose settings are values (``seq/tempo``...)."""
        self.learning = learning
        """Its pattern model (``PatternLearning``): the ``learn/...`` values."""
        self.sequencer_adapter = sequencer_adapter
        """The ``SequencerAdapter``: what it sends over OSC streams to LISTENers."""
        self.port = config.port
        self.namespace: Namespace | None = None
        self.streams: Streams | None = None
        self.advertiser: Any = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where it listens, the host exactly as bound (the summary hides no exposure)."""
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    def host_info(self) -> dict[str, Any]:
        """HOST_INFO: where to send OSC, and the optional attributes this server gives."""
        info: dict[str, Any] = {
            "NAME": self.config.name,
            "OSC_PORT": self.osc.server_port,
            "OSC_TRANSPORT": "UDP",
            "EXTENSIONS": EXTENSIONS,
        }
        if self.osc.server_ip not in WILDCARDS:  # else: the address this server was reached at
            info["OSC_IP"] = self.osc.server_ip
        return info

    def build(self) -> web.Application:
        """The namespace of the table as it is now (complete once the run is built)."""
        outputs = outputs_of(
            self.osc,
            self.engine.dimension,
            self.sequencer is not None,
            sequencer_streamed=self.sequencer_adapter is not None,
        )
        output_readers = {self.osc.output_address: self._last_output}
        if self.sequencer_adapter is not None:
            from impsy.sequencer.adapter import CC_ADDRESS, PLAY_ADDRESS

            for address in (PLAY_ADDRESS, CC_ADDRESS):
                output_readers[address] = self._last_sent(address)
        self.namespace = build_namespace(
            self.config.name,
            self.commands,
            self.engine.dimension,
            outputs,
            readers(self.engine, self.sequencer, self.learning),
            output_readers,
        )
        self.streams = Streams(
            self.namespace,
            self.engine,
            self.commands,
            self.osc.output_address,
            SURPRISE_ADDRESS,
            self.sequencer_adapter,
        )
        app = web.Application(middlewares=[guard(self.config.host, self.config.token)])
        app.router.add_get("/{path:.*}", self.handle)
        return app

    def _last_output(self) -> list[Any] | None:
        """VALUE of the output address: the last output streamed to a listener."""
        return self.streams.last_output if self.streams is not None else None

    def _last_sent(self, address: str) -> Callable[[], list[Any] | None]:
        """VALUE of a sequencer output: the last one streamed to a listener."""
        return lambda: self.streams.last_sent.get(address) if self.streams is not None else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.namespace is not None and self.streams is not None
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.streams.handle(request)
        return answer(self.namespace, request.path, request.query.keys(), self.host_info)

    async def start(self) -> None:
        """Listen (and advertise, when asked); ImpsyError, in one line, if it cannot."""
        config = self.config
        check_oscquery(config)
        quiet_malformed_requests()
        runner = web.AppRunner(
            self.build(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            reason = os.strerror(err.errno) if err.errno else str(err)
            raise ImpsyError(
                f"[oscquery] cannot listen on {config.host}:{config.port}: {reason}; set "
                "[oscquery] port to a free port (or stop whatever uses it), or remove "
                "[oscquery] to run without it"
            ) from None
        self._runner = runner
        if config.port == 0:  # a free port was asked for (tests): report the real one
            self.port = runner.addresses[0][1]
        if config.zeroconf:
            from impsy.web.oscquery.advertise import Advertiser

            self.advertiser = Advertiser(config.name, config.host, self.port)
            try:
                await self.advertiser.start()
            except Exception as err:
                await self.stop()
                raise ImpsyError(f"[oscquery] zeroconf: cannot advertise: {err}") from None

    async def stop(self) -> None:
        if self.advertiser is not None:
            advertiser, self.advertiser = self.advertiser, None
            try:
                await advertiser.stop()
            except Exception:  # stopping must go on
                log.exception("oscquery: error while withdrawing the zeroconf advertisement")
        if self.streams is not None:
            await self.streams.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            try:
                await runner.cleanup()
            except Exception:  # stopping must go on: the log still has to close
                log.exception("oscquery: error while stopping")


def answer(namespace: Namespace, path: str, query: Any, host_info: Any) -> web.Response:
    """The JSON for one GET: a node, one of its attributes, or HOST_INFO."""
    asked = [key for key in query if key != "token"]
    if "HOST_INFO" in asked:
        return web.json_response(host_info())
    node = namespace.find(path)
    if node is None:
        return error(404, f"no OSC node at {path}")
    if not asked:
        return web.json_response(node.to_json())
    if len(asked) > 1:
        return error(400, f"ask for one attribute at a time, got {', '.join(asked)}")
    attribute = asked[0]
    if attribute == "VALUE":
        if not node.access & READ:
            return web.Response(status=204)
        value = node.value()
        return web.json_response({} if value is None else {"VALUE": value})
    if attribute == "CONTENTS":
        whole = node.to_json()
        return web.json_response({"CONTENTS": whole["CONTENTS"]} if "CONTENTS" in whole else {})
    if attribute in ATTRIBUTES:
        attributes = node.attributes()
        return web.json_response(
            {attribute: attributes[attribute]} if attribute in attributes else {}
        )
    if attribute in UNSUPPORTED:
        return error(400, f"this server does not give {attribute} (see ?HOST_INFO)")
    return error(400, f"unknown attribute {attribute!r}")
