"""One Ray cluster for every studio test that needs one, started once and stopped after them.

Package scope, not session: Ray's daemons keep a core busy, and the tests after this
package should not share the machine with them longer than they must. Under ``pytest -n``
the package is one unit of work (``tests/conftest.py``), so one worker starts it once."""

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
