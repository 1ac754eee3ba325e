"""One seed for every random source training touches, and deterministic kernels.

``keras.utils.set_random_seed`` seeds Python's ``random``, NumPy and
TensorFlow; op determinism makes TensorFlow pick deterministic kernels (and
run tf.data deterministically), so the same seed on the same data gives the
same weights on one machine. It can cost speed on GPUs; on CPUs it is cheap.
"""

from __future__ import annotations


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and turn on TensorFlow op determinism."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
