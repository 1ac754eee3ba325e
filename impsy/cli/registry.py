"""The list of ``impsy`` subcommands, each in its own light module."""

from impsy.cli.commands import commands
from impsy.cli.config_check import check_config
from impsy.cli.conformance import conformance
from impsy.cli.convert import convert, convert_tflite
from impsy.cli.dataset import dataset
from impsy.cli.evaluate import evaluate
from impsy.cli.export_session import export_session
from impsy.cli.init import init
from impsy.cli.patterns import patterns
from impsy.cli.ports import ports
from impsy.cli.run import run
from impsy.cli.status import status
from impsy.cli.temperatures import temperatures
from impsy.cli.train import train
from impsy.cli.webui import webui

ALL = [
    run,
    init,
    check_config,
    dataset,
    train,
    convert,
    convert_tflite,
    evaluate,
    temperatures,
    patterns,
    conformance,
    export_session,
    status,
    ports,
    webui,
    commands,
]
