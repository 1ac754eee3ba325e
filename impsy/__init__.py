"""impsy: play music with a mixture density recurrent network.

The package layout is the architecture; each layer imports only those below
it (``tests/test_architecture.py`` checks it), and the data path is
adapter -> engine -> model -> scheduler -> adapters.

- ground: ``errors`` (the two user errors), ``clock`` (now and call-at,
  injectable), ``ratelimit`` (warnings that cannot flood a terminal);
- ``mapping``: controller messages <-> the model's vectors, and the sparse
  input pipeline;
- ``config``: TOML into frozen, validated dataclasses, one-line errors;
- ``dataset``: IMPSY's log and dataset files, training data from logs and
  MIDI files;
- ``model``: MDRNN inference without TensorFlow (NumPy, LiteRT), sampling, NLL;
- ``engine``: the modes on an injected clock, the model's own playing, the
  one command table, the ports adapters and models plug into;
- ``io``: adapters (OSC, WebSocket, ``midi/``, ``serial/``);
  ``training``: Keras training and ``.tflite`` export (TensorFlow only here);
- ``sequencer``: the step sequencer (core, ``controllers/``, ``files/``) and
  its ``seq/...`` commands; ``conformance``: IMPSY's behavioural vectors;
- ``web``: the web UI on the run's own loop;
- ``app``: the composition root, which builds a run from a config;
- ``cli``: the ``impsy`` command.
"""

__version__ = "0.1.0"
