"""Model & method tab: base model, adaptation method and its settings, hyperparameters, config file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from components import forms
from components.context import StudioContext, received
from components.i18n import EN, Lang, t
from components.session import DataState, TokenizerChoice
from components.tabs.data_tab import DATA_QUEUE, DataTab
from components.ui import bind, esc, intro, message, message_box, shows_user_errors
from studio import methods, models
from studio.base import plain_yaml
from studio.base.devices import describe_run_devices
from studio.base.errors import USER_ERRORS, ConfigError, RunError
from studio.base.text import Text, pick
from studio.config import RunConfig, TrainingConfig, field_help
from studio.data import uploads
from studio.judge.judge import classifier_labels, classifier_runs
from studio.runs import quotas
from studio.tasks import DEFAULT_TASK, get_task, task_names
from studio.training import lengths, memory
from studio.views import run_views

ESSENTIALS = ("epochs", "learning_rate", "batch_size", "max_length")
FIELD_LABELS = {
    "epochs": t("Epochs", "训练轮数"),
    "learning_rate": t("Learning rate", "学习率"),
    "batch_size": t("Batch size", "批大小"),
    "gradient_accumulation_steps": t("Gradient accumulation steps", "梯度累积步数"),
    "max_length": t("Max length (tokens)", "最大长度（词元）"),
    "warmup_ratio": t("Warm-up share", "预热比例"),
    "scheduler": t("Learning-rate schedule", "学习率调度"),
    "weight_decay": t("Weight decay", "权重衰减"),
    "seed": t("Seed", "随机种子"),
    "precision": t("Precision", "数值精度"),
    "eval_strategy": t("Evaluate after", "评估时机"),
    "eval_steps": t("Steps between evaluations", "评估间隔步数"),
    "logging_steps": t("Steps between log points", "日志记录间隔步数"),
    "early_stopping_patience": t("Early-stopping patience", "早停耐心值"),
    "best_metric": t("Metric that picks the best checkpoint", "选择最佳检查点的指标"),
    "save_total_limit": t("Checkpoints kept", "保留的检查点数"),
    "group_by_length": t("Batch texts of similar length", "按长度分批"),
    "gradient_checkpointing": t("Gradient checkpointing (less memory, slower)", "梯度检查点（省内存、较慢）"),
    "attention": t("Attention kernel", "注意力内核"),
    "optimizer": t("Optimizer", "优化器"),
    "liger_kernels": t("Liger kernels", "Liger 内核"),
    "ignore_memory_estimate": t("Start even if the memory estimate says it will not fit", "显存估算放不下时仍然启动"),
    "score_base": t("Also score the untrained base", "同时为未训练的基础模型打分"),
    "device": t("Device", "设备"),
    "num_processes": t("Processes (one per GPU)", "进程数（每块 GPU 一个）"),
    "distributed": t("Multi-process strategy", "多进程策略"),
    "num_machines": t("Machines", "机器数"),
    "main_process_ip": t("Machine 0 address", "0 号机器地址"),
    "cluster_cpus": t("CPUs per process on a Ray cluster", "Ray 集群上每个进程的 CPU 数"),
    "cluster_resources": t("Ray resources per process", "每个进程的 Ray 资源"),
    "accelerator_type": t("GPU type on a Ray cluster", "Ray 集群上的 GPU 型号"),
    "main_process_port": t("Rendezvous port", "汇合端口"),
    "tensorboard": t("TensorBoard logs", "TensorBoard 日志"),
    "wandb": t("Log to Weights & Biases", "记录到 Weights & Biases"),
    "wandb_project": t("W&B project", "W&B 项目"),
}
FIELD_STEPS = {"epochs": 0.5, "learning_rate": 1e-5}
METHOD_ZH = {  # (title, summary) in Chinese; English comes from the registry
    "full": ("全量微调", "所有权重都参与训练。数据充足时效果最好，检查点也最大。"),
    "freeze": ("冻结底层", "只训练最上面 N 层 Transformer 和分类头。"),
    "lora": ("LoRA", "在权重旁加入低秩适配器：小巧、快速，效果接近全量微调。"),
    "qlora": ("QLoRA", "基础模型以 4 位（或 8 位）加载的 LoRA：基础模型显存约为四分之一，7-8B 模型可在一张 24 GB "
                       "显卡上训练；比 LoRA 稍慢。需要 CUDA GPU 和 bitsandbytes。"),
    "dora": ("DoRA", "为每个权重额外学习幅度的 LoRA（权重分解）；通常略优于 LoRA，但更慢。"),
    "adalora": ("AdaLoRA", "训练过程中把秩预算分配给最需要的层的 LoRA。"),
    "ia3": ("IA3", "在键、值和前馈激活上学习缩放向量；可训练权重最少。"),
    "prefix": ("前缀微调", "在每个注意力层前加入可训练的键/值向量。"),
    "prompt": ("提示微调", "在输入前加入可训练的软提示嵌入。"),
}


@dataclass
class ModelTab:
    model: gr.Dropdown
    model_custom: gr.Textbox
    method: gr.Radio
    method_groups: dict[str, gr.Group]
    method_fields: dict[str, gr.components.Component]
    training: dict[str, gr.components.Component]
    params: gr.Markdown
    config_code: gr.Code
    preview_config: gr.Button
    download_config: gr.DownloadButton
    load_config: gr.UploadButton
    config_message: gr.HTML
    on_count_parameters: Any = None  # (data_state, **form) -> params markdown; the app runs it on page load
    task_group: gr.Group | None = None  # the picked task's own settings (Task.settings), shown with it
    task_fields: dict[str, gr.components.Component] = None  # every task's settings by name (beta, head_init, ...)

    @property
    def form(self) -> dict[str, gr.components.Component]:
        return {"model": self.model, "model_custom": self.model_custom, "method": self.method,
                **self.method_fields, **self.training, **(self.task_fields or {})}


def _label(name: str):
    human = name.replace("_", " ").capitalize()
    return FIELD_LABELS.get(name) or t(human, human)


LR_HELP = Text("Peak learning rate. Set to the method's recommended value when you pick a method; adapters want more "
               "than full fine-tuning.",
               "峰值学习率。选择方法时会设为该方法的推荐值；适配器方法比全量微调需要更高的学习率。")


def catalog_choices() -> list[tuple[str, str]]:
    return [(f"{e['name']} · {e['params']} · {'bundled' if e['bundled'] else 'hub'} — {e['hub_id']}", e["hub_id"])
            for e in models.list_catalog()]


def params_text(cfg: RunConfig, n_labels: int, lang: Lang = EN) -> str:
    c = run_views.parameter_counts(cfg, n_labels)
    task = get_task(cfg.task)
    noun = task.data.label_noun
    labels = lang(f" · {n_labels} {noun}s", f" · {n_labels} 个{pick(noun, True)}") if task.has_labels else ""
    title = methods.METHODS[cfg.method].title
    title = lang(title, METHOD_ZH.get(cfg.method, (title,))[0])
    share = f"{100 * c['share']:.2f}%"
    of = lang(f"trainable of {run_views.fmt_count(c['total'])} parameters ({share})",
              f"可训练，共 {run_views.fmt_count(c['total'])} 个参数（{share}）")
    return (f"### {run_views.fmt_count(c['trainable'])} <span class='studio-muted'>{of}</span>\n"
            f"{esc(cfg.model)} · {title} · {cfg.task}{labels}\n\n"
            f"{memory_text(cfg, n_labels, lang)}"
            "<span class='studio-muted'>"
            f"{esc(lang(describe_run_devices(cfg.training.num_processes, cfg.training.num_machines)))}</span>")


def memory_text(cfg: RunConfig, n_labels: int, lang: Lang = EN) -> str:
    """The memory estimate and its parts, marked when the run would not fit or is near the limit."""
    try:
        est = memory.estimate(cfg, n_labels)
    except Exception:  # an architecture the estimate cannot read: the count above still stands
        return ""
    mark = {"too big": lang("**Will not fit.** ", "**内存不足。** "),
            "near": lang("**Near the limit.** ", "**接近上限。** ")}
    return ("<span id='memory-estimate' "
            f"data-verdict='{esc(est.verdict)}'>{mark.get(est.verdict, '')}{esc(lang(est.summary()))}</span>\n\n")


def method_choices(task) -> list:
    """The methods a task can train with, as the Method radio lists them."""
    allowed = task.model.method_names()
    return [(t(m.title, METHOD_ZH.get(m.name, (m.title,))[0]), m.name) for m in methods.METHODS.values()
            if m.name in allowed]


def method_for(task, method_name: str) -> str:
    """The method a task keeps: the current one when it applies, else LoRA (or the task's first)."""
    allowed = task.model.method_names()
    return method_name if method_name in allowed else ("lora" if "lora" in allowed else allowed[0])


# ------------------------------------------------------------------------------------------- handlers --
def on_method(groups: list[str], name):
    return [gr.update(visible=k == name) for k in groups]


def on_method_picked(name, task_name):
    """The user picked a method: the learning rate becomes its default on the task (a loaded config keeps its own)."""
    if name not in methods.METHODS:
        return gr.skip()
    return get_task(task_name or None).model.learning_rate(name)


def on_count_parameters(ctx: StudioContext, data_state: DataState | None, request: gr.Request = None, **values):
    lang = Lang.of(request)
    state = (data_state or DataState("-", "", "sample")).but(path="-")
    raw = forms.raw_config(state, values)
    try:
        quotas.check_model_folder(ctx.store, raw["model"])  # another person's model reads as missing, not as "there"
        cfg = RunConfig.from_dict(raw)
        if cfg.training.max_length is None and state.max_length:
            cfg = lengths.with_length(cfg, state.max_length)  # the data check's choice, which the run will make
        return params_text(cfg, len(state.labels) or 2, lang)
    except USER_ERRORS as e:
        return f"**{lang('Cannot count parameters:', '无法统计参数：')}** {esc(e)}"
    except (OSError, ValueError) as e:  # a hub id that cannot be fetched, a folder transformers rejects
        return f"**{lang('Cannot load', '无法加载')} {esc(raw['model'])}:** {esc(str(e).splitlines()[0][:300])}"


def on_task(task_name, model_name, custom, method_name):
    """A catalog model that cannot do the new task yields to the task's default; so does a method."""
    try:
        task = get_task(task_name)
    except ValueError:
        return gr.skip(), gr.skip()
    new_model = gr.skip()
    entry = models.find_entry(model_name or "")
    if not (custom or "").strip() and entry is not None and entry.name not in task.model.catalog_models:
        new_model = task.model.default_model
    new_method = method_for(task, method_name)
    return new_model, gr.update(choices=method_choices(task), value=new_method)


def on_data_language(data_state: DataState | None, seen: str | None, model_name, custom, request: gr.Request = None):
    """A newly loaded file whose texts are mostly Chinese, Japanese or Korean gets the task's multilingual base in
    place of an English catalog model (once per file: a model picked afterwards stays)."""
    if data_state is None or data_state.failed or data_state.path == seen:
        return gr.skip(), seen
    task, entry = get_task(data_state.task), models.find_entry(model_name or "")
    better = task.model.base_for(data_state.cjk_share)
    if (custom or "").strip() or entry is None or entry.languages != "en" or better == task.model.default_model:
        return gr.skip(), data_state.path
    share = f"{data_state.cjk_share:.0%}"
    return gr.update(value=models.find_entry(better).hub_id, info=Lang.of(request)(
        f"Picked for your data: {share} of its words are Chinese, Japanese or Korean, which {entry.name} reads as "
        "unknown tokens.",
        f"已按数据选择：{share} 的词是中日韩文字，{entry.name} 会把它们读成未知词。")), data_state.path


def on_task_picked(task_name, method_name):
    """The user picked a task: the learning rate becomes the task's own for the method (a loaded config,
    which changes the task too, keeps its rate)."""
    try:
        task = get_task(task_name)
    except ValueError:
        return gr.skip()
    return task.model.learning_rate(method_for(task, method_name))


def on_tokenizer(ctx: StudioContext, model_name, custom, max_length):
    """The Data tab counts tokens with the chosen model's tokenizer and marks max_length (a folder that is not the
    person's to use is not read: the tab then counts with the task's own tokenizer)."""
    model = (custom or "").strip() or model_name
    try:
        quotas.check_model_folder(ctx.store, model)
    except USER_ERRORS:
        model = None
    # The form's 0 is an empty max_length (field_component): the data check then takes it from the data.
    return TokenizerChoice(model, int(max_length) if max_length else None)


@shows_user_errors
def on_preview_config(ctx: StudioContext, data_state: DataState | None, **values):
    if data_state is None:
        raise gr.Error("Load data in the Data tab first; the config names its training file.")
    return config_file(ctx, RunConfig.from_dict(forms.raw_config(data_state, values)), data_state.name)


def on_load_config(ctx: StudioContext, names: list[str], catalog_ids: list[str], file, data_state):
    try:
        cfg, state, note = read_config(ctx, file, data_state)
    except USER_ERRORS as e:
        return [gr.skip()] * len(names) + [gr.skip(), message(str(e), "error")]
    vals = forms.form_values(cfg, catalog_ids)
    return [vals[k] for k in names] + [state, message(note, "ok")]


# -------------------------------------------------------------------------------------------- layout --
def _model_and_method(ctx: StudioContext, catalog: list[tuple[str, str]], task_name: str) -> tuple:
    """The left column: base model, method (those the task can train with) and each method's settings."""
    catalog_ids = [c[1] for c in catalog]
    in_catalog = ctx.default_model in catalog_ids
    default_method = method_for(get_task(task_name), ctx.default_method)
    with gr.Group():
        model = gr.Dropdown(choices=catalog, value=ctx.default_model if in_catalog else catalog_ids[0],
                            label=t("Base model", "基础模型"), elem_id="model-base",
                            info=t("Bundled models work offline.", "内置模型可离线使用。"))
        model_custom = gr.Textbox(value="" if in_catalog else ctx.default_model,
                                  label=t("Or a hub id or local folder", "或填写 Hub 模型 ID / 本地文件夹"),
                                  placeholder=t("owner/name or /path/to/model", "owner/name 或 /path/to/model"),
                                  elem_id="model-custom",
                                  info=t("Overrides the list when filled; press Enter to apply.",
                                         "填写后优先于上面的列表；按回车生效。"))
    method = gr.Radio(choices=method_choices(get_task(task_name)), value=default_method, label=t("Method", "微调方法"),
                      elem_id="method-radio")
    method_groups: dict[str, gr.Group] = {}
    method_fields: dict[str, gr.components.Component] = {}
    for m in methods.METHODS.values():
        with gr.Group(visible=m.name == default_method) as grp:
            gr.Markdown(t(m.summary, METHOD_ZH.get(m.name, ("", m.summary))[1]), elem_classes=["studio-method-summary"])
            if not m.fields():
                gr.Markdown(t("No settings: every weight trains.", "无需设置：所有权重都参与训练。"),
                            elem_classes=["studio-muted"])
            with gr.Row():
                for spec in m.fields():
                    key = forms.method_key(m.name, spec["name"])
                    method_fields[key] = forms.field_component(spec, t(spec["label"]), min_width=200,
                                                               elem_id=f"field-{key}")
        method_groups[m.name] = grp
    return model, model_custom, method, method_groups, method_fields


def _essential_fields(default_rate: float) -> dict[str, gr.components.Component]:
    """The hyperparameters most runs change; the learning rate shows the method's recommended value, reset when
    the method changes."""
    specs = {f["name"]: f for f in field_help(TrainingConfig)}
    out: dict[str, gr.components.Component] = {}
    with gr.Group():
        for name in ESSENTIALS:
            spec, extra = ({**specs[name], "help": LR_HELP}, {"value": default_rate}) if name == "learning_rate" \
                else (specs[name], {})
            out[name] = forms.field_component(spec, _label(name), FIELD_STEPS.get(name), elem_id=f"field-{name}",
                                              **extra)
    return out


def _more_fields() -> dict[str, gr.components.Component]:
    """Every other training setting, under "More training settings"."""
    out: dict[str, gr.components.Component] = {}
    with gr.Accordion(t("More training settings", "更多训练设置"), open=False, elem_id="more-settings"):
        for spec in field_help(TrainingConfig):
            if spec["name"] not in ESSENTIALS:
                name = spec["name"]
                out[name] = forms.field_component(spec, _label(name), FIELD_STEPS.get(name), elem_id=f"field-{name}")
    return out


def _task_fields(task_name: str) -> tuple[gr.Group, dict[str, gr.components.Component]]:
    """The tasks' own settings (Task.settings: labels, help and bounds from their fields), each shown while the
    picked task has it."""
    mine = _own_settings(task_name)
    fields = {}
    for name in task_names():  # every task's help of a shared name, kept for the page (on_task_settings)
        for spec in forms.task_field_specs(name):
            if spec.get("help"):
                t(spec["help"])
    with gr.Group(visible=bool(mine), elem_id="task-settings") as group:
        for name, spec in forms.task_setting_specs().items():
            label = t(spec["label"]) if spec.get("label") else _label(name)
            if name in PICKED_FROM_RUNS:  # a run's id, or one of its labels: picked from what the person may use
                fields[name] = gr.Dropdown(choices=[], value=spec["default"], allow_custom_value=True, label=label,
                                           info=t(spec["help"]), elem_id=f"field-{name}", visible=name in mine)
            else:
                fields[name] = forms.field_component(spec, label, elem_id=f"field-{name}", visible=name in mine)
    return group, fields


PICKED_FROM_RUNS = ("classifier_run", "classifier_label")


def on_judge_runs(ctx: StudioContext):
    """The classifier runs the person may see that can judge replies (the classifier reward), newest first."""
    return gr.update(choices=classifier_runs(ctx.runs()))  # a typed id stays (custom values are allowed)


def on_judge_run(ctx: StudioContext, run_id, label):
    """The picked judge's labels; the label kept where the new judge knows it."""
    run_id = (run_id or "").strip()
    if not run_id:
        return gr.update(choices=[])
    try:
        labels = classifier_labels(ctx.store.run_dir(run_id))
    except RunError:  # not a run the person may see: said when the run is started, with the reason
        return gr.update(choices=[])
    return gr.update(choices=labels, value=label if label in labels or not labels else labels[0])


def _own_settings(task_name: str | None) -> set[str]:
    return {spec["name"] for spec in forms.task_field_specs(task_name)}


def on_task_settings(names: list[str], task_name):
    """Show the picked task's own settings, with its own help where two tasks share a name (max_new_tokens: a
    generated answer's length, or a reply's in reinforcement learning); hide the others'."""
    try:
        mine = {spec["name"]: spec for spec in forms.task_field_specs(task_name)}
    except ValueError:
        return [gr.skip()] * (len(names) + 1)
    return [gr.update(visible=bool(mine))] + [
        gr.update(visible=True, info=t(mine[name]["help"])) if name in mine and mine[name].get("help")
        else gr.update(visible=name in mine) for name in names]


def _config_file_section(start_text: str, start_file: str | None) -> tuple:
    with gr.Accordion(t("Config file", "配置文件"), open=False):
        gr.Markdown(t("The whole run as YAML: preview and download it to rerun with `studio train`, "
                      "or load one to fill this form.",
                      "以 YAML 表示的完整运行配置：可预览并下载，用 `studio train` 重新运行；"
                      "也可以加载配置文件来填写表单。"))
        with gr.Row():
            preview_config = gr.Button(t("Preview config", "预览配置"), size="md")
            download_config = gr.DownloadButton(t("Download config", "下载配置"), value=start_file, size="md")
            load_config = gr.UploadButton(t("Load a config file", "加载配置文件"),
                                          file_types=list(uploads.CONFIG_SUFFIXES), size="md")
        config_message = message_box()
        config_code = gr.Code(value=start_text, language="yaml", label=t("config.yaml", "config.yaml"), lines=12,
                              max_lines=40, interactive=False, show_line_numbers=False)
    return config_code, preview_config, download_config, load_config, config_message


def _starting_config(ctx: StudioContext, data: DataTab, form: dict) -> tuple[str, str | None]:
    """The page opens with the starting config already previewed and downloadable."""
    state = data.state.value
    if state is None:
        return "", None
    values = {k: c.value for k, c in {**data.form, **form}.items()}
    try:
        return config_file(ctx, RunConfig.from_dict(forms.raw_config(state, values)), state.name)
    except ConfigError:
        return "", None


def build(ctx: StudioContext, data: DataTab) -> ModelTab:
    intro(t("Choose the base model and how to adapt it. Defaults train well on the samples; every setting "
            "explains itself.",
            "选择基础模型和适配方法。默认值在示例数据上就能训练好；每个设置都附有说明。"))
    catalog = catalog_choices()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=380):
            model, model_custom, method, method_groups, method_fields = _model_and_method(ctx, catalog,
                                                                                            data.task.value)
        with gr.Column(scale=2, min_width=340):
            params = gr.Markdown(t("Counting trainable parameters…", "正在统计可训练参数…"),
                                 elem_classes=["studio-card"], elem_id="param-count")
            training = _essential_fields(get_task(data.task.value).model.learning_rate(method.value))
            task_group, task_fields = _task_fields(data.task.value)
            training.update(_more_fields())
    form = {"model": model, "model_custom": model_custom, "method": method, **method_fields, **training,
            **task_fields}
    config_parts = _config_file_section(*_starting_config(ctx, data, form))
    tab = ModelTab(model, model_custom, method, method_groups, method_fields, training, params, *config_parts,
                   on_count_parameters=bind(on_count_parameters, ctx), task_group=task_group, task_fields=task_fields)
    _wire(ctx, tab, data, [c[1] for c in catalog])
    return tab


def _wire(ctx: StudioContext, m: ModelTab, data: DataTab, catalog_ids: list[str]) -> None:
    form, full_form = m.form, {**data.form, **m.form}
    # change: also when a loaded config sets the method; input: only when the user picks one,
    # so a loaded config keeps its own learning rate.
    m.method.change(bind(on_method, list(m.method_groups)), inputs=m.method, outputs=list(m.method_groups.values()),
                    api_visibility="private", queue=False)
    m.method.input(on_method_picked, inputs=[m.method, data.task], outputs=m.training["learning_rate"],
                   api_visibility="private", queue=False)
    triggers = [m.model.change, m.model_custom.submit, m.model_custom.blur, m.method.change, data.state.change]
    for comp in m.method_fields.values():
        # A typed number counts when it is submitted or left; a picked choice (a Dropdown) when it changes.
        triggers += [comp.submit, comp.blur] if hasattr(comp, "submit") else [comp.change]
    # The memory estimate beside the count follows the settings it depends on.
    triggers += [m.training[k].change for k in ("batch_size", "max_length", "precision", "gradient_checkpointing",
                                                "device") if k in m.training]
    gr.on(triggers, forms.with_keywords(bind(on_count_parameters, ctx), list(form)), inputs=[data.state],
          inputs_kwargs=form,
          outputs=m.params, api_name="count_parameters", trigger_mode="always_last",
          concurrency_id="models", concurrency_limit=2, show_progress="minimal")
    data.task.change(on_task, inputs=[data.task, m.model, m.model_custom, m.method], outputs=[m.model, m.method],
                     api_visibility="private", queue=False)
    seen = gr.State(None)  # the data file whose language last chose the model
    data.state.change(on_data_language, inputs=[data.state, seen, m.model, m.model_custom], outputs=[m.model, seen],
                      api_visibility="private", queue=False)
    data.task.input(on_task_picked, inputs=[data.task, m.method], outputs=m.training["learning_rate"],
                    api_visibility="private", queue=False)
    data.task.change(bind(on_task_settings, list(m.task_fields)), inputs=data.task,
                     outputs=[m.task_group, *m.task_fields.values()], api_visibility="private", queue=False)
    judge_run, judge_label = m.task_fields["classifier_run"], m.task_fields["classifier_label"]
    judge_run.focus(bind(on_judge_runs, ctx), outputs=judge_run, api_visibility="private")
    judge_run.change(bind(on_judge_run, ctx), inputs=[judge_run, judge_label], outputs=judge_label,
                     api_visibility="private")
    gr.on([m.model.change, m.model_custom.submit, m.training["max_length"].submit, m.training["max_length"].blur],
          bind(on_tokenizer, ctx), inputs=[m.model, m.model_custom, m.training["max_length"]], outputs=data.tokens,
          api_visibility="private", trigger_mode="always_last").then(
        data.on_recount, inputs=[data.state, data.tokens], inputs_kwargs=data.form,
        outputs=data.outputs, api_visibility="private", **DATA_QUEUE)
    m.preview_config.click(forms.with_keywords(bind(on_preview_config, ctx), list(full_form)), inputs=[data.state],
                           inputs_kwargs=full_form, outputs=[m.config_code, m.download_config],
                           api_name="preview_config")
    m.load_config.upload(bind(on_load_config, ctx, list(full_form), catalog_ids), inputs=[m.load_config, data.state],
                         outputs=list(full_form.values()) + [data.state, m.config_message],
                         api_name="load_config").then(
        data.on_check, inputs=[data.state, data.tokens], inputs_kwargs=data.form, outputs=data.outputs,
        api_visibility="private", **DATA_QUEUE)


def config_file(ctx: StudioContext, cfg: RunConfig, data_name: str | None = None) -> tuple[str, str]:
    """(YAML text, path of a downloadable copy) of a config, its method settings complete; its data file by the name
    the person knows (data_name: a sample's name, their file's), never where this server keeps it."""
    if data_name:
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, train=data_name))
    text = cfg.resolved().to_yaml()
    path = ctx.download_dir() / "studio-config.yaml"
    path.write_text(text, encoding="utf-8")
    return text, str(path)


def read_config(ctx: StudioContext, file: str, state: DataState | None) -> tuple[RunConfig, DataState | None, str]:
    """An uploaded YAML/JSON config, checked; its data file is used only when it is a sample or an upload."""
    if not file:
        raise ConfigError("No config file arrived; choose a .yaml, .yml or .json file.")
    p = received(file)
    if p.suffix.lower() not in uploads.CONFIG_SUFFIXES:
        raise ConfigError(f"{uploads.display_name(p.name)}: a config is a .yaml, .yml or .json file.")
    if p.stat().st_size > 1_000_000:
        raise ConfigError(f"{uploads.display_name(p.name)} is larger than 1 MB; that is not a run config.")
    try:
        # YAML is a superset of JSON; aliases (a few bytes that expand to billions of values) are refused.
        raw = plain_yaml.load(p.read_text(encoding="utf-8"), uploads.display_name(p.name))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{uploads.display_name(p.name)} is not valid YAML or JSON: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{uploads.display_name(p.name)} must hold a mapping of settings (task, model, method, ...).")
    raw_data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    wanted = raw_data.get("train") if isinstance(raw_data.get("train"), str) else ""
    # A config may name any path; only bundled samples and the person's own uploads are read from it.
    allowed = [ctx.uploads, *{p.parent for p in ctx.samples.values()}]
    by_sample = {name: path for name, path in ctx.samples.items()}
    new_state = state
    note = "Config loaded into the form."
    if wanted:
        cand = Path(wanted)
        sample = by_sample.get(cand.name) if not cand.is_absolute() or not cand.exists() else None
        if sample is None and cand.is_absolute() and cand.is_file() and uploads.is_within(cand, allowed):
            sample = cand
        if sample is not None and sample.is_file():
            upload = sample.parent == ctx.uploads
            new_state = DataState(str(sample), "uploaded file" if upload else sample.name,
                                  "upload" if upload else "sample", str(raw.get("task") or DEFAULT_TASK))
            note = f"Config loaded into the form, with its data {new_state.name}."
        else:
            note = (f"Config loaded into the form. Its data file {Path(wanted).name} is not on this server: "
                    "upload it in the Data tab.")
    raw = {**raw, "data": {**raw_data, "train": new_state.path if new_state else "-"}}
    cfg = RunConfig.from_dict(raw)
    return cfg, new_state, note
