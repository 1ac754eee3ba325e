"""impsy: play music with a mixture density recurrent network.

The package layout is the architecture: ``config`` (validated TOML),
``model`` (MDRNN inference without TensorFlow), ``mapping`` (MIDI/WebSocket
wire encodings), ``engine`` (the input pipeline and timed playback),
``dataset`` (logs to training data), ``conformance`` (IMPSY's contract) and
``cli`` (the ``impsy`` command).
"""

__version__ = "0.1.0"
