"""Export tab: download a finished run as a zip (adapter or merged model, with a model card) or push it to the hub;
make the API keys a person's programs call their chat runs with (the OpenAI-compatible endpoint at /v1).

The hub token lives only in the request that uses it: it is not kept in session
state, not written to disk, cleared from the page after the push, and scrubbed
from any error message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.context import StudioContext
from components.i18n import EN, Lang, t
from components.ui import bind, esc, intro, message, message_box, run_picker, shows_user_errors
from studio import export
from studio.base.api_keys import ApiKeys
from studio.base.errors import USER_ERRORS
from studio.export import worker as export_worker

KIND_LABELS = {"adapter": t("Adapter only (small; loads on top of the base model)",
                             "仅适配器（体积小；加载在基础模型之上）"),
               "merged": t("Merged model (standalone; adapter folded into the weights)",
                           "合并后的模型（可独立使用；适配器已并入权重）"),
               "onnx": t("ONNX (runs with onnxruntime, no PyTorch; encoder classifiers)",
                         "ONNX（用 onnxruntime 运行，无需 PyTorch；适用于编码器分类模型）"),
               "onnx-int8": t("ONNX int8 (dynamic quantization: about 4x smaller, fastest on CPU; accuracy shown)",
                              "ONNX int8（动态量化：体积约小 4 倍，CPU 上最快；会显示准确率）"),
               "gguf-f16": t("GGUF f16 (llama.cpp, Ollama, LM Studio; with an Ollama Modelfile; chat models)",
                             "GGUF f16（llama.cpp、Ollama、LM Studio；附 Ollama Modelfile；适用于对话模型）"),
               "gguf-bf16": t("GGUF bf16 (same size as f16; keeps bf16's range)",
                              "GGUF bf16（体积同 f16；保留 bf16 的数值范围）"),
               "gguf-q8_0": t("GGUF q8_0 (8-bit blocks: about half of f16; its effect on the answers shown)",
                              "GGUF q8_0（8 位分块：约为 f16 的一半；会显示它对回答的影响）"),
               "reproduce": t("Reproduce script (plain transformers + peft code with the run's data splits)",
                              "复现脚本（用纯 transformers + peft 代码和该运行的数据划分重新训练）")}


@dataclass
class ExportTab:
    run: gr.Dropdown
    refresh: gr.Button
    empty: gr.Markdown
    kind: gr.Radio
    build_zip: gr.Button
    download: gr.File
    card: gr.Markdown
    repo_id: gr.Textbox
    token: gr.Textbox
    private: gr.Checkbox
    push: gr.Button
    push_message: gr.HTML
    on_refresh: Any = None

    @property
    def pick_outputs(self) -> list:
        return [self.run, self.empty]


def kind_update(ctx: StudioContext, run_id: str | None, current: str | None) -> dict:
    if not run_id:
        return gr.update(choices=[(v, k) for k, v in KIND_LABELS.items()], value=current or "adapter")
    try:
        kinds = export.export_kinds(ctx.run_dir(run_id))
    except USER_ERRORS:
        kinds = list(export.KINDS)
    return gr.update(choices=[(KIND_LABELS[k], k) for k in kinds], value=current if current in kinds else kinds[0])


def on_refresh(ctx: StudioContext, current):
    return ctx.picker_update(current)


def on_pick_run(ctx: StudioContext, run_id, kind):
    return kind_update(ctx, run_id, kind)


@shows_user_errors
def on_export(ctx: StudioContext, run_id, kind):
    rd = ctx.run_dir(run_id)
    ctx.person.check_can_write()  # an export is built on the server and kept a day: not for demo visitors
    # in a process of its own (studio.export.worker): the model's memory never stays with the web server
    path = export_worker.build_zip(rd, kind or "adapter", ctx.download_dir())
    # The card shown is the one in the zip, so the page says exactly what ships.
    front, body = export.split_front_matter(export.read_from_zip(path, "README.md") or "")
    raw = export.read_from_zip(path, "export_report.json")
    trade = f"> {export.describe_trade(json.loads(raw))}\n\n" if raw else ""
    # Markdown would render the card's YAML header as prose; show it as the code it is.
    return str(path), trade + (f"```yaml\n{front}\n```\n{body}" if front else body)


def on_push(ctx: StudioContext, run_id, kind, repo_id, token, private):
    """Push with the token typed here, or, signed in with Hugging Face, the person's own; never the server's."""
    rd = ctx.run_dir(run_id)
    try:
        ctx.person.check_can_write()
        url = export_worker.push_to_hub(rd, repo_id, (token or "").strip() or ctx.person.token or "",
                                        kind=kind or "adapter", private=bool(private))
    except USER_ERRORS as e:
        # Clear the token field either way, so it does not linger in the page.
        return message(str(e), "error"), ""
    return message(f"Pushed to {url}", "ok"), ""


def _keys_text(ctx: StudioContext, lang: Lang = EN) -> str:
    """The person's keys (never the keys themselves: only their last characters), or why none is needed."""
    if ctx.identity.mode == "local":
        return lang("This studio has no logins: programs on this machine call `/v1` without a key (clients that "
                    "need one may send any text).", "此工作室没有登录：本机上的程序无需密钥即可调用 `/v1`（必须填写"
                    "密钥的客户端可填任意文字）。")
    if ctx.person.read_only:
        return lang("Sign in to make API keys.", "登录后才能创建 API 密钥。")
    keys = ApiKeys(ctx.store.root).listed(ctx.person.name)
    if not keys:
        return lang("You have no API keys yet.", "你还没有 API 密钥。")
    return "\n".join(f"- `{k['id']}` ...{k['last4']} {esc(k['label'] or '')}" for k in keys)


def on_show_keys(ctx: StudioContext, request: gr.Request = None):
    return _keys_text(ctx, Lang.of(request))


def on_make_key(ctx: StudioContext, label, request: gr.Request = None):
    """A new API key of the person's own, shown once in the page (and not kept in it afterwards)."""
    lang = Lang.of(request)
    if ctx.identity.mode == "local":
        return "", message(_keys_text(ctx, lang), "info"), _keys_text(ctx, lang)
    try:
        ctx.person.check_can_write()
        key = ApiKeys(ctx.store.root).create(ctx.person.name, label or "")
    except USER_ERRORS as e:
        return "", message(str(e), "error"), _keys_text(ctx, lang)
    return key, message(lang("Copy the key now: it is shown this once.", "请立即复制密钥：它只显示这一次。"), "ok"), \
        _keys_text(ctx, lang)


def on_remove_key(ctx: StudioContext, key_id, request: gr.Request = None):
    lang = Lang.of(request)
    removed = (not ctx.person.read_only and ctx.identity.mode != "local"
               and ApiKeys(ctx.store.root).remove(ctx.person.name, str(key_id or "").strip()))
    text = (lang("Key removed: programs using it are refused from now on.",
                 "密钥已删除：使用它的程序从现在起会被拒绝。")
            if removed else lang("You have no key with that id.", "你没有这个编号的密钥。"))
    return message(text, "ok" if removed else "error"), _keys_text(ctx, lang)


def _keys_section(ctx: StudioContext) -> None:
    with gr.Accordion(t("Call your chat runs from a program (OpenAI-compatible API)",
                        "在程序中调用你的对话运行（兼容 OpenAI 的 API）"), open=False,
                      elem_id="api-keys-section") as section:
        gr.Markdown(t("Point any OpenAI client at this server's `/v1` (for example `http://127.0.0.1:7860/v1`) and "
                      "name a run id as the model: `/v1/models` lists the finished chat runs you may use. Each "
                      "request brings one of your API keys (`Authorization: Bearer sk-studio-...`).",
                      "把任何 OpenAI 客户端指向本服务器的 `/v1`（例如 `http://127.0.0.1:7860/v1`），并用运行编号作为"
                      "模型名：`/v1/models` 会列出你可用的已完成对话运行。每个请求都要带上你的一个 API 密钥"
                      "（`Authorization: Bearer sk-studio-...`）。"), elem_classes=["studio-muted"])
        # A studio without logins needs no keys: only the sentence that says so shows there.
        keyed = ctx.identity.mode != "local"
        with gr.Row(visible=keyed):
            label = gr.Textbox(label=t("What the key is for", "密钥用途"), max_length=80, scale=2)
            make = gr.Button(t("Make an API key", "创建 API 密钥"), scale=1)
        key = gr.Textbox(label=t("Your new key", "你的新密钥"), interactive=False, elem_id="api-key-new",
                         visible=keyed)
        made = message_box()
        listed = gr.Markdown(elem_id="api-keys")
        with gr.Row(visible=keyed):
            key_id = gr.Textbox(label=t("Key id to remove", "要删除的密钥编号"), max_length=16, scale=2)
            remove = gr.Button(t("Remove the key", "删除密钥"), scale=1)
        removed = message_box()
    make.click(bind(on_make_key, ctx), inputs=label, outputs=[key, made, listed], api_name="make_api_key")
    remove.click(bind(on_remove_key, ctx), inputs=key_id, outputs=[removed, listed], api_name="remove_api_key")
    section.expand(bind(on_show_keys, ctx), outputs=listed, api_visibility="private")


def _push_section() -> tuple:
    with gr.Accordion(t("Push to the Hugging Face Hub", "推送到 Hugging Face Hub"), open=False):
        gr.Markdown(t("The token is used for this push only: it is not stored on the server or written to any log. "
                      "Signed in with Hugging Face, leave it empty to push with your own sign-in.",
                      "令牌只用于本次推送：不会保存在服务器上，也不会写入任何日志。"
                      "若已用 Hugging Face 登录，可留空，使用你自己的登录推送。"), elem_classes=["studio-muted"])
        with gr.Row():
            repo_id = gr.Textbox(label=t("Repository", "仓库"), placeholder="your-name/ticket-classifier", scale=2)
            token = gr.Textbox(label=t("Access token (write)", "访问令牌（写权限）"), type="password", scale=2)
            private = gr.Checkbox(value=True, label=t("Private repository", "私有仓库"), scale=1)
        push = gr.Button(t("Push", "推送"))
        push_message = message_box()
    return repo_id, token, private, push, push_message


def build(ctx: StudioContext) -> ExportTab:
    intro(t("Take a finished run with you: a zip with the adapter or a merged model plus a generated model card, "
            "an ONNX model (encoder classifiers), a GGUF file for llama.cpp and Ollama (chat models), a script that "
            "retrains the run with plain transformers and peft, "
            "or a push to the Hugging Face Hub.",
            "带走已完成的运行：下载包含适配器或合并后模型及自动生成模型卡的 zip、ONNX 模型（编码器分类器）、"
            "用于 llama.cpp 和 Ollama 的 GGUF 文件（对话模型）、"
            "用纯 transformers 和 peft 重新训练该运行的脚本，或推送到 Hugging Face Hub。"))
    picker = run_picker(t("Finished run", "已完成的运行"),
                        t("No finished run to export yet: train one in the Train tab.",
                          "还没有可导出的运行：请先在“训练”标签页训练一个。"), "export-run")
    kind = gr.Radio(choices=[(v, k) for k, v in KIND_LABELS.items()], value="adapter",
                    label=t("What to export", "导出内容"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            build_zip = gr.Button(t("Build the zip", "生成 zip"), variant="primary")
            download = gr.File(label=t("Download", "下载"), interactive=False, height=110)
        with gr.Column(scale=2):
            card = gr.Markdown(t("The model card (README.md) shipped with the export appears here.",
                                 "随导出附带的模型卡（README.md）会显示在这里。"),
                               elem_classes=["studio-card", "studio-model-card"])
    tab = ExportTab(picker.dropdown, picker.refresh, picker.empty, kind, build_zip, download, card, *_push_section(),
                    on_refresh=bind(on_refresh, ctx))
    _keys_section(ctx)
    tab.refresh.click(tab.on_refresh, inputs=tab.run, outputs=tab.pick_outputs, api_visibility="private")
    tab.run.change(bind(on_pick_run, ctx), inputs=[tab.run, kind], outputs=kind, api_visibility="private")
    build_zip.click(bind(on_export, ctx), inputs=[tab.run, kind], outputs=[download, card], api_name="export_zip",
                    concurrency_id="export", concurrency_limit=1)
    tab.push.click(bind(on_push, ctx), inputs=[tab.run, kind, tab.repo_id, tab.token, tab.private],
                   outputs=[tab.push_message, tab.token], api_name="push_to_hub", concurrency_id="export",
                   concurrency_limit=1)
    return tab
