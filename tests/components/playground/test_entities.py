"""The Playground's NER panel through gradio_client: /predict_entities highlights what the engine predicts.

A NER run is trained in this process on the bundled CoNLL sample (tiny BERT, a few steps: the flow is what
counts), then the app answers for it exactly what studio.serve.inference says, as HighlightedText spans by type.
"""

from __future__ import annotations

import html

import pytest

from studio.config import RunConfig
from studio.runs.store import Store
from studio.serve import inference
from studio.training import recipe
from tests.components.ui_support import ROOT

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

NER_SAMPLE = ROOT / "assets" / "samples" / "ner_sample.conll"
TEXT = "Alice Martin flew from Paris to Berlin to meet the Kestrel Bank board."


@pytest.fixture(scope="module")
def ner_app(app, ui_tiny_model):
    """The module's app with one finished NER run in its runs folder."""
    url, runs_dir = app
    cfg = RunConfig.from_dict({"task": "token-classification", "model": str(ui_tiny_model), "method": "lora",
                               "data": {"train": str(NER_SAMPLE), "max_rows": 64},
                               "training": {"epochs": 1, "batch_size": 16, "max_length": 32, "device": "cpu",
                                            "learning_rate": 3e-3}})
    store = Store(runs_dir)
    run_id = store.create(cfg, start=False)
    assert recipe.run(store.run_dir(run_id))["status"] == "completed"
    store.sync(run_id)
    return url, store, run_id


def spans(value) -> list[tuple[str, str]]:
    """(text piece, entity type) of each highlighted piece, as the client receives HighlightedText."""
    return [(p["token"], p["class_or_confidence"]) for p in value if p["class_or_confidence"]]


def test_predict_entities_highlights_the_engine_prediction(ner_app):
    url, store, run_id = ner_app
    client = Client(url, verbose=False)
    value = client.predict(run_id, TEXT, api_name="/predict_entities")
    # the pieces put back together are the typed text
    assert "".join(p["token"] for p in value) == TEXT
    expected = inference.predict(store.run_dir(run_id), [TEXT])[0]
    assert spans(value) == [(e["text"], e["entity"]) for e in expected["entities"]]
    assert {c for _, c in spans(value)} <= {"PER", "ORG", "LOC"}


def test_panel_helpers_give_spans_and_a_table():
    from components.playground.entities import ENTITY_COLUMNS, entity_table, highlight

    pred = {"entities": [{"entity": "PER", "text": "Alice", "start": 0, "end": 5, "score": 0.91234},
                         {"entity": "LOC", "text": "Paris", "start": 15, "end": 20, "score": 0.5}]}
    assert highlight("Alice lives in Paris", pred) == {
        "text": "Alice lives in Paris", "entities": [{"entity": "PER", "start": 0, "end": 5},
                                                 {"entity": "LOC", "start": 15, "end": 20}]}
    table = entity_table(pred)
    assert list(table.columns) == ENTITY_COLUMNS and table.values.tolist()[0] == ["PER", "Alice", 0, 5, 0.9123]
    assert entity_table(None).empty


@pytest.mark.parametrize("run_id, text, phrase", [
    ("RUN", "   ", "Type a text to find its entities"),
    ("../../etc", "Alice", "is not a run id"),
    (None, "Alice", "Pick a run first"),
])
def test_errors_are_one_readable_sentence(ner_app, run_id, text, phrase):
    url, _, real = ner_app
    client = Client(url, verbose=False)
    with pytest.raises(Exception) as err:
        client.predict(real if run_id == "RUN" else run_id, text, api_name="/predict_entities")
    msg = html.unescape(str(err.value))
    assert phrase in msg and "Traceback" not in msg


def test_the_panel_starts_hidden_and_holds_its_parts(tmp_path):
    import gradio as gr

    from components.context import StudioContext
    from components.playground import entities as playground_ner

    ctx = StudioContext(store=Store(tmp_path / "runs"), samples={}, default_sample=None, default_model="minilm",
                        default_method="lora")
    with gr.Blocks():
        run = gr.Dropdown(choices=[], value=None, allow_custom_value=True)
        panel = playground_ner.build(ctx, run)
    assert panel.group.visible is False
    assert isinstance(panel.highlighted, gr.HighlightedText) and isinstance(panel.entities, gr.Dataframe)
    assert isinstance(panel.text, gr.Textbox) and isinstance(panel.tag, gr.Button)
