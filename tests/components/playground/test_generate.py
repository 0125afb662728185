"""The seq2seq playground panel through gradio_client: /generate answers with what the run generates.

A tiny T5 run is trained through the engine (Store.create + worker), then the app is started on the same
runs folder and asked over its API, as a script would.
"""

from __future__ import annotations

import pytest

from tests.components.ui_support import running_app, stop_active_runs

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

pytestmark = pytest.mark.slow
PAIRS = [{"source": f"the {c} {t} is over there", "target": f"{c} {t}"}
         for c in ("red", "blue", "green", "black") for t in ("car", "house", "door", "hat", "boat")]


@pytest.fixture(scope="module")
def seq2seq_app(tmp_path_factory, ui_cache):
    from studio.config import RunConfig
    from studio.runs.store import open_store
    from tests.support import tiny_config, train_to_completion, write_csv
    from tests.tiny_models import make_tiny_t5

    root = tmp_path_factory.mktemp("s2s-ui")
    model = make_tiny_t5(root / "tiny-t5")
    runs_dir = root / "runs"
    store = open_store(runs_dir)
    cfg = RunConfig.from_dict({"task": "seq2seq", **tiny_config(model, write_csv(root / "pairs.csv", PAIRS), "lora",
                                                                 epochs=1, max_target_length=6, max_new_tokens=6)})
    run_id = train_to_completion(store, cfg)
    with running_app(runs_dir) as url:
        yield Client(url, verbose=False), run_id, store.run_dir(run_id)
    stop_active_runs(runs_dir)


def test_generate_answers_like_the_engine(seq2seq_app):
    from studio.serve import inference

    client, run_id, rd = seq2seq_app
    text = "the red car is over there"
    out = client.predict(run_id, text, 4, api_name="/generate")
    assert out == inference.predict(rd, [text], max_new_tokens=4)[0]["output"]
    assert len(client.predict(run_id, text, 1, api_name="/generate").split()) <= 1


@pytest.mark.parametrize("args,message", [
    (("", "hello", 8), "Pick a run first"),
    ((None, "  ", 8), "Type a source text"),
    ((None, "hello", 0), "less than minimum value 1"),  # gradio checks the slider's bounds itself
    (("../../etc", "hello", 8), "run"),
])
def test_bad_requests_are_readable_errors(seq2seq_app, args, message):
    client, run_id, _ = seq2seq_app
    run, text, tokens = args
    with pytest.raises(Exception, match=message):
        client.predict(run_id if run is None else run, text, tokens, api_name="/generate")
