"""A Ray cluster of two nodes on loopback for the cluster tests (tests/ray_cluster.py), and the environment put back
after each test (importing ray sets variables of its own, which the shared spare worker's fingerprint would count)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def environment_as_it_was():
    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)
