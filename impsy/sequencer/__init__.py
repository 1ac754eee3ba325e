"""A step sequencer inside impsy: patterns on a grid, played in time, with the model on it."""
