"""Hardware controllers bound to the sequencer: profiles of rules in, LEDs out.

``profiles`` reads a controller's TOML file into rules (``rules``) checked
against the command table, ``port`` feeds a controller's messages through
them and keeps its LEDs (``leds``) in step with the sequencer.
"""
