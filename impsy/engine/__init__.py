"""The interaction engine: performer input into the model, the model's output into sound.

``core`` decides who plays when in each of IMPSY's modes; ``player`` is the
model playing on its own outputs at absolute deadlines; ``predictor`` runs
the model inline or on one worker thread; ``playback`` holds the rules the
conformance vectors pin down. ``ports`` states what the engine needs from
outside (adapters, a model), and ``table`` with ``commands`` is the one
command table every front end dispatches through (``reference`` renders it
for people). Time is an injected ``impsy.clock.Clock``, so every mode's
timing is tested exactly on a manual clock. The engine imports nothing from
``io``, ``sequencer``, ``web`` or ``cli``: ``impsy.app`` puts them together.
"""
