"""Metrics and reports -> plotly figures. Pure functions: data in, figure out.

The records are the lines of a run's metrics.jsonl (see studio.base.runfolder). Every
figure shares one look (template, height, margins) so the tabs line up, and an
empty input gives a figure that says what will appear there instead of blank axes.
Titles stay out of the figures: the page labels them, in the reader's language.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import plotly.graph_objects as go

HEIGHT = 300
COLORS = ("#4f46e5", "#f59e0b", "#10b981", "#ef4444", "#0ea5e9", "#a855f7", "#64748b", "#ec4899")
METRIC_NAMES = {
    "loss": "training loss", "eval_loss": "validation loss", "eval_accuracy": "validation accuracy",
    "eval_f1": "validation F1 (macro)", "eval_precision": "validation precision", "eval_recall": "validation recall",
    "learning_rate": "learning rate", "eval_perplexity": "validation perplexity", "eval_bleu": "validation BLEU",
    "eval_chrf": "validation chrF", "eval_rougeL": "validation ROUGE-L", "eval_token_accuracy": "validation token accuracy",
    "eval_reward_accuracy": "reward accuracy", "eval_reward_margin": "reward margin",
    "eval_reward_chosen": "reward of chosen", "eval_reward_rejected": "reward of rejected",
}


def _base(fig: go.Figure, x_title: str | None = None, y_title: str | None = None, height: int = HEIGHT,
          title: str | None = None) -> go.Figure:
    # The legend sits top right: the page puts the chart's label (or its own title) over its top-left corner.
    fig.update_layout(template="plotly_white", height=height, margin=dict(l=55, r=20, t=36, b=45),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
                      font=dict(size=12), hovermode="x unified")
    if title:
        fig.update_layout(title=dict(text=title, x=0.01, y=0.98, font=dict(size=14)), margin=dict(t=48))
    if x_title:
        fig.update_xaxes(title_text=x_title)
    if y_title:
        fig.update_yaxes(title_text=y_title)
    return fig


def empty_figure(message: str, height: int = HEIGHT) -> go.Figure:
    """A blank figure holding one line of text (what will appear here, or what to do)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
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
           labels: dict[str, str] | None = None) -> go.Figure:
    names = {**METRIC_NAMES, **(labels or {})}
    fig = go.Figure()
    for i, (key, kind) in enumerate(keys):
        x, y = series(records, key, kind)
        if not x:
            continue
        # Evaluations are few: markers make single points visible.
        mode = "lines+markers" if kind == "eval" or len(x) < 3 else "lines"
        fig.add_trace(go.Scatter(x=x, y=y, mode=mode, name=names.get(key, key),
                                 line=dict(color=COLORS[i % len(COLORS)], width=2)))
    if not fig.data:
        return empty_figure(empty)
    _base(fig, "step", y_title)
    fig.update_xaxes(rangemode="tozero")
    if y_range:
        fig.update_yaxes(range=y_range)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def loss_figure(records: list[dict[str, Any]]) -> go.Figure:
    """Training loss (every logging step) and validation loss (every evaluation) against step."""
    return _lines(records, [("loss", "train"), ("eval_loss", "eval")], "loss",
                  "The loss appears here after the first logging step.")


def eval_figure(records: list[dict[str, Any]], metrics: Sequence[str] = ("accuracy", "f1"),
                labels: dict[str, str] | None = None) -> go.Figure:
    """Validation scores against step (the task's PLOT_METRICS: accuracy and macro F1 for classification).

    `labels` renames traces where a task's metric differs from the usual one of that name (NER's F1 is entity-level).
    """
    keys = [(f"eval_{m}", "eval") for m in metrics]
    values = [v for k, _ in keys for v in series(records, k, "eval")[1]]
    # Shares (accuracy, F1) sit on a fixed 0..1 axis so curves compare across runs; BLEU, chrF, perplexity do not.
    y_range = [0, 1.02] if values and 0 <= min(values) and max(values) <= 1 else None  # rewards go below 0
    return _lines(records, keys, "score", "Validation scores appear here after the first evaluation.", y_range=y_range,
                  labels=labels)


def learning_rate_figure(records: list[dict[str, Any]]) -> go.Figure:
    fig = _lines(records, [("learning_rate", "train")], "learning rate",
                 "The learning-rate schedule appears here once training starts.")
    if fig.data:
        fig.update_yaxes(tickformat=".1e")  # plotly's default writes 4e-4 as "400µ"
    return fig


def compare_figure(runs: dict[str, list[dict[str, Any]]], key: str) -> go.Figure:
    """One metric of several runs overlaid, one line per run (named by the dict's keys)."""
    kind = "eval" if key.startswith("eval_") else "train"
    fig = go.Figure()
    for i, (name, records) in enumerate(runs.items()):
        x, y = series(records, key, kind)
        if x:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if kind == "eval" else "lines", name=name,
                                     line=dict(color=COLORS[i % len(COLORS)], width=2)))
    if not fig.data:
        return empty_figure("Pick runs that have logged this metric to compare them.")
    return _base(fig, "step", METRIC_NAMES.get(key, key))


def label_distribution_figure(label_counts: dict[str, dict[str, int]], x_title: str = "label",
                              y_title: str = "rows", title: str | None = None) -> go.Figure:
    """Counts per category, one bar group per series (the splits, for rows per label)."""
    if not label_counts:
        return _base(empty_figure("Load data to see how its labels are distributed."), title=title)
    fig = go.Figure()
    for i, (split, counts) in enumerate(label_counts.items()):
        fig.add_trace(go.Bar(x=list(counts), y=list(counts.values()), name=split,
                             marker_color=COLORS[i % len(COLORS)]))
    fig.update_layout(barmode="group")
    return _base(fig, x_title, y_title, title=title).update_layout(hovermode="closest")


def token_length_figure(lengths: Sequence[int] | dict[str, Sequence[int]], max_length: int | None = None,
                        unit: str = "text", title: str | None = None) -> go.Figure:
    """Histograms of tokens per row, one per series (a prompt's and an answer's, say), the truncation point marked."""
    series = lengths if isinstance(lengths, dict) else {f"{unit}s": lengths}
    series = {name: list(v) for name, v in series.items() if len(v)}
    if not series:
        return _base(empty_figure("Token lengths appear here once the model's tokenizer is available."), title=title)
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        fig.add_trace(go.Histogram(x=values, nbinsx=min(60, max(10, len(set(values)))), name=name,
                                   marker_color=COLORS[i % len(COLORS)], opacity=0.75 if len(series) > 1 else 1.0))
    if max_length:
        fig.add_vline(x=max_length, line_dash="dash", line_color=COLORS[3],
                      annotation_text=f"max_length {max_length}", annotation_position="top right")
    fig.update_layout(showlegend=len(series) > 1, bargap=0.05, barmode="overlay")
    return _base(fig, f"tokens per {unit}", f"{unit}s", title=title).update_layout(hovermode="closest")


def confusion_figure(labels: list[str], matrix: list[list[int]]) -> go.Figure:
    """Confusion matrix heatmap: rows are true labels, columns predictions, cells annotated with counts."""
    if not labels or not matrix:
        return empty_figure("The confusion matrix appears when a run has finished its test evaluation.")
    height = max(HEIGHT, 60 + 42 * len(labels))
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", showscale=False,
                               text=[[str(v) for v in row] for row in matrix], texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z} rows<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _base(fig, "predicted", "true", height=height).update_layout(hovermode="closest")


def learning_curve_figure(curves: dict[str, list[tuple[int, float]]], metric: str = "accuracy",
                          title: str | None = None) -> go.Figure:
    """Test score against labels used: one line per curve (a labelling project, or a strategy in a benchmark)."""
    fig = go.Figure()
    for i, (name, points) in enumerate(curves.items()):
        points = sorted(points)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
                                 line=dict(color=COLORS[i % len(COLORS)])))
    if not any(curves.values()):
        return empty_figure("The learning curve appears once a run trained on the labels has finished.")
    fig = _base(fig, "labelled rows", f"test {metric}", title=title)
    return fig.update_yaxes(range=[0, 1.02]) if metric in ("accuracy", "f1") else fig
