"""Playground tab: try a finished run the way its task calls for.

Each task's `playground` names its panel (a key of PANEL_BUILDERS): classify (label
probabilities for a typed text, or a whole file labelled into a CSV), entities, chat, generate; each panel is a
module of components/playground/. Picking a run shows its task's panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.context import StudioContext
from components.i18n import t
from components.playground import answer, chat, classify, entities, generate
from components.ui import RunPicker, bind, intro, run_picker
from studio.views import run_views

PANEL_BUILDERS = {"classify": classify.build, "entities": entities.build, "chat": chat.build,
                  "generate": generate.build, "answer": answer.build}


@dataclass
class PlaygroundTab:
    run: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    panels: dict[str, Any]         # Playground.panel -> that panel's handles
    on_refresh: Any = None

    @property
    def groups(self) -> dict[str, gr.Column]:
        return {name: panel.group for name, panel in self.panels.items()}

    @property
    def pick_outputs(self) -> list:
        return [self.run, self.empty, *self.groups.values()]


def panels_for(ctx: StudioContext, groups: list[str], run_id: str | None) -> list:
    """Show the panel of the picked run's task (the first panel when nothing is picked)."""
    kind = groups[0]
    if run_id:
        try:
            kind = run_views.task_of(ctx.store.get(run_id)).playground.panel
        except Exception:  # an unknown or deleted run: its handlers say so when used
            pass
    return [gr.update(visible=name == kind) for name in groups]


def on_refresh(ctx: StudioContext, groups: list[str], current):
    picker, empty = ctx.picker_update(current)
    return [picker, empty, *panels_for(ctx, groups, picker["value"])]


def build(ctx: StudioContext) -> PlaygroundTab:
    intro(t("Try a finished run: a classifier shows how likely each label is (or labels a whole file), a NER model "
            "highlights entities, a chat model answers beside its base model, a seq2seq model writes the target, a "
            "question-answering model marks the answer in a passage.",
            "试用已完成的运行：分类模型显示各标签概率（或批量标注文件），NER 模型高亮实体，对话模型与基础模型并排作答，"
            "序列到序列模型生成目标文本，问答模型在段落中标出答案。"))
    picker: RunPicker = run_picker(t("Finished run", "已完成的运行"),
                                   t("No finished run yet: train one in the Train tab, it appears here when "
                                     "it completes.",
                                     "还没有完成的运行：请在“训练”标签页训练一个，完成后会出现在这里。"),
                                   "playground-run")
    run = picker.dropdown
    panels = {name: make(ctx, run) for name, make in PANEL_BUILDERS.items()}
    tab = PlaygroundTab(run, picker.refresh, picker.empty, panels, on_refresh=bind(on_refresh, ctx, list(panels)))
    picker.refresh.click(tab.on_refresh, inputs=run, outputs=tab.pick_outputs, api_visibility="private")
    run.change(bind(panels_for, ctx, list(panels)), inputs=run, outputs=list(tab.groups.values()),
               api_visibility="private", queue=False)
    return tab
