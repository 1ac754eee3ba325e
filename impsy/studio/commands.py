"""The studio's rows of the command table: train beside the performance, swap models in.

Registered on :class:`impsy.studio.live.LiveTraining` by ``impsy.app``; OSC
(``/impsy/train``), the web API and ``impsy commands`` see them like any
other row. ``train`` and ``model/use`` answer when their work is done
(``Pending``): the sender hears the model's path, or why it failed.
"""

from __future__ import annotations

from impsy.engine.table import BOOL, INT, STR, Arg, Command
from impsy.studio.live import AT, SIZES

AT_ARG = Arg(
    "at",
    STR,
    "now (default), or bar: at the sequencer's next bar line while it plays",
    choices=AT,
    optional=True,
)

STUDIO_COMMANDS: tuple[Command, ...] = (
    Command(
        "train",
        "train a model on a dataset of the datasets folder with the configured studio "
        "([studio]), beside the performance; use 1 swaps it in when done (at bar: on the one)",
        lambda live, dataset=None, size=None, epochs=None, use=None, at=None: live.train(
            dataset, size, epochs, use, at
        ),
        (
            Arg(
                "dataset",
                STR,
                "a .npz in datasets/ (default: training-dataset-<D>d.npz)",
                optional=True,
            ),
            Arg("size", STR, "the model size", choices=SIZES, optional=True),
            Arg("epochs", INT, "the most epochs (default 100)", low=1, high=100_000, optional=True),
            Arg("use", BOOL, "1 plays the new model as soon as it is back", optional=True),
            AT_ARG,
        ),  # fmt: skip
    ),
    Command(
        "train/status",
        "the training job: state, studio, epoch, losses, best so far, the model when done, "
        "a model waiting for the bar line",
        lambda live: live.status(),
        reply=True,
    ),
    Command("train/cancel", "stop the running training job", lambda live: live.cancel()),
    Command(
        "profile/save",
        "keep how the model plays (pitemp, sigmatemp, timescale, threshold and the steering: "
        "roles, held values, ranges, notes, density) beside its file, as NAME.profile.json; "
        "loaded with the model from then on",
        lambda live: live.save_profile(),
    ),
    Command(
        "model/use",
        "play with another model file of the models folder (loaded aside) from the next step, "
        "or with at bar from the sequencer's next bar line",
        lambda live, file, at=None: live.use(file, at),
        (Arg("file", STR, "a .tflite, .keras or .h5 in models/"), AT_ARG),
    ),
)
