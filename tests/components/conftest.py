"""Fixtures for the UI tests: an offline environment, a tiny model, a studio cache."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Workers are subprocesses: they inherit these from os.environ, so set them before any run starts.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def patient_launch():
    """gradio's launch() asks its own page once with a 3 s timeout and refuses to go on ("localhost is not
    accessible") when the answer is late. This app's page takes longer than that while three test processes share
    two cores; here it may take up to 60 s, as a person's browser would wait."""
    import httpx
    from gradio import networking

    def url_ok(url: str) -> bool:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.head(url, timeout=30, verify=False).status_code in (200, 401, 301, 302, 303, 307, 308):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    original = networking.url_ok
    networking.url_ok = url_ok
    yield
    networking.url_ok = original


@pytest.fixture(scope="session")
def ui_cache(tmp_path_factory) -> Path:
    """The studio cache (datasets cache, converted models): the one in STUDIO_CACHE, else a temp one."""
    path = Path(os.environ.get("STUDIO_CACHE") or tmp_path_factory.mktemp("studio-cache"))
    os.environ["STUDIO_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def ui_tiny_model(tmp_path_factory, ui_cache) -> Path:
    """A tiny random BERT with the MiniLM tokenizer: trains in seconds (it learns little; the flow is what counts)."""
    from tests.tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("ui-tiny") / "bert")


@pytest.fixture(scope="module")
def app_options() -> dict:
    """build_app's keyword arguments for the module's `app`; a module that needs others overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def app(request, tmp_path_factory, ui_cache, app_options):
    """The app served for one test module from a runs folder of its own: yields (url, runs folder); whatever is
    still training or sweeping at the end is stopped."""
    from tests.components.ui_support import running_app, stop_active_runs

    runs_dir = tmp_path_factory.mktemp(f"{request.module.__name__.rpartition('.')[2]}-runs")
    with running_app(runs_dir, **app_options) as url:
        yield url, runs_dir
    stop_active_runs(runs_dir)


@pytest.fixture(scope="module")
def client(app):
    """A gradio_client Client on the module's app."""
    from gradio_client import Client

    return Client(app[0], verbose=False)
