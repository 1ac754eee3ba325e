"""Studios without a cluster: the address and config checks, the unreachable studio, sweeps.

The unreachable studio is a real refused connection on 127.0.0.1. A local sweep run
to the end (real TensorFlow, trials one after another on one split) is tested through
the web UI's jobs, in tests/web/test_jobs.py (a sweep from the browser).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from click.testing import CliRunner  # noqa: E402

from impsy.cli.train import train  # noqa: E402
from impsy.config import ConfigError, load_config_text  # noqa: E402
from impsy.config.studio_address import parse_address  # noqa: E402
from impsy.errors import ImpsyError  # noqa: E402
from impsy.studio.sweep import Trial, best_trial, expand, parse_grid, table  # noqa: E402
from tests.paths import ROOT  # noqa: E402
from tests.studio.ray_cluster import free_tcp_port  # noqa: E402
from tests.training.test_train import make_dataset  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")


def test_addresses_parse_or_are_refused_with_the_text():
    assert parse_address("127.0.0.1:6379").port == 6379
    assert parse_address("ray://studio.local:10001").host == "studio.local"
    assert parse_address("").local and parse_address("local").local
    for bad in ("127.0.0.1", "host:0", "host:port", ":6379"):
        with pytest.raises(ImpsyError, match=re.escape(repr(bad))):
            parse_address(bad)


def test_the_studio_section_is_checked_when_the_config_loads():
    config = load_config_text('[studio]\nbackend = "ray"\naddress = "10.0.0.5:6379"\n')
    assert config.studio.backend == "ray" and config.studio.address == "10.0.0.5:6379"
    assert load_config_text("").studio is None
    with pytest.raises(ConfigError, match=r"\[studio\] backend.*local, ray.*'cloud'"):
        load_config_text('[studio]\nbackend = "cloud"\n')
    with pytest.raises(ConfigError, match=r"\[studio\] address.*'nowhere'"):
        load_config_text('[studio]\nbackend = "ray"\naddress = "nowhere"\n')


def test_a_studio_that_cannot_be_reached_is_one_line_naming_it(tmp_path):
    data = make_dataset(tmp_path / "d.npz")
    address = f"127.0.0.1:{free_tcp_port()}"  # nothing listens there
    result = CliRunner().invoke(
        train,
        ["-S", str(data), "-O", str(tmp_path), "--studio", "ray", "--studio-address", address],
    )
    assert result.exit_code == 2  # impsy's exit status for a mistake the user can fix
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and address in lines[0] and "cannot be reached" in lines[0], (
        result.output
    )
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.keras"))


def test_a_sweep_grid_expands_in_order_and_refuses_mistakes():
    grid = parse_grid(["units=16,32 dropout=0,0.2", "seq=8"])
    assert grid == {"units": [16, 32], "dropout": [0.0, 0.2], "sequence_length": [8]}
    assert expand(grid) == [
        {"units": 16, "dropout": 0.0, "sequence_length": 8},
        {"units": 16, "dropout": 0.2, "sequence_length": 8},
        {"units": 32, "dropout": 0.0, "sequence_length": 8},
        {"units": 32, "dropout": 0.2, "sequence_length": 8},
    ]
    for bad, said in (
        ("colour=red", "expected name=value"),
        ("units=many", "'many' is not an integer"),
        ("dropout=1.5", "dropout must be 0-0.99"),
        ("size=huge", "size 'huge'"),
        ("units=1 units=2", "swept twice"),
    ):
        with pytest.raises(ImpsyError, match=re.escape(said)):
            parse_grid([bad])


def test_the_best_trial_has_the_lowest_score_and_failures_never_win():
    trials = [
        Trial(1, {"units": 8}, val_nll=2.5, epochs_run=3, best_epoch=3, seconds=1.0),
        Trial(2, {"units": 16}, val_nll=1.5, epochs_run=3, best_epoch=2, seconds=2.0),
        Trial(3, {"units": 32}, error="out of memory"),
    ]
    best = best_trial(trials)
    assert best is trials[1]
    lines = table(trials, best)
    assert lines[0].split() == ["trial", "units", "epochs", "best", "val_nll", "seconds"]
    assert lines[2].split() == ["2", "16", "3", "2", "1.5000", "2.0", "*"]
    assert "failed: out of memory" in lines[3] and not lines[3].endswith("*")
    assert best_trial([trials[2]]) is None


def test_a_sweep_ranks_trials_by_the_steps_the_marks_weight(tmp_path):
    """A dataset built from marked logs: each validation step counts as its row's weight.

    The expected score is summed here from the pure-Python log density of
    ``impsy.model.steering.log_prob``, not from the scorer under test.
    """
    from impsy.model import load_model
    from impsy.model.steering import log_prob
    from impsy.studio.sweep import validation_nll

    model_file = ROOT / "models" / "musicMDRNN-dim9-layers2-units64-mixtures5-scale10.keras"
    rng = np.random.default_rng(4)
    performances = [rng.uniform(0.05, 0.5, (n, 9)).astype(np.float32) for n in (12, 9, 7)]
    weights = [rng.choice([0.0, 0.5, 1.0, 2.0], n).astype(np.float32) for n in (12, 9, 7)]
    weights[0][-3:] = 0.0  # a bad span at the end of the first performance
    summary = {"split": {"validation": [0, 2]}}

    model = load_model(model_file, engine="numpy")
    total = weighted = 0.0
    for i in (0, 2):
        model.reset()
        rows = performances[i]
        for t in range(len(rows) - 1):
            raw = model.step(rows[t]).raw
            nll = -log_prob(raw, rows[t + 1], model.dimension, model.mixtures)
            total += float(weights[i][t + 1])
            weighted += float(weights[i][t + 1]) * nll
    expected = weighted / total
    score = validation_nll(model_file, summary, performances, weights)
    assert score == pytest.approx(expected, rel=1e-6)
    plain = validation_nll(model_file, summary, performances)
    assert plain != pytest.approx(score, rel=1e-3)  # the weights change the ranking score
    # The steps of the bad span do not count, whatever the model thinks of its rows.
    wild = [p.copy() for p in performances]
    wild[0][-3:] = 0.99
    assert validation_nll(model_file, summary, wild) != pytest.approx(plain, rel=1e-3)
    assert validation_nll(model_file, summary, wild, weights) == pytest.approx(score, rel=1e-9)
