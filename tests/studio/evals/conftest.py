"""The benchmark tests import lm-eval in the test process, and importing it sets HF_XET_HIGH_PERFORMANCE, which made
every later run of the same test process start a fresh worker instead of forking from the shared spare (a sweep test
saw it): the environment is put back after each test (tests.support.environment_as_it_was)."""

from __future__ import annotations

import pytest

from tests import support


@pytest.fixture(autouse=True)
def environment_as_it_was():
    yield from support.environment_as_it_was()
