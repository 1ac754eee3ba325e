"""The list of ``impsy`` subcommands, each in its own light module."""

from impsy.cli.config_check import check_config
from impsy.cli.conformance import conformance
from impsy.cli.convert import convert, convert_tflite
from impsy.cli.dataset import dataset
from impsy.cli.evaluate import evaluate
from impsy.cli.init import init
from impsy.cli.run import run
from impsy.cli.train import train

ALL = [run, init, check_config, dataset, train, convert, convert_tflite, evaluate, conformance]
