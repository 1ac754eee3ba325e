"""``impsy webui``: the browser interface without a performance.

Files, config and training work as under ``impsy run``; the live pages say
that nothing is playing. The host and port come from ``[webui]`` unless
given here. The config and the logs folder are found as ``impsy run`` finds
them (:mod:`impsy.config.locations`), so both show the same files.
"""

from __future__ import annotations

import click

from impsy.cli.errors import user_errors


@click.command("webui")
@click.option(
    "--config",
    "-c",
    "config_path",
    help="Config file (default: as impsy run: $IMPSY_CONFIG, ./config.toml, per-user, packaged).",
)
@click.option("--host", help="Address to listen on (default: [webui] host, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default: [webui] port, 4000).")
@click.option(
    "--logdir",
    "-l",
    help="Directory of logs (default: where impsy run logs with the same config).",
)
@user_errors
def webui(config_path: str | None, host: str | None, port: int | None, logdir: str | None) -> None:
    """Serve the web UI (files, config, datasets, training) without performing."""
    import asyncio
    import logging

    from impsy.config import load_config, locations
    from impsy.engine import loop as impsy_loop

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    where = locations.resolve(config_path, logdir)
    config = load_config(where.config)
    click.echo(f"impsy: config {where.describe_config()}")
    click.echo(f"impsy: logs {where.describe_logdir()}")
    for warning in config.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)

    async def serve() -> None:
        import signal

        from impsy.app import check_edited_config
        from impsy.web.context import WebContext
        from impsy.web.server import WebServer

        server = WebServer(
            WebContext.create(
                config,
                None,
                logdir=where.logdir,
                host=host,
                port=port,
                check_config=check_edited_config,
            )
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
