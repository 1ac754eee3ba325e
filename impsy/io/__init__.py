"""Adapters: the engine's connections to controllers, synths and other programs."""
