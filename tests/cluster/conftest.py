"""A two-node Ray cluster on this machine for the tests that use it (one CPU a node)."""

import pytest

from deploytool.cluster.local_cluster import LocalCluster


@pytest.fixture(scope="module")
def two_node_cluster():
    """The head's address."""
    with LocalCluster(nodes=2, cpus_per_node=1) as address:
        yield address
