"""The cluster tests import ray, which sets environment variables of its own: put back after each test
(tests.support.environment_as_it_was says why)."""

from __future__ import annotations

import pytest

from tests import support


@pytest.fixture(autouse=True)
def environment_as_it_was():
    yield from support.environment_as_it_was()
