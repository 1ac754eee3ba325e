"""Fuzz targets for every parser impsy exposes to the outside world.

Each module in this package is one target with a ``one_input(data: bytes)``
function that feeds ``data`` to the real parser the way its adapter does, and
raises (``AssertionError`` or the escaping exception) only when impsy
misbehaves: a crash, a broken invariant, or bad input that was neither
counted nor reported. ``python -m fuzz.run --target NAME`` drives one target;
``tests/test_fuzz_*.py`` replay the regression corpus in ``tests/fuzz_corpus``.
"""

TARGETS: tuple[str, ...] = (
    "osc",
    "serial_csv",
    "serial_midi",
    "midi",
    "websocket",
    "http",
    "config",
    "logs",
    "midi_file",
    "model",
    "keras_zip",
)
"""Every target module, by name: the five adapters' and the web UI's front door first,
then the files'."""
