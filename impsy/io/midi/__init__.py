"""MIDI: the ``[midi]`` adapter and the RtMidi ports it (and the sequencer) open.

``adapter`` turns messages into gestures and predictions into messages;
``ports`` keeps named ports connected across unplugging; ``backend`` is the
only module that touches RtMidi; ``messages`` and ``feedback`` are pure.
"""
