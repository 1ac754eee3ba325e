"""The studio's rows of the command table: train beside the performance, swap models in.

Registered on :class:`impsy.studio.live.LiveTraining` by ``impsy.app``; OSC
(``/impsy/train``), the web API and ``impsy commands`` see them like any
other row. ``train`` and ``model/use`` answer when their work is done
(``Pending``): the sender hears the model's path, or why it failed.
"""

from __future__ import annotations

from impsy.engine.table import BOOL, INT, STR, Arg, Command
from impsy.studio.live import SIZES

STUDIO_COMMANDS: tuple[Command, ...] = (
    Command(
        "train",
        "train a model on a dataset of the datasets folder with the configured studio "
        "([studio]), beside the performance; use 1 swaps it in when done",
        lambda live, dataset=None, size=None, epochs=None, use=None: live.train(
            dataset, size, epochs, use
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
        ),  # fmt: skip
    ),
    Command(
        "train/status",
        "the training job: state, studio, epoch, losses, best so far, the model when done",
        lambda live: live.status(),
        reply=True,
    ),
    Command("train/cancel", "stop the running training job", lambda live: live.cancel()),
    Command(
        "profile/save",
        "keep how the model plays (pitemp, sigmatemp, timescale, threshold) beside its file, "
        "as NAME.profile.json; loaded with the model from then on",
        lambda live: live.save_profile(),
    ),
    Command(
        "model/use",
        "play with another model file of the models folder from the next step (loaded aside)",
        lambda live, file: live.use(file),
        (Arg("file", STR, "a .tflite, .keras or .h5 in models/"),),
    ),
)
