"""Learning a musician's own patterns: a small latent-variable model of one-bar patterns.

``vae`` is the model (NumPy only, so it trains on the runtime install and on a
Raspberry Pi). Built for issue 19 ("Learn my patterns"); the corpus readers,
the live commands and the web UI's map build on it.
"""
