"""components.forms: a config fills the form and the form gives the config back."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.config import RunConfig

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "samples" / "support_tickets.csv"



def test_form_values_and_raw_config_round_trip():
    pytest.importorskip("gradio")
    from components import forms

    cfg = RunConfig.from_dict({"model": "sentence-transformers/all-MiniLM-L6-v2", "method": "dora",
                               "method_args": {"r": 8}, "data": {"train": str(SAMPLE), "max_rows": 100},
                               "training": {"epochs": 2, "early_stopping_patience": None}})
    vals = forms.form_values(cfg, ["sentence-transformers/all-MiniLM-L6-v2"])
    assert vals["dora_r"] == 8 and vals["lora_r"] == 16
    assert vals["early_stopping_patience"] == 0  # 0 is how the form shows "unset"
    assert vals["learning_rate"] == 5e-4  # the method's own default, shown as a number
    from components.session import DataState

    back = RunConfig.from_dict(forms.raw_config(DataState(str(SAMPLE), SAMPLE.name, "sample"), vals))
    assert back.resolved().method_args == cfg.resolved().method_args and back.data.max_rows == 100
    assert back.training.early_stopping_patience is None and back.training.epochs == 2


def test_a_config_without_a_learning_rate_shows_its_tasks_default():
    from components import forms
    from studio.config import RunConfig

    cfg = RunConfig.from_dict({"task": "token-classification", "method": "lora", "data": {"train": "x.conll"}})
    assert forms.form_values(cfg, [])["learning_rate"] == 2e-3
