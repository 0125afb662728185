"""Augmentation through the app's named API (gradio_client): the preview beside the originals, the config the
form makes, a run that trains on augmented rows and says so in its report, and the bad settings' sentences.
The headless-Chromium flow is in test_browser_augment.py (augment-*.png)."""

from __future__ import annotations

import time

import pytest
import yaml

gradio_client = pytest.importorskip("gradio_client")

pytestmark = pytest.mark.slow


def test_preview_config_run_and_report(client, ui_tiny_model):
    note, table = client.predict(augment_operations=["swap", "delete"], augment_copies=2,
                                 api_name="/preview_augmentation")
    assert "New rows made by swap, delete from six training rows" in note and "adds up to" in note, note
    rows = table["data"]
    assert table["headers"] == ["operation", "original", "augmented", "label"] and len(rows) == 6
    assert [r[0] for r in rows] == ["swap", "delete"] * 3 and all(r[1] != r[2] for r in rows)

    text, _ = client.predict(model_custom=str(ui_tiny_model), augment_copies=2, augment_operations=["swap", "insert"],
                             augment_strength=0.2, api_name="/preview_config")
    saved = yaml.safe_load(text)["augment"]
    assert saved == {"copies": 2, "operations": "swap, insert", "strength": 0.2, "max_new_rows": None,
                     "generator": "smollm2"}, saved

    msg, run_id = client.predict(model_custom=str(ui_tiny_model), augment_copies=1, augment_operations=["delete"],
                                 epochs=1, max_length=32, api_name="/start_run")
    assert run_id, msg
    end = time.time() + 300
    while (st := client.predict(run_id, api_name="/run_status"))["status"] not in ("completed", "failed", "stopped"):
        assert time.time() < end, st
        time.sleep(1)
    assert st["status"] == "completed", st.get("reason")
    summary = client.predict(run_id, api_name="/run_report")[0]
    assert "augmented training rows (delete" in summary and "never augmented" in summary, summary


@pytest.mark.parametrize("kw, says", [
    ({"augment_copies": 1, "augment_operations": ["mention"]}, "'mention' does not apply to text-classification"),
    ({"augment_copies": 1, "augment_strength": 0.9}, "0.9 is greater than maximum value 0.5"),  # gradio's own check
    ({"augment_copies": 1, "augment_operations": ["paraphrase"], "augment_generator": "nobody/none"},
     "augment.generator: paraphrase needs its generator"),
])
def test_bad_settings_are_one_sentence(client, kw, says):
    with pytest.raises(Exception, match=says):
        client.predict(api_name="/preview_augmentation", **kw)
