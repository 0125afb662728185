"""Metrics and reports -> plotly figures. Pure functions: data in, figure out.

The records are the lines of a run's metrics.jsonl (see studio.base.runfolder). Every
figure shares one look (template, height, margins) so the tabs line up, and an
empty input gives a figure that says what will appear there instead of blank axes.
Titles stay out of the figures: the page labels them. Every text a figure shows is a Text and each function
takes `zh`: True draws the figure in Chinese (axes, legends, notes), for a reader whose browser asks for it.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import plotly.graph_objects as go

from studio.base.text import Text, pick

HEIGHT = 300
COLORS = ("#4f46e5", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7", "#64748b", "#ec4899")
METRIC_NAMES = {
    "loss": Text("training loss", "训练损失"), "eval_loss": Text("validation loss", "验证损失"),
    "eval_accuracy": Text("validation accuracy", "验证准确率"),
    "eval_f1": Text("validation F1 (macro)", "验证 F1（宏平均）"),
    "eval_precision": Text("validation precision", "验证精确率"),
    "eval_recall": Text("validation recall", "验证召回率"),
    "learning_rate": Text("learning rate", "学习率"), "eval_perplexity": Text("validation perplexity", "验证困惑度"),
    "eval_bleu": Text("validation BLEU", "验证 BLEU"), "eval_chrf": Text("validation chrF", "验证 chrF"),
    "eval_rougeL": Text("validation ROUGE-L", "验证 ROUGE-L"),
    "eval_token_accuracy": Text("validation token accuracy", "验证词元准确率"),
    "eval_reward_accuracy": Text("reward accuracy", "奖励准确率"),
    "eval_reward_margin": Text("reward margin", "奖励差值"),
    "eval_reward_chosen": Text("reward of chosen", "更优回答的奖励"),
    "eval_reward_rejected": Text("reward of rejected", "较差回答的奖励"),
    "eval_reward": Text("validation reward", "验证奖励"), "reward": Text("reward (training)", "奖励（训练）"),
    **{f"eval_reward_{name}": Text(f"validation {name} reward", f"验证 {name} 奖励")
       for name in ("answer", "format", "length", "json", "classifier", "code")},
    **{f"reward_{name}": Text(f"{name} reward (training)", f"{name} 奖励（训练）")
       for name in ("answer", "format", "length", "json", "classifier", "code")},
}
SPLITS = {"train": Text("train", "训练集"), "validation": Text("validation", "验证集"), "test": Text("test", "测试集")}
STEP, LOSS, SCORE = Text("step", "步数"), Text("loss", "损失"), Text("score", "得分")


def _base(fig: go.Figure, x_title: str | None = None, y_title: str | None = None, height: int = HEIGHT,
          title: str | None = None, zh: bool = False) -> go.Figure:
    # The legend sits top right: the page puts the chart's label (or its own title) over its top-left corner.
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=55, r=20, t=36, b=45),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
                      font=dict(size=12), hovermode="x unified")
    if title:
        fig.update_layout(title=dict(text=pick(title, zh), x=0.01, y=0.98, font=dict(size=14)), margin=dict(t=48))
    if x_title:
        fig.update_xaxes(title_text=pick(x_title, zh))
    if y_title:
        fig.update_yaxes(title_text=pick(y_title, zh))
    return fig


def empty_figure(message: str, height: int = HEIGHT, zh: bool = False) -> go.Figure:
    """A blank figure holding one line of text (what will appear here, or what to do)."""
    fig = go.Figure()
    fig.add_annotation(text=pick(message, zh), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=13, color="#64748b"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _base(fig, height=height)


def series(records: Iterable[dict[str, Any]], key: str, kind: str | None = None) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric; on a repeated step (a resumed run) the later value wins."""
    points: dict[int, float] = {}
    for r in records:
        if kind is not None and r.get("kind") != kind:
            continue
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and r.get("step") is not None:
            points[int(r["step"])] = float(v)
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def _lines(records: list[dict[str, Any]], keys: Sequence[tuple[str, str]], y_title: str, empty: str,
           y_range: list[float] | None = None, log_y: bool = False,
           labels: dict[str, str] | None = None, zh: bool = False) -> go.Figure:
    names = {**METRIC_NAMES, **(labels or {})}
    fig = go.Figure()
    for i, (key, kind) in enumerate(keys):
        x, y = series(records, key, kind)
        if not x:
            continue
        # Evaluations are few: markers make single points visible.
        mode = "lines+markers" if kind == "eval" or len(x) < 3 else "lines"
        fig.add_trace(go.Scatter(x=x, y=y, mode=mode, name=pick(names.get(key, key), zh),
                                 line=dict(color=COLORS[i % len(COLORS)], width=2)))
    if not fig.data:
        return empty_figure(empty, zh=zh)
    _base(fig, STEP, y_title, zh=zh)
    fig.update_xaxes(rangemode="tozero")
    if y_range:
        fig.update_yaxes(range=y_range)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def loss_figure(records: list[dict[str, Any]], zh: bool = False) -> go.Figure:
    """Training loss (every logging step) and validation loss (every evaluation) against step."""
    return _lines(records, [("loss", "train"), ("eval_loss", "eval")], LOSS,
                  Text("The loss appears here after the first logging step.", "第一次记录日志后，这里会显示损失。"),
                  zh=zh)


def eval_figure(records: list[dict[str, Any]], metrics: Sequence[str] = ("accuracy", "f1"),
                labels: dict[str, str] | None = None, zh: bool = False, steps: Sequence[str] = ()) -> go.Figure:
    """Validation scores against step (the task's PLOT_METRICS: accuracy and macro F1 for classification), and the
    `steps` metrics as the trainer logs them at each training step (the rewards of reinforcement learning).

    `labels` renames traces where a task's metric differs from the usual one of that name (NER's F1 is entity-level).
    """
    keys = [(f"eval_{m}", "eval") for m in metrics] + [(m, "train") for m in steps]
    values = [v for k, kind in keys for v in series(records, k, kind)[1]]
    # Shares (accuracy, F1) sit on a fixed 0..1 axis so curves compare across runs; BLEU, chrF, perplexity do not.
    y_range = [0, 1.02] if values and 0 <= min(values) and max(values) <= 1 else None  # rewards go below 0
    return _lines(records, keys, SCORE, Text("Validation scores appear here after the first evaluation.",
                                             "第一次评估后，这里会显示验证指标。"), y_range=y_range, labels=labels,
                  zh=zh)


def learning_rate_figure(records: list[dict[str, Any]], zh: bool = False) -> go.Figure:
    fig = _lines(records, [("learning_rate", "train")], METRIC_NAMES["learning_rate"],
                 Text("The learning-rate schedule appears here once training starts.",
                      "训练开始后，这里会显示学习率变化。"),
                 zh=zh)
    if fig.data:
        fig.update_yaxes(tickformat=".1e")  # plotly's default writes 4e-4 as "400µ"
    return fig


def compare_figure(runs: dict[str, list[dict[str, Any]]], key: str, zh: bool = False) -> go.Figure:
    """One metric of several runs overlaid, one line per run (named by the dict's keys)."""
    kind = "eval" if key.startswith("eval_") else "train"
    fig = go.Figure()
    for i, (name, records) in enumerate(runs.items()):
        x, y = series(records, key, kind)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if kind == "eval" else "lines", name=name,
                                     line=dict(color=COLORS[i % len(COLORS)], width=2)))
    if not fig.data:
        return empty_figure(Text("Pick runs that have logged this metric to compare them.",
                                 "请选择记录了该指标的运行进行比较。"), zh=zh)
    return _base(fig, STEP, METRIC_NAMES.get(key, key), zh=zh)


def label_distribution_figure(label_counts: dict[str, dict[str, int]], x_title: str = Text("label", "标签"),
                              y_title: str = Text("rows", "行数"), title: str | None = None,
                              zh: bool = False) -> go.Figure:
    """Counts per category, one bar group per series (the splits, for rows per label)."""
    if not label_counts:
        return _base(empty_figure(Text("Load data to see how its labels are distributed.",
                                       "加载数据后，这里会显示标签分布。"),
                                  zh=zh), title=title, zh=zh)
    fig = go.Figure()
    for i, (split, counts) in enumerate(label_counts.items()):
        fig.add_trace(go.Bar(x=list(counts), y=list(counts.values()), name=pick(SPLITS.get(split, split), zh),
                             marker_color=COLORS[i % len(COLORS)]))
    fig.update_layout(barmode="group")
    return _base(fig, x_title, y_title, title=title, zh=zh).update_layout(hovermode="closest")


def token_length_figure(lengths: Sequence[int] | dict[str, Sequence[int]], max_length: int | None = None,
                        unit: str = Text("text", "文本"), title: str | None = None, zh: bool = False) -> go.Figure:
    """Histograms of tokens per row, one per series (a prompt's and an answer's, say), the truncation point marked."""
    series = lengths if isinstance(lengths, dict) else {unit: lengths}
    series = {name: list(v) for name, v in series.items() if len(v)}
    if not series:
        return _base(empty_figure(Text("Token lengths appear here once the model's tokenizer is available.",
                                       "模型的分词器可用后，这里会显示词元长度。"), zh=zh), title=title, zh=zh)
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        fig.add_trace(go.Histogram(x=values, nbinsx=min(60, max(10, len(set(values)))), name=pick(name, zh),
                                   marker_color=COLORS[i % len(COLORS)], opacity=0.75 if len(series) > 1 else 1.0))
    if max_length:
        fig.add_vline(x=max_length, line_dash="dash", line_color=COLORS[3],
                      annotation_text=f"max_length {max_length}", annotation_position="top right")
    fig.update_layout(showlegend=len(series) > 1, bargap=0.05, barmode="overlay")
    noun = unit if isinstance(unit, Text) else Text(str(unit))
    x_title = Text(f"tokens per {noun}", f"每条{noun.zh}的词元数")
    return _base(fig, x_title, Text(f"{noun}s", noun.zh), title=title, zh=zh).update_layout(hovermode="closest")


def confusion_figure(labels: list[str], matrix: list[list[int]], zh: bool = False) -> go.Figure:
    """Confusion matrix heatmap: rows are true labels, columns predictions, cells annotated with counts."""
    if not labels or not matrix:
        return empty_figure(Text("The confusion matrix appears when a run has finished its test evaluation.",
                                 "运行完成测试评估后，这里会显示混淆矩阵。"), zh=zh)
    height = max(HEIGHT, 60 + 42 * len(labels))
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=[[str(v) for v in row] for row in matrix], texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z} rows<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _base(fig, Text("predicted", "预测"), Text("true", "真实"), height=height, zh=zh).update_layout(
        hovermode="closest")


def learning_curve_figure(curves: dict[str, list[tuple[int, float]]], metric: str = "accuracy",
                          title: str | None = None, zh: bool = False) -> go.Figure:
    """Test score against labels used: one line per curve (a labelling project, or a strategy in a benchmark)."""
    fig = go.Figure()
    for i, (name, points) in enumerate(curves.items()):
        points = sorted(points)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
                                 line=dict(color=COLORS[i % len(COLORS)])))
    if not any(curves.values()):
        return empty_figure(Text("The learning curve appears once a run trained on the labels has finished.",
                                 "用这些标签训练的运行完成后，这里会显示学习曲线。"), zh=zh)
    fig = _base(fig, Text("labelled rows", "已标注行数"), Text(f"test {metric}", f"测试 {metric}"), title=title, zh=zh)
    return fig.update_yaxes(range=[0, 1.02]) if metric in ("accuracy", "f1") else fig
