"""``impsy status``: ask a running impsy for its ``/impsy/status`` over OSC.

It is the health check: Docker's HEALTHCHECK, a systemd watchdog script or a
musician on stage can tell a live server from a hung or missing one without
reading its logs. Exit status 0 means impsy answered within the timeout, 1
means it did not (not running, wrong port, or too busy to answer).
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors

REQUEST = b"/impsy/status\0\0\0,\0\0\0"  # the OSC message "/impsy/status" with no arguments
WILDCARDS = ("0.0.0.0", "::", "")


def _osc_target(config_path: str | None) -> tuple[str, int, str]:
    """The ``[osc]`` listen address of the config ``impsy run`` would use, and that config.

    The config is found as ``impsy run`` finds it (:mod:`impsy.config.locations`):
    --config, IMPSY_CONFIG, ./config.toml, the per-user config, the packaged default.
    """
    from impsy.config import load_config, locations

    where = locations.resolve(config_path)
    config = load_config(where.config)
    if config.osc is None:
        from impsy.errors import ImpsyError

        raise ImpsyError(f"{where.config}: no [osc] section; give --host and --port")
    host = "127.0.0.1" if config.osc.server_ip in WILDCARDS else config.osc.server_ip
    return host, config.osc.server_port, where.describe_config()


def query_status(host: str, port: int, timeout: float) -> list[tuple[str, object]] | None:
    """Send ``/impsy/status`` and return its name/value pairs, or None without an answer."""
    import socket
    import time

    from pythonosc.osc_message import OscMessage

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + timeout
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, port))
            sock.send(REQUEST)
        except OSError:
            return None
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data = sock.recv(65536)
            except (TimeoutError, ConnectionRefusedError, OSError):
                return None
            try:
                message = OscMessage(data)
            except Exception:  # noqa: BLE001 - anything unparsable is not the answer
                continue
            if message.address == "/impsy/status":
                params = list(message.params)
                return list(zip(params[::2], params[1::2], strict=False))
    return None


@click.command("status")
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config file (default: as impsy run: $IMPSY_CONFIG, ./config.toml, per-user, packaged).",
)
@click.option("--host", help="impsy's OSC address (default: [osc] server_ip).")
@click.option("--port", type=click.IntRange(1, 65535), help="impsy's OSC port ([osc] server_port).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=2.0,
    show_default=True,
    help="Seconds to wait for the answer.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing; only the exit status.")
@user_errors
def status(
    config_path: str | None, host: str | None, port: int | None, timeout: float, quiet: bool
) -> None:
    """Ask a running impsy for its status over OSC; exit 0 if it answers, 1 if not."""
    import sys

    source = ""
    if host is None or port is None:
        config_host, config_port, config = _osc_target(config_path)
        host = config_host if host is None else host
        port = config_port if port is None else port
        source = f"; the address is [osc] of {config}"
    pairs = query_status(host, port, timeout)
    if pairs is None:
        if not quiet:
            click.echo(
                f"impsy status: no answer from udp://{host}:{port} within {timeout:g} s{source}"
            )
        sys.exit(1)
    if not quiet:
        width = max((len(str(name)) for name, _ in pairs), default=0)
        for name, value in pairs:
            # float32 on the wire: 6 significant digits say all it holds
            shown = f"{value:.6g}" if isinstance(value, float) else value
            click.echo(f"{name!s:<{width}}  {shown}")
