"""The tabs' handlers called as functions, without a browser or a server: what each returns for what it is given.

Fast (no training): the runs they read are folders written here, as a finished run leaves them.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from components.context import StudioContext
from components.tabs import data_tab, model_tab, playground_tab, runs_tab
from studio.base import files
from studio.base.entity import RUNS
from studio.base.runfolder import RunFolder
from studio.runs.store import Store
from studio.tasks import all_tasks, get_task
from studio.views.data_check import list_samples
from tests.components.ui_support import as_upload


@pytest.fixture
def ctx(tmp_path) -> StudioContext:
    samples = list_samples()
    return StudioContext(store=Store(tmp_path / "runs"), samples=samples, default_sample="support_tickets.csv",
                         default_model="minilm", default_method="lora")


def finished(ctx: StudioContext, task: str, predictions: list[dict]) -> str:
    """A run folder as a completed run of `task` leaves it: config, status, predictions (registered too)."""
    run_id = RUNS.new_id()
    rd = ctx.store.run_dir(run_id)
    rd.mkdir(parents=True)
    files.atomic_write_json(RunFolder(rd).config, {"task": task, "model": "minilm", "method": "lora",
                                                   "data": {"train": "x"}})
    files.atomic_write_json(RunFolder(rd).status, {"status": "completed"})
    files.atomic_write_text(RunFolder(rd).predictions, "".join(json.dumps(p) + "\n" for p in predictions))
    with ctx.store._db(immediate=True) as db:
        db.execute("INSERT INTO runs (id, task, status) VALUES (?,?,?)", (run_id, task, "completed"))
    return run_id


def test_picking_each_tasks_sample_checks_it_and_shows_its_pickers(ctx):
    for task in all_tasks():
        out = data_tab.on_pick_sample(ctx, task.data.samples[0], None, None)
        state, status, text_dd, _, context_dd = out[0], out[1], out[2], out[3], out[10]
        assert state.task == task.name and not state.failed and "Ready" in status
        assert text_dd["value"] in state.columns or state.columns == ()
        assert context_dd["visible"] == (len(task.inputs.columns) == 2)
    qa = data_tab.on_pick_sample(ctx, "qa_sample.jsonl", None, None)
    assert qa[0].context_column == "context" and qa[10]["value"] == "context"


def test_a_task_switch_checks_an_upload_again_and_says_so(ctx, tmp_path):
    src = tmp_path / "tickets.csv"
    src.write_text("text,label\n" + "".join(f"ticket number {i},{'a' if i % 2 else 'b'}\n" for i in range(40)))
    upload = data_tab.on_upload(ctx, as_upload(src), None, None, task="text-classification")
    switched = data_tab.on_task(ctx, "seq2seq", upload[0], None, None)
    assert switched[0].task == "seq2seq" and "Switched to Sequence to sequence" in switched[1]


def test_the_model_tab_shows_only_the_picked_tasks_own_settings():
    from components import forms

    names = list(forms.task_setting_specs())
    group, *fields = model_tab.on_task_settings(names, "preference")
    assert group["visible"] and {n for n, u in zip(names, fields) if u["visible"]} == \
        {"preference_loss", "beta", "dpo_loss_type", "max_new_tokens"}
    group, *fields = model_tab.on_task_settings(names, "token-classification")  # none of its own
    assert not group["visible"] and not any(u["visible"] for u in fields)
    # A name two tasks share says what it means for the picked one.
    _, *fields = model_tab.on_task_settings(names, "rl")
    from components.i18n import _TEXTS

    info = dict(zip(names, fields))["max_new_tokens"]["info"]
    assert "clipped share" in _TEXTS["en"][info.key] and "截断比例" in _TEXTS["zh-CN"][info.key]


def test_a_tasks_own_setting_is_a_form_field_no_other_field_shares_a_name_with():
    from components import forms

    others = set(forms.DATA_FIELDS) | {f["name"] for f in forms.field_help(forms.TrainingConfig)} | {
        forms.method_key(m, f["name"]) for m in forms.methods.METHODS for f in forms.methods.METHODS[m].fields()}
    assert not set(forms.task_setting_specs()) & others


def test_the_runs_tab_lists_each_tasks_predictions_in_its_own_columns(ctx):
    rows = {"text-classification": [{"text": "a", "label": "x", "predicted": "y", "confidence": 0.91, "correct": False},
                                    {"text": "b", "label": "x", "predicted": "x", "confidence": 0.99, "correct": True}],
            "seq2seq": [{"text": "s", "reference": "r", "output": "o", "exact": False, "chrf": 12.5}],
            "extractive-qa": [{"question": "q", "context": "c", "answer": "a", "predicted": "b", "exact": False,
                               "f1": 0.0, "score": 0.4}]}
    for task, preds in rows.items():
        rd = ctx.store.run_dir(finished(ctx, task, preds))
        frame = runs_tab.errors_frame(rd, None)
        spec = get_task(task).predictions
        assert list(frame.columns) == [runs_tab.HEADERS.get(c, c) for c in spec.columns]
        assert len(frame) == (1 if spec.correct else len(preds))  # mistakes only, where rows can be wrong
        note = runs_tab.errors_note(rd, None)
        assert ("misclassified" in note) == (spec.label is not None)  # a class label: classification's words
        assert ("most confident mistakes come first" in note) == (spec.confidence is not None)


def test_the_playground_shows_the_panel_of_the_picked_runs_task(ctx):
    groups = list(playground_tab.PANEL_BUILDERS)
    for task, panel in (("token-classification", "entities"), ("extractive-qa", "answer"), ("sft", "chat")):
        shown = playground_tab.panels_for(ctx, groups, finished(ctx, task, []))
        assert [u["visible"] for u in shown] == [g == panel for g in groups]
    assert [u["visible"] for u in playground_tab.panels_for(ctx, groups, None)] == [g == "classify" for g in groups]


def test_a_tag_file_with_an_entity_starting_at_i_is_offered_the_repair_and_reads_after_it(ctx, tmp_path):
    """MSRA-style char<TAB>tag lines with one I-PER after O: refused with the repair button shown; one click
    reads it, ticks the box (so a run reads it the same way) and the warnings count the tags changed."""
    lines = []
    for i in range(30):
        lines += ["张\tB-PER", "三\tI-PER", "在\tO", "北\tB-LOC", "京\tI-LOC", ""]
    lines[2 * 6] = "张\tI-PER"  # a sentence whose first entity starts with I-
    src = tmp_path / "msra.txt"
    src.write_text("\n".join(lines), encoding="utf-8")
    refused = data_tab.on_upload(ctx, as_upload(src), None, None, task="token-classification")
    assert refused[0].failed and "BIO tags out of order" in refused[1] and "repair_bio" in refused[1]
    assert refused[11]["visible"] is True and refused[9]["visible"] is False  # the repair, not the header fix
    fixed = data_tab.on_repair_bio(refused[0], None, None, task="token-classification")
    assert not fixed[0].failed and "Ready" in fixed[1]
    assert fixed[-1] is True and fixed[11]["visible"] is False
    assert "1 tag(s) were repaired" in fixed[5]


def test_a_file_with_records_that_cannot_be_read_is_offered_to_go_on_without_them(ctx, tmp_path):
    """A preference set in the chosen/rejected transcript shape with one record whose user turn has no text (and two
    silent refusals, which read): refused with the count and the skip button shown; one click reads the rest, ticks
    the box (so a run reads it the same way) and the warnings name what was left out."""
    src = tmp_path / "refusals.jsonl"
    src.write_bytes((Path(__file__).parents[2] / "studio/tasks/bad_records/preference.jsonl").read_bytes())
    refused = data_tab.on_upload(ctx, as_upload(src), None, None, task="preference")
    assert refused[0].failed and "1 of the 30 records of refusals.jsonl cannot be read" in refused[1]
    assert refused[12]["visible"] is True and refused[11]["visible"] is False and refused[9]["visible"] is False
    fixed = data_tab.on_skip_bad_records(refused[0], None, None, task="preference")
    assert not fixed[0].failed and "Ready: refusals.jsonl" in fixed[1]
    assert fixed[-1] is True and fixed[12]["visible"] is False
    assert "1 record(s) could not be read and were left out" in fixed[5]
    assert "refusals.jsonl line 11: turn 1 (user) of 'chosen' has no text" in fixed[5]  # not the stored copy's name
    zh_reader = SimpleNamespace(headers={"accept-language": "zh-CN,zh"})
    zh = data_tab.on_skip_bad_records(refused[0], None, zh_reader, task="preference")
    assert "条记录无法读取，已跳过" in zh[5]


def test_chinese_data_switches_an_english_base_to_the_multilingual_one_once(ctx):
    zh = data_tab.on_pick_sample(ctx, "hotel_reviews_zh.csv", None, None)[0]
    assert zh.cjk_share > 0.9
    minilm = models_hub_id("minilm")
    update, seen = model_tab.on_data_language(zh, None, minilm, "")
    assert update["value"] == models_hub_id("multilingual-e5-small") and "Chinese" in update["info"]
    assert seen == zh.path
    again, _ = model_tab.on_data_language(zh, seen, minilm, "")  # the same file again: a model picked stays
    assert "value" not in again  # gr.skip()
    typed, _ = model_tab.on_data_language(zh, None, minilm, "my/model")  # a typed model is the user's choice
    assert "value" not in typed
    english = data_tab.on_pick_sample(ctx, "support_tickets.csv", None, None)[0]
    kept, _ = model_tab.on_data_language(english, None, minilm, "")
    assert "value" not in kept


def models_hub_id(name: str) -> str:
    from studio import models

    return models.find_entry(name).hub_id


def test_the_sweep_space_follows_the_model_tab_until_the_person_edits_it(ctx):
    from components.tabs import sweep_tab

    state = data_tab.initial(ctx)[0]
    fields = ["training.learning_rate", "training.epochs"]
    skip = (sweep_tab.gr.skip(), sweep_tab.gr.skip())
    # Opening the tab on a fresh page (nothing drafted, nothing typed) drafts it around the form's values.
    space, drafted = sweep_tab.on_follow(state, fields, "", "", model="minilm", method="lora", epochs=3)
    assert space == drafted and "training.learning_rate" in space
    assert yaml.safe_load(space)["training.epochs"] == {"low": 2, "high": 5, "step": 1}
    # The Model tab changed since and the person left the space alone: it follows.
    again, _ = sweep_tab.on_follow(state, fields, space, drafted, model="minilm", method="lora", epochs=6)
    assert yaml.safe_load(again)["training.epochs"] == {"low": 5, "high": 8, "step": 1}
    # Edited by the person: it stays theirs.
    edited = space + "training.batch_size: {choices: [8]}\n"
    assert sweep_tab.on_follow(state, fields, edited, drafted, model="minilm", method="lora", epochs=6) == skip
    # Ticking a field is asking for a new draft, edited or not; a preset that cannot be drafted says why, in place.
    ticked, _ = sweep_tab.on_fields(state, [*fields, "training.max_length"], model="minilm", method="lora")
    assert "training.epochs" in yaml.safe_load(ticked) and "# space.training.max_length" in ticked
    # No data yet: nothing to draft around, nothing changes.
    assert sweep_tab.on_follow(None, fields, "", "", model="minilm") == skip


def test_a_new_tokenizer_counts_the_file_again_as_its_last_check_read_it(ctx, tmp_path):
    """A model picked before the one-click fix sends the Data tab's fields of that moment (the skip box still empty);
    its recount, which runs after the fix, must not refuse the file again."""
    src = tmp_path / "refusals.jsonl"
    src.write_bytes((Path(__file__).parents[2] / "studio/tasks/bad_records/preference.jsonl").read_bytes())
    refused = data_tab.on_upload(ctx, as_upload(src), None, None, task="preference")
    fixed = data_tab.on_skip_bad_records(refused[0], None, None, task="preference", skip_bad_records=False)
    recounted = data_tab.on_recount(fixed[0], None, None, task="preference", skip_bad_records=False)
    assert not recounted[0].failed and "Ready: refusals.jsonl" in recounted[1]
    assert "1 record(s) could not be read and were left out" in recounted[5]
    assert dict(recounted[0].read_with)["skip_bad_records"] is True


def test_the_method_radio_offers_only_the_methods_the_picked_task_trains_with():
    _, method = model_tab.on_task("preference", "smollm2", "", "prompt")
    offered = [name for _, name in method["choices"]]
    assert method["value"] == "lora" and "prompt" not in offered and "prefix" not in offered
    assert {"lora", "qlora", "dora", "full", "freeze", "ia3", "adalora"} == set(offered)
    _, method = model_tab.on_task("text-classification", "minilm", "", "lora")
    assert method["value"] == "lora" and "prompt" in [name for _, name in method["choices"]]


def test_the_classifier_reward_picks_its_judge_from_the_persons_finished_classifiers_and_its_label_from_it(ctx):
    judge = finished(ctx, "text-classification", [])
    finished(ctx, "sft", [])  # a chat run cannot judge
    meta = RunFolder(ctx.store.run_dir(judge)).model_meta
    meta.parent.mkdir(parents=True)
    files.atomic_write_json(meta, {"task": "text-classification", "labels": ["polite", "rude"]})
    runs = model_tab.on_judge_runs(ctx)
    assert [run_id for _, run_id in runs["choices"]] == [judge]
    labels = model_tab.on_judge_run(ctx, judge, "")
    assert labels["choices"] == ["polite", "rude"] and labels["value"] == "polite"
    assert model_tab.on_judge_run(ctx, judge, "rude")["value"] == "rude"
    assert model_tab.on_judge_run(ctx, "20990101-000000-nosuch", "rude")["choices"] == []
