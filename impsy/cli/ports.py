"""``impsy ports``: the MIDI and serial ports here, named as the config names them.

A config names ports (``[midi] in_device``/``out_device``, ``[serial]
port``), and a name that matches nothing leaves impsy waiting for a device
that never comes. This command lists what the machine has, as names to
paste: each MIDI port's name (without ALSA's numbers, which change between
plug-ins, when the shorter name still picks it), each serial device's path
and its stable aliases. It then shows what the config's names match.
``--learn NAME`` listens to a MIDI input and prints the ``[midi] input``
mapping of the controls moved (``impsy.io.midi.learn``); the web UI's config
wizard runs both as subprocesses (``--json``), so no MIDI client is ever made
in the server's process.

It works with no MIDI system at all: a missing binding, a JACK server that
is not running or no ALSA sequencer is one line where the MIDI ports would
be, and the serial ports are listed anyway. Exit status: 0 when everything
was listed, 1 when MIDI or the serial ports could not be (the line says
why), 2 for a mistake on the command line or a learn that could not start.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from impsy.cli.errors import user_errors

if TYPE_CHECKING:
    from impsy.config import Config
    from impsy.io.midi.listing import MidiListing
    from impsy.io.serial.listing import SerialListing


def _load_config(config_path: str | None) -> tuple[Config | None, str | None, str | None]:
    """The config to match (as ``impsy run`` finds it), a description, and an error line.

    A ``--config`` that cannot be loaded is the user's mistake (ImpsyError);
    one found on its own only costs the matching, with one line saying why.
    """
    from impsy.config import load_config, locations
    from impsy.errors import ImpsyError

    if config_path is not None:
        return load_config(config_path), config_path, None
    try:
        where = locations.resolve()
        return load_config(where.config), where.describe_config(), None
    except ImpsyError as err:
        return None, None, f"config: {err}; its port names are not matched"


def _config_ports(config: Config | None) -> list[tuple[str, str, bool | None]]:
    """``(setting, name, is_input)`` for each port the config names (None: serial)."""
    if config is None:
        return []
    named: list[tuple[str, str, bool | None]] = []
    if config.midi is not None and not config.midi.virtual:
        named += [("[midi] in_device", name, True) for name in config.midi.in_device]
        named += [("[midi] out_device", name, False) for name in config.midi.out_device]
    for section, label in (
        (config.serial, "[serial] port"),
        (config.serialmidi, "[serialmidi] port"),
    ):
        if section is not None:
            named.append((label, section.port, None))
    return named


def _matches(
    named: list[tuple[str, str, bool | None]], midi: MidiListing, serial: SerialListing
) -> list[dict[str, Any]]:
    """What each configured name picks: a MIDI port by IMPSY's rule, a serial path if there."""
    import os

    from impsy.io.midi.ports import match_port
    from impsy.io.serial.listing import is_device

    found = []
    for setting, name, is_input in named:
        if is_input is None:
            match = os.path.realpath(name) if is_device(os.path.expanduser(name)) else None
        elif midi.error is not None:
            match = None
        else:
            match = match_port(name, midi.names(is_input))
        found.append({"setting": setting, "name": name, "match": match})
    return found


def _show_midi(midi: MidiListing) -> None:
    if midi.error is not None:
        click.echo(midi.error)
        return
    for title, setting, ports in (
        ("inputs", "[midi] in_device", midi.inputs),
        ("outputs", "[midi] out_device", midi.outputs),
    ):
        click.echo(f"MIDI {title} ({midi.api}), names for {setting}:")
        mine = [port for port in ports if port.own]
        shown = [port for port in ports if not port.own]
        for port in shown:
            full = "" if port.config_name == port.name else f"  (full name {json.dumps(port.name)})"
            click.echo(f"  {json.dumps(port.config_name)}{full}")
        if not shown:
            click.echo("  none")
        if mine:
            click.echo(f"  (and {len(mine)} port(s) of a running impsy, not for the config)")


def _show_serial(serial: SerialListing, asked: tuple[str, ...]) -> None:
    click.echo("Serial ports, paths for [serial] port or [serialmidi] port:")
    if serial.error is not None:
        click.echo(f"  {serial.error}")
    for port in serial.ports:
        about = port.description
        if port.device != port.path:
            about += f" {port.device}"
        if port.hwid != "n/a":
            about += f" ({port.hwid})"
        stable = ""
        if port.aliases:
            stable = "; also " + ", ".join(json.dumps(alias) for alias in port.aliases)
        click.echo(f"  {json.dumps(port.path)}  {about}{stable}")
    if not serial.ports and serial.error is None:
        click.echo("  none")
    for path in (path for path in serial.missing if path in asked):
        click.echo(f"  {json.dumps(path)}  not found")


def _show_config(described: str | None, matches: list[dict[str, Any]]) -> None:
    click.echo(f"What the config's names pick ({described}):")
    for item in matches:
        picked = "not found" if item["match"] is None else json.dumps(item["match"])
        click.echo(f"  {item['setting']} {json.dumps(item['name'])} -> {picked}")


def _learn(name: str, seconds: float, dimension: int, api: str | None, as_json: bool) -> None:
    """``--learn``: listen, print each control as it is learned, then the mapping."""
    import signal

    from impsy.io.midi.learn import describe, learn

    slots = dimension - 1
    stop: list[int] = []

    def on_signal(number: int, frame: object) -> None:
        stop.append(number)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    def emit(event: dict[str, Any]) -> None:
        click.echo(json.dumps(event))
        sys.stdout.flush()

    def listening(device: str, label: str) -> None:
        if as_json:
            emit(
                {
                    "event": "listening",
                    "device": device,
                    "api": label,
                    "seconds": seconds,
                    "slots": slots,
                }
            )
        else:
            click.echo(
                f"listening to {json.dumps(device)} ({label}) for {seconds:g} s: move up to "
                f"{slots} control(s), one after another (Ctrl-C ends it)"
            )

    count = []

    def entry(learned: list[Any]) -> None:
        count.append(learned)
        if as_json:
            emit({"event": "entry", "entry": learned, "label": describe(learned)})
        else:
            click.echo(f"  {len(count)}  {describe(learned)}  {json.dumps(learned)}")

    try:
        result = learn(
            name,
            seconds,
            slots,
            api,
            on_listening=listening,
            on_entry=entry,
            stopped=lambda: bool(stop),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        emit({"event": "done", **result.to_json()})
        return
    why = {
        "full": "every value has a control",
        "time": f"{seconds:g} s are up",
        "stopped": "stopped",
    }
    click.echo(f"{why[result.reason]}: {len(result.learned)} of {slots} value(s) learned")
    if result.filled:
        click.echo(f"the last {result.filled} entries are controllers nobody moved: edit them")
    click.echo(f"in_device = [{json.dumps(name)}]")
    click.echo(f"input.{json.dumps(name)} = {json.dumps(result.mapping)}")


@click.command("ports")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for programs (see impsy/web/API.md)."
)
@click.option(
    "--config",
    "-c",
    "config_path",
    metavar="FILE",
    help="The config whose port names to match (default: as impsy run finds it).",
)
@click.option("--no-config", is_flag=True, help="List only; read no config.")
@click.option(
    "--serial",
    "serial_paths",
    multiple=True,
    metavar="PATH",
    help="Also list this serial device if it exists: a path or a glob such as '/tmp/ttyV*' "
    "(virtual ports are not found otherwise). Repeatable.",
)
@click.option(
    "--midi-api",
    help="The MIDI system to list (as IMPSY_MIDI_API: UNIX_JACK, LINUX_ALSA, ...; "
    "default: IMPSY_MIDI_API, else RtMidi's default).",
)
@click.option(
    "--learn",
    "learn_name",
    metavar="NAME",
    help="Listen to the MIDI input NAME picks and print the [midi] input mapping of the "
    "controls you move, in the order you move them.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=1, max=60),
    default=10.0,
    show_default=True,
    help="--learn: how long to listen.",
)
@click.option(
    "--dimension",
    type=click.IntRange(min=2, max=256),
    help="--learn: the model's dimension; dimension - 1 values are learned "
    "(default: the config's [model] dimension).",
)
@user_errors
def ports(
    as_json: bool,
    config_path: str | None,
    no_config: bool,
    serial_paths: tuple[str, ...],
    midi_api: str | None,
    learn_name: str | None,
    seconds: float,
    dimension: int | None,
) -> None:
    """List MIDI inputs, MIDI outputs and serial ports, as names to paste into the config.

    Exit status 0 when all were listed, 1 when MIDI or the serial ports could
    not be (one line says why; the rest is listed anyway), 2 for a mistake on
    the command line or a --learn that cannot start.
    """
    from impsy.errors import ImpsyError
    from impsy.io.midi.backend import API_ENV, selected_api

    if config_path is not None and no_config:
        raise ImpsyError("--config and --no-config contradict each other; give one")
    if midi_api is not None:
        try:
            selected_api(midi_api)
        except ImpsyError as err:
            raise ImpsyError(str(err).replace(f"{API_ENV}=", "--midi-api ")) from None
    config, described, config_error = (None, None, None)
    if not no_config:
        config, described, config_error = _load_config(config_path)
    if learn_name is not None:
        if not learn_name:
            raise ImpsyError("--learn needs a MIDI input name (impsy ports lists them)")
        if dimension is None:
            dimension = config.model.dimension if config is not None else 9
        _learn(learn_name, seconds, dimension, midi_api, as_json)
        return

    from impsy.io.midi.listing import list_midi
    from impsy.io.serial.listing import list_serial

    named = _config_ports(config)
    midi = list_midi(midi_api)
    given = [*serial_paths, *(name for _, name, is_input in named if is_input is None)]
    serial = list_serial(given)
    matches = _matches(named, midi, serial)
    if as_json:
        body: dict[str, Any] = {"midi": midi.to_json(), "serial": serial.to_json()}
        if not no_config:
            body["config"] = {"file": described, "error": config_error, "matches": matches}
        click.echo(json.dumps(body, indent=2))
    else:
        _show_midi(midi)
        _show_serial(serial, serial_paths)
        if config_error is not None:
            click.echo(config_error)
        if matches:
            _show_config(described, matches)
    if midi.error is not None or serial.error is not None:
        sys.exit(1)
