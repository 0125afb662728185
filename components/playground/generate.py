"""Playground panel for seq2seq runs: a source text in, the generated target out.

The playground tab builds it next to its other panels and shows `group` when the picked run is a seq2seq run.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from components.context import StudioContext
from components.i18n import t
from components.ui import bind, shows_user_errors
from studio.serve import inference

DEFAULT_NEW_TOKENS = 64
MAX_NEW_TOKENS = 512


@dataclass
class GeneratePanel:
    group: gr.Column
    source: gr.Textbox
    max_new_tokens: gr.Slider
    generate: gr.Button
    output: gr.Textbox


def build(ctx: StudioContext, run: gr.Dropdown) -> GeneratePanel:
    """The panel, hidden until the playground picks a seq2seq run; `run` is the playground's run dropdown."""
    with gr.Column(visible=False, elem_id="playground-seq2seq") as group:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                source = gr.Textbox(label=t("Source text", "源文本"), lines=4, elem_id="seq2seq-source",
                                    placeholder=t("Could you please turn off the lights in the kitchen?",
                                                  "能帮我把厨房的灯关掉吗？"))
                max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=DEFAULT_NEW_TOKENS, step=1,
                                           label=t("Most tokens to generate", "最多生成的词元数"),
                                           elem_id="seq2seq-max-new-tokens")
                generate = gr.Button(t("Generate", "生成"), variant="primary", elem_id="seq2seq-generate")
            with gr.Column(scale=2):
                output = gr.Textbox(label=t("Generated target", "生成的目标文本"), lines=4, interactive=False,
                                    elem_id="seq2seq-output")
    panel = GeneratePanel(group, source, max_new_tokens, generate, output)
    gr.on([generate.click, source.submit], bind(on_generate, ctx), inputs=[run, source, max_new_tokens], outputs=output,
          api_name="generate", concurrency_id="inference", concurrency_limit=2)
    return panel


@shows_user_errors
def on_generate(ctx: StudioContext, run_id, text, new_tokens):
    rd = ctx.run_dir(run_id)
    if not (text or "").strip():
        raise gr.Error("Type a source text to generate from.")
    return inference.predict(rd, [text], max_new_tokens=_tokens(new_tokens))[0]["output"]


def _tokens(value) -> int:
    """The slider's value as a whole number in range (API callers may send anything)."""
    try:
        n = int(float(value))
    except (TypeError, ValueError):
        raise gr.Error(f"max_new_tokens must be a whole number from 1 to {MAX_NEW_TOKENS}, not {value!r}.") from None
    if not 1 <= n <= MAX_NEW_TOKENS:
        raise gr.Error(f"max_new_tokens must be from 1 to {MAX_NEW_TOKENS}, not {n}.")
    return n
