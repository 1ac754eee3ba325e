"""``impsy webui``: the browser interface without a performance.

Files, config and training work as under ``impsy run``; the live pages say
that nothing is playing. The host and port come from ``[webui]`` unless
given here.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors


@click.command("webui")
@click.option("--config", "-c", "config_path", help="Config file (default: ./config.toml).")
@click.option("--host", help="Address to listen on (default: [webui] host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [webui] port, 4000).")
@click.option("--logdir", "-l", default="logs", show_default=True, help="Directory of logs.")
@user_errors
def webui(config_path: str | None, host: str | None, port: int | None, logdir: str) -> None:
    """Serve the web UI (files, config, datasets, training) without performing."""
    import asyncio
    import logging
    from pathlib import Path

    from impsy.cli.run import find_config
    from impsy.config import load_config
    from impsy.engine import loop as impsy_loop

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = load_config(find_config(config_path))
    for warning in config.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)

    async def serve() -> None:
        import signal

        from impsy.web.context import WebContext
        from impsy.web.server import WebServer

        server = WebServer(
            WebContext.create(config, None, logdir=Path(logdir), host=host, port=port)
        )
        await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"impsy: web UI at {server.url} (no performance running; Ctrl-C to stop)")
        try:
            await stop.wait()
        finally:
            await server.stop()
        click.echo("impsy: web UI stopped")

    impsy_loop.run(serve())
