"""The interaction engine: turning performer input into model input and model output into sound.

The pure parts (``pipeline``, ``playback``) hold the rules IMPSY's
conformance vectors pin down, with time passed in rather than read from a
clock, so they can be tested exactly; the asyncio scheduling that drives
them lives alongside.
"""
