"""Fixtures the task tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_models import make_tiny_llama


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, studio_cache) -> Path:
    """A tiny random Llama with a chat template (built from a config, offline), one per test file."""
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "llama")
