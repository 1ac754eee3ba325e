"""MDRNN inference without TensorFlow.

``load_model`` reads IMPSY's ``.tflite``, ``.keras`` and ``.h5`` files and
returns an :class:`~impsy.model.mdrnn.MDRNN` that steps the network one
event at a time and samples the next event. Only NumPy and h5py are needed;
LiteRT is imported when a ``.tflite`` is loaded.
"""

from impsy.model.errors import ModelError, ModelWarning
from impsy.model.loader import load_model
from impsy.model.mdrnn import MDRNN
from impsy.model.params import SCALE, MixtureParams

__all__ = ["MDRNN", "SCALE", "MixtureParams", "ModelError", "ModelWarning", "load_model"]
