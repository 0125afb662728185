"""The benchmark tests import lm-eval in the test process, and importing it sets HF_XET_HIGH_PERFORMANCE: an
import-time setting the shared spare worker's fingerprint counts (tests/conftest.py), so every later run of the
same test process would start a fresh worker instead of forking from it (a sweep test saw it). Put back."""

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
