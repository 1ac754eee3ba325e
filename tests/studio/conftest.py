"""One Ray cluster for every studio test that needs one, started once and stopped at the end."""

from __future__ import annotations

import pytest

from tests.studio.ray_cluster import RayCluster


@pytest.fixture(scope="session")
def ray_cluster():
    cluster = RayCluster(cpus=2)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
