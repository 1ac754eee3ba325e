"""One Ray cluster for every studio test that needs one, started once and stopped after them.

Package scope, not session: Ray's daemons keep a core busy, and the suite's timing tests
after this package (the sequencer while a pattern model trains, the web UI's live feed)
must not share the machine with them."""

from __future__ import annotations

import pytest

from tests.studio.ray_cluster import RayCluster


@pytest.fixture(scope="package")
def ray_cluster():
    cluster = RayCluster(cpus=2)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
