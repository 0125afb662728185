"""Shared fixtures for the engine tests: an offline environment, tiny models, data writers, run stores.

Everything here is offline (HF_HUB_OFFLINE=1) and small: the models are tiny BERTs built from a
config, the data sets have a few dozen rows. Workers are real subprocesses; they inherit os.environ,
so the environment is set at import time, before any run starts.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# First on the path: tests/studio/ (no __init__.py) must never shadow the real `studio` package.
if sys.path[:1] != [str(ROOT)]:
    sys.path.insert(0, str(ROOT))

# Under pytest-xdist each of the two test processes, and every worker they start, gets one thread: two
# trainings with every thread each on the same cores would each slow down many times over.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# What gr.Blocks sets with analytics off; set before the shared spare starts (below), or its import-time
# settings would differ from every UI test's runs and each would spawn a fresh worker.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "True")
# A registry path from the developer's shell would send test runs into their real registry.
os.environ.pop("STUDIO_REGISTRY", None)
os.environ.pop("STUDIO_RUNS_PER_DEVICE", None)
os.environ.pop("STUDIO_ALLOW_LOCAL_MODELS", None)
# Runs started from a test process fork from the one spare worker shared_spare lends every Store (below); sweep
# drivers, which run in processes of their own, keep their own spare as they do outside tests.
os.environ.pop("STUDIO_PREWARM", None)
# One studio cache for the whole session (datasets cache, the converted SmolLM2): the one given in
# STUDIO_CACHE, else a per-user folder under the system temp dir, so SmolLM2 is converted once per
# machine (about 40 s) and reused by later sessions and by tests/components.
os.environ.setdefault("STUDIO_CACHE", str(Path(tempfile.gettempdir()) / f"studio-test-cache-{os.getuid()}"))

from studio.base import log_filter  # noqa: E402
from tests.support import kill_active, make_learnable_bert, separable_rows, train_to_completion, write_csv  # noqa: E402
from tests.tiny_models import make_tiny_llama  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """The library warnings the studio judged harmless, silenced in each test as in the studio's own processes
    (each with its reason in studio.base.log_filter.HARMLESS); any other warning shows in the summary. pytest
    gives every test a fresh copy of the filters, so this runs per test, before its fixtures."""
    log_filter.quiet_warnings()


# ------------------------------------------------------------------ fixtures --
@pytest.fixture(scope="session")
def studio_cache() -> Path:
    path = Path(os.environ["STUDIO_CACHE"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, studio_cache) -> Path:
    """Folder of a tiny BERT that learns: pass it as the config's `model`."""
    return make_learnable_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory, studio_cache) -> Path:
    """A tiny random Llama with a chat template (built from a config, offline), one per test file."""
    return make_tiny_llama(tmp_path_factory.mktemp("models") / "llama")


@pytest.fixture(scope="session")
def separable_csv(tmp_path_factory) -> Path:
    """48 rows, 2 classes: splits 40/4/4 with the default 80/10/10."""
    return write_csv(tmp_path_factory.mktemp("data") / "tickets.csv", separable_rows(24))


@pytest.fixture(scope="session", autouse=True)
def shared_spare(tmp_path_factory):
    """One spare worker per test process (studio.runs.prewarm, as the app keeps one), lent to every Store the
    tests make: each run's worker is forked from it with torch and transformers imported, instead of spending
    ~5 s of CPU importing them again. A few hundred runs start in the suite, so that is minutes on two cores.
    Runs started by the CLI in a subprocess, and those of tests/studio/runs/test_prewarm.py's own spare, still
    spawn fresh workers; STUDIO_TEST_SPARE=0 turns the shared one off."""
    if os.environ.get("STUDIO_TEST_SPARE", "1") == "0":
        yield None
        return
    from studio.runs import store as store_module
    from studio.runs.prewarm import Spare

    spare = Spare(tmp_path_factory.mktemp("spare"))
    spare.wait_ready(60)  # a run started before it is ready would spawn a fresh worker: its imports again
    original = store_module.Store.__post_init__

    def lend_the_spare(self):
        original(self)
        if self.spare is None:
            self.spare = spare

    store_module.Store.__post_init__ = lend_the_spare
    yield spare
    store_module.Store.__post_init__ = original
    spare.close()


@pytest.fixture
def runs_dir(tmp_path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def store(runs_dir):
    """A fresh runs folder and registry; any worker still active at the end is killed."""
    from studio.runs.store import Store

    s = Store(runs_dir)
    yield s
    kill_active(s)




@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_bert):
    """One run trained to completion by a real worker (tiny BERT, LoRA, 3 classes, texts of 2-8 words).

    Shared, read-only, by the run-folder contract tests and the CLI's runs/show/predict tests.
    Returns (store, run_id, config).
    """
    from studio.config import RunConfig
    from studio.runs.store import Store
    from tests.support import tiny_config

    root = tmp_path_factory.mktemp("finished")
    rows = separable_rows(20, ("billing", "technical", "shipping"), seed=5, words=(2, 8))
    csv_path = write_csv(root / "tickets.csv", rows)
    store = Store(root / "runs")
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, csv_path, "lora", epochs=2, batch_size=8))
    run_id = train_to_completion(store, cfg)
    return store, run_id, cfg
