"""Every limit impsy puts on a model file, in one place, each with the reason for its value.

Model files come from anyone: the web UI takes uploads (50 MB by default,
``[webui] max_upload_mb``) into a running performance, and a downloaded
``.keras`` is a zip that can say anything about itself. So every size a file
declares is checked against a cap *before* anything is unpacked or read, and
every read is bounded by the cap whatever the file declares.

The caps are set from the largest real models, measured with Keras 3.15:

* the bundled models: 0.26 MB (``.keras``, ``.h5``, ``.tflite``);
* an xl MDRNN (512 units x 3 layers, 5 mixtures) at dimension 9: its
  ``model.weights.h5`` is 21.3 MB, 63.8 MB when saved while training (with
  Adam's two moments per weight);
* the same at impsy's largest dimension, 256 (``[model] dimension``):
  28.4 MB, 85.1 MB with Adam's state; ``config.json`` 8.6 KB,
  ``metadata.json`` 64 bytes; Keras stores all three entries uncompressed.

so each cap is above the largest real figure by a margin, and far below
what would hurt the machine. ``tests/model/test_model_limits.py`` loads
every model in the repository and a real xl model at dimension 256 with its
optimizer state, so a cap that refuses a real model fails a test.
"""

from __future__ import annotations

MiB = 1024 * 1024

# ------------------------------------------------------------ the .keras zip
MAX_WEIGHTS_BYTES = 128 * MiB
"""Largest ``model.weights.h5`` impsy unpacks from a ``.keras``, declared or inflated:
1.5 times the largest real one (an xl model at dimension 256 saved with Adam's state,
85.1 MB); a zip bomb declaring more is refused from the zip directory, one that lies
about its size stops inflating here."""

MAX_JSON_BYTES: dict[str, int] = {"config.json": 1 * MiB, "metadata.json": 64 * 1024}
"""Largest ``config.json`` and ``metadata.json`` unpacked (and largest JSON text parsed,
the ``model_config`` of an ``.h5`` included): Keras writes 8.6 KB and 64 bytes for an xl
model; a hundred times that is still a few milliseconds to parse."""

MAX_RATIO = 100
"""Highest compression ratio (unpacked size over the compressed bytes really in the file)
of an entry larger than :data:`RATIO_FLOOR`: Keras stores entries (1:1), and real weights
hardly compress (deflate, bzip2 and LZMA all reach 1.06:1 on an xl model's, 1.2:1 on the
bundled model's), while a zip bomb of zeros is about 1,000:1 with deflate, and over a
million to one with bzip2."""

RATIO_FLOOR = 1 * MiB
"""Entries unpacking to less than this are not held to :data:`MAX_RATIO`: JSON and small
weights compress well, and a megabyte is harmless."""

MAX_ENTRIES = 256
"""Most entries in a ``.keras`` zip: Keras writes three (a few more with assets); zipfile
builds an object per entry before any other check can run."""

MAX_DIRECTORY_BYTES = 1 * MiB
"""Largest zip central directory: Keras writes about 200 bytes; zipfile reads and parses
all of it when it opens the archive, before any entry can be checked."""

READ_BYTES = 1 * MiB
"""Most bytes read or inflated in one step while unpacking an entry: small enough that
overshooting a cap costs nothing, large enough that unpacking 85 MB takes 85 steps."""

MAX_LZMA_DICTIONARY = 64 * MiB
"""Largest LZMA dictionary an entry may ask for: the decoder allocates it before the first
byte, and the header can ask for 4 GiB; 64 MiB is xz's and 7-Zip's largest preset."""

MAX_VERSION = 64
"""Longest ``keras_version`` accepted (``3.4.1`` is 5 characters): it is printed in the
start-up summary, so it must be short, printable text."""

# --------------------------------------------------------------- HDF5 arrays
MAX_ARRAY_BYTES = 128 * MiB
"""Most bytes of arrays one ``.h5``/``model.weights.h5`` may make impsy read, counted from
the declared shapes before reading, and the largest chunk (HDF5 inflates a chunk whole):
4.5 times an xl model's layer weights at dimension 256 (28.4 MB; optimizer state is never
read). A few bytes of HDF5 can declare gigabytes of unwritten fill values."""

MAX_ARRAYS = 1024
"""Most arrays read from one file: an xl MDRNN has 15."""

MAX_OBJECTS = 4096
"""Most HDF5 groups and arrays looked at under the layers: an xl ``.keras`` has about
30; visiting each costs HDF5 work and Python objects."""

# ----------------------------------------------------- the checking process
CHECK_MEMORY_BYTES = 1024 * MiB
"""Address space of the child process that loads an uploaded or hot-swapped model: the
largest real model (xl at dimension 256 with Adam's state, 85 MB) peaks at 224 MiB of it
(150 MiB resident), the bundled ``.tflite`` under LiteRT at 130 MiB, and a file at the caps
above (120 MiB of arrays in a 120 MiB ``model.weights.h5``) at 355 MiB; by arithmetic no
file the caps accept needs over 700 MiB (the unpacked entry, the arrays, their float32
copies). A limit, not a reservation: the child uses what the file needs and is refused an
allocation past this, so whatever a hostile file does stays in the child."""

CHECK_SECONDS = 60.0
"""Longest the checking process may take, in CPU and in wall time: a real xl model loads
in 0.3 s on a desktop (the child starts in 0.2 s), a few seconds on a Raspberry Pi; a file
that takes a minute is not a model worth waiting for."""

CHECKS_AT_ONCE = 2
"""Most checking processes at once: a burst of uploads waits its turn instead of filling
the machine (two, so one slow check does not hold up the next upload)."""

# ------------------------------------------------------------------- messages
MAX_MESSAGE = 2000
"""Longest ``ModelError`` message, in characters: ample for any real explanation (the
longest, an inventory of an unexpected architecture, is a few hundred), short enough that
names and values quoted from a hostile file cannot flood a terminal or a log."""

MAX_INVENTORY = 600
"""Longest inventory of a file's arrays quoted in an error message, in characters."""
