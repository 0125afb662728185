"""Playground panel for token-classification (NER) runs: typed text in, its entities highlighted by type.

The playground tab builds it next to its other panels and shows `group` when the picked run is a
token-classification run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd

from components.context import StudioContext
from components.i18n import t
from components.ui import bind, shows_user_errors
from studio.serve import inference

ENTITY_COLUMNS = ["entity", "text", "start", "end", "score"]


@dataclass
class EntitiesPanel:
    group: gr.Column
    text: gr.Textbox
    tag: gr.Button
    highlighted: gr.HighlightedText
    entities: gr.Dataframe


def build(ctx: StudioContext, run: gr.Dropdown) -> EntitiesPanel:
    """The panel, hidden until the playground picks a NER run; `run` is the playground's run dropdown."""
    with gr.Column(visible=False, elem_id="playground-ner") as group:
        text = gr.Textbox(label=t("Text", "文本"), lines=3, elem_id="ner-text",
                          placeholder=t("Alice Martin flew from Paris to Berlin to meet the Siemens board.",
                                        "张伟从上海飞往北京，与西门子的董事会会面。"))
        tag = gr.Button(t("Find entities", "识别实体"), variant="primary", elem_id="ner-tag")
        highlighted = gr.HighlightedText(label=t("Entities", "实体"), combine_adjacent=False, show_legend=True,
                                         elem_id="ner-highlighted")
        entities = gr.Dataframe(pd.DataFrame(columns=ENTITY_COLUMNS), label=t("Entity list", "实体列表"),
                                interactive=False, wrap=True, elem_id="ner-entities")
    panel = EntitiesPanel(group, text, tag, highlighted, entities)

    last = gr.State(None)  # the latest prediction, for the entity list (a State is not part of the API's answer)
    gr.on([tag.click, text.submit], bind(on_tag, ctx), inputs=[run, text], outputs=[highlighted, last],
          api_name="predict_entities", concurrency_id="inference", concurrency_limit=2
          ).success(entity_table, inputs=last, outputs=entities, api_visibility="private")
    return panel


@shows_user_errors
def on_tag(ctx: StudioContext, run_id, typed):
    rd = ctx.run_dir(run_id)
    if not (typed or "").strip():
        raise gr.Error("Type a text to find its entities.")
    pred = inference.predict(rd, [typed])[0]
    return highlight(typed, pred), pred


def highlight(text: str, pred: dict[str, Any]) -> dict[str, Any]:
    """HighlightedText's value: the text with each entity's character span labelled by its type."""
    return {"text": text, "entities": [{"entity": e["entity"], "start": e["start"], "end": e["end"]}
                                       for e in pred["entities"]]}


def entity_table(pred: dict[str, Any] | None) -> pd.DataFrame:
    """One row per entity: its type, its words, where it is in the text, and how sure the model is."""
    if not pred:
        return pd.DataFrame(columns=ENTITY_COLUMNS)
    return pd.DataFrame([[e["entity"], e["text"], e["start"], e["end"], round(e["score"], 4)]
                         for e in pred["entities"]],
                        columns=ENTITY_COLUMNS)
