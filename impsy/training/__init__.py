"""Training MDRNNs: datasets in, ``.keras`` + ``.tflite`` + a JSON summary out.

Everything that needs TensorFlow imports it inside functions, so importing
this package (or ``impsy.cli``) stays cheap and ``impsy run`` never pays for
TensorFlow. Modules, one job each:

* :mod:`~impsy.training.split` - which whole performances train, validate, test;
* :mod:`~impsy.training.windows` - training windows drawn lazily from performances;
* :mod:`~impsy.training.network` - the Keras 3 training and inference models;
* :mod:`~impsy.training.tflite` - inference model to a builtin-ops ``.tflite``;
* :mod:`~impsy.training.trainer` - the fit loop, best-weights restore, outputs;
* :mod:`~impsy.training.recipes` - named sequences of runs (``--recipe staged``);
* :mod:`~impsy.training.scoring` - weights scored on whole performances (``--select-by``);
* :mod:`~impsy.training.convert` - existing weight files to ``.tflite``;
* :mod:`~impsy.training.loss_plot` - the loss per epoch as a matplotlib PNG.
"""
