"""Learn from a teacher (knowledge distillation), in the Data tab: a completed run of the same task and labels
teaches the next run (studio.distill); an optional transfer file of unlabelled texts gives it more to teach on.

Its fields join the Data tab's form (DataTab.extra_form) like the augmentation panel's, so Start, sweeps and the
API pass them on; a teacher that cannot teach is refused by the engine in one sentence when the run is created.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from components.context import StudioContext
from components.forms import DISTILL_PREFIX
from components.i18n import Lang, t
from components.session import DataState
from components.ui import bind, message, message_box, shows_user_errors
from studio.config import DistillConfig, field_help
from studio.data import DataError
from studio.distill import SequenceLevel, SoftLabels
from studio.tasks import DEFAULT_TASK, get_task
from studio.views import run_views

PREFIX = DISTILL_PREFIX  # form names: distill_teacher, distill_temperature, ... (the API's parameter names too)


def distills(task) -> bool:
    """A finished run of this task can teach a new one (by its class probabilities or its answers)."""
    return task.capability(SoftLabels) is not None or task.capability(SequenceLevel) is not None


@dataclass
class DistillPanel:
    accordion: gr.Accordion
    fields: dict[str, gr.components.Component]
    refresh: gr.Button
    upload: gr.File
    note: gr.HTML


def teacher_choices(ctx: StudioContext, task_name: str) -> list[tuple[str, str]]:
    """Completed runs of this task: the runs that can teach it."""
    return [(run_views.run_label(r), r["id"]) for r in ctx.runs()
            if r.get("status") == "completed" and r.get("task") == task_name]


def on_refresh(ctx: StudioContext, state: DataState | None, current: str | None):
    task = get_task(state.task if state else DEFAULT_TASK)
    choices = teacher_choices(ctx, task.name)
    keep = current if current in [c[1] for c in choices] else None
    return gr.update(visible=distills(task)), gr.update(choices=choices, value=keep)


def on_teacher(ctx: StudioContext, teacher: str | None, request: gr.Request = None) -> str:
    """What the picked teacher is: its model, method and test scores."""
    lang = Lang.of(request)
    if not teacher:
        return ""
    info = ctx.store.get(teacher)
    cfg, rep = info.get("config") or {}, info.get("test_report") or {}
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in (rep.get("metrics") or {}).items() if isinstance(v, float))
    labels = len((info.get("data_report") or {}).get("labels") or [])
    return message(lang(f"Teacher {teacher}: {cfg.get('model')} · {cfg.get('method')} · {labels} labels · test "
                        f"{metrics}. The next run learns from its probabilities as well as from the labels.",
                        f"教师 {teacher}：{cfg.get('model')} · {cfg.get('method')} · {labels} 个标签 · 测试 {metrics}。"
                        "下一次运行会同时从它的概率和标签中学习。"), "ok")


@shows_user_errors
def on_transfer(ctx: StudioContext, file, request: gr.Request = None):
    """Keep the uploaded transfer file in the person's uploads; the session's state (never a field the page or an
    API client sends) holds where it is, for the run's distill.transfer."""
    lang = Lang.of(request)
    if not file:
        return None, ""
    try:
        stored = ctx.store_upload(file)
    except DataError as e:
        return None, message(str(e), "error")
    return str(stored.path), message(lang(f"Transfer texts: {stored.display_name} (labelled by the teacher when the "
                                          "run starts).",
                                          f"迁移文本：{stored.display_name}（运行开始时由教师模型标注）。"),
                                     "info")


def _fields(ctx: StudioContext, task0: str) -> dict[str, gr.components.Component]:
    spec = {f["name"]: f for f in field_help(DistillConfig)}
    help_ = lambda name: t(spec[name]["help"])  # noqa: E731
    return {
        f"{PREFIX}teacher": gr.Dropdown(choices=teacher_choices(ctx, task0), value=None, allow_custom_value=True,
                                        label=t("Teacher run", "教师运行"), info=help_("teacher"),
                                        elem_id="distill-teacher"),
        f"{PREFIX}temperature": gr.Number(value=spec["temperature"]["default"], minimum=1.0, maximum=20.0, step=0.5,
                                          label=t("Temperature", "温度"), info=help_("temperature")),
        f"{PREFIX}alpha": gr.Slider(0.0, 1.0, value=spec["alpha"]["default"], step=0.05,
                                    label=t("Teacher weight", "教师权重"), info=help_("alpha"),
                                    elem_id="distill-alpha"),
        f"{PREFIX}compare_alone": gr.Checkbox(value=True, label=t("Also train the student on the labels alone",
                                                                    "同时只用标签训练学生模型"),
                                              info=help_("compare_alone")),
        # Session state, not a field: an API client cannot name a file of the server here.
        f"{PREFIX}transfer": gr.State(None),
    }


def build(ctx: StudioContext, data) -> DistillPanel:
    task0 = data.task.value or DEFAULT_TASK
    with gr.Accordion(t("Learn from a teacher run (distillation)", "向教师运行学习（知识蒸馏）"), open=False,
                      elem_id="distill-panel", visible=distills(get_task(task0))) as accordion:
        gr.Markdown(t("A completed run of this task teaches the next one: pick a small base in the Model tab "
                      "(minilm-l3 has half of MiniLM's layers) and a big, accurate run as teacher. The report shows "
                      "teacher, student and the student trained on the labels alone side by side, with measured speed.",
                      "一个已完成的同任务运行来教下一次运行：在模型页选择较小的基础模型（minilm-l3 只有 MiniLM "
                      "一半的层），再选一个大而准确的运行作为教师。报告并列展示教师、学生以及只用标签训练的学生，"
                      "并附实测速度。"),
                    elem_classes=["studio-muted"])
        fields = _fields(ctx, task0)
        refresh = gr.Button(t("Refresh the runs", "刷新运行列表"), size="sm")
        upload = gr.File(label=t("Transfer texts (optional): unlabelled texts the teacher labels",
                                 "迁移文本（可选）：由教师模型标注的无标签文本"), height=110,
                         elem_id="distill-transfer")
        note = message_box(elem_id="distill-message")
    panel = DistillPanel(accordion, fields, refresh, upload, note)
    data.extra_form.update(fields)
    teacher = fields[f"{PREFIX}teacher"]
    for event in (data.state.change, refresh.click):
        event(bind(on_refresh, ctx), inputs=[data.state, teacher], outputs=[accordion, teacher],
              api_visibility="private")
    teacher.input(bind(on_teacher, ctx), inputs=teacher, outputs=note, api_name="describe_teacher")
    upload.upload(bind(on_transfer, ctx), inputs=upload, outputs=[fields[f"{PREFIX}transfer"], note],
                  api_name="upload_transfer")
    upload.clear(lambda: (None, ""), outputs=[fields[f"{PREFIX}transfer"], note], api_visibility="private")
    return panel
