"""studio.views.plots: metrics records -> plotly figures."""

from __future__ import annotations

from studio.views import plots

RECORDS = [
    {"kind": "start", "step": 0},
    {"kind": "train", "step": 1, "loss": 1.4, "learning_rate": 1e-4},
    {"kind": "train", "step": 2, "loss": 1.1, "learning_rate": 2e-4},
    {"kind": "eval", "step": 2, "eval_loss": 1.0, "eval_accuracy": 0.5, "eval_f1": 0.4},
    {"kind": "train", "step": 3, "loss": 0.9, "learning_rate": 1e-4},
    {"kind": "train", "step": 2, "loss": 1.05, "learning_rate": 2e-4},  # a resumed run logs step 2 again
]


def test_series_keeps_the_latest_value_of_a_repeated_step():
    assert plots.series(RECORDS, "loss", "train") == ([1, 2, 3], [1.4, 1.05, 0.9])
    assert plots.series(RECORDS, "eval_loss", "eval") == ([2], [1.0])


def test_loss_and_eval_figures_hold_their_series():
    loss = plots.loss_figure(RECORDS)
    assert [t.name for t in loss.data] == ["training loss", "validation loss"]
    assert list(loss.data[0].x) == [1, 2, 3]
    scores = plots.eval_figure(RECORDS)
    assert [t.name for t in scores.data] == ["validation accuracy", "validation F1 (macro)"]


def test_a_task_names_its_own_metrics_in_the_score_plot():
    from studio.tasks import get_task

    ner = get_task("token-classification")
    records = [{"kind": "eval", "step": 2, "eval_f1": 0.4, "eval_token_accuracy": 0.8}]
    names = [t.name for t in plots.eval_figure(records, ner.metrics.plot, ner.metrics.labels).data]
    assert names == ["validation entity F1 (micro)", "validation token accuracy"]
    zh = [t.name for t in plots.eval_figure(records, ner.metrics.plot, ner.metrics.labels, zh=True).data]
    assert zh == ["验证实体 F1（微平均）", "验证词元准确率"]


def test_empty_inputs_give_a_figure_that_says_what_comes():
    for fig in (plots.loss_figure([]), plots.eval_figure([{"kind": "train", "step": 1, "loss": 1}]),
                plots.confusion_figure([], []), plots.token_length_figure([])):
        assert not fig.data and fig.layout.annotations[0].text


def test_confusion_and_compare_figures():
    fig = plots.confusion_figure(["a", "b"], [[3, 1], [0, 4]])
    assert fig.data[0].type == "heatmap" and list(fig.data[0].x) == ["a", "b"]
    cmp = plots.compare_figure({"one": RECORDS, "two": RECORDS[:3]}, "loss")
    assert [t.name for t in cmp.data] == ["one", "two"]
