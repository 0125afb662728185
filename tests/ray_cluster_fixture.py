"""The module fixture of the tests that need a Ray cluster: a head (1 CPU, resource node_a) and node_b (1 CPU) on
loopback, the studio pointed at it through STUDIO_RAY, and everything stopped afterwards. The nodes hold a hub token
of their own in their environment (NODE_SECRET), as an operator's nodes may: only runs that may use the server's
secrets get it."""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

NODE_SECRET = "hf_a_token_of_the_nodes_own"  # the hub is offline in the tests: never sent anywhere


@contextmanager
def studio_on_cluster():
    pytest.importorskip("ray", reason="Ray is installed by the test set-up (pip install -e '.[test]')")
    import ray

    from studio.base.cluster_address import RAY_ENV
    from studio.runs.cluster import storage
    from tests.ray_cluster import LocalCluster

    cluster = LocalCluster(head_resources={"node_a": 1}, env={"HF_TOKEN": NODE_SECRET})
    before = os.environ.get(RAY_ENV)
    try:
        cluster.add_node("node_b")
        os.environ[RAY_ENV] = cluster.address
        yield cluster
    finally:
        if before is None:
            os.environ.pop(RAY_ENV, None)
        else:
            os.environ[RAY_ENV] = before
        ray.shutdown()
        storage.forget()
        cluster.stop()
