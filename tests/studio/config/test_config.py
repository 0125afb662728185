"""studio.config: RunConfig from JSON/YAML, validation that names the field, help text on every field."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from studio import methods
from studio.base.errors import ConfigError
from studio.config import DataConfig, RunConfig, TrainingConfig, field_help


def base(**over) -> dict:
    raw = {"data": {"train": "/data/train.csv"}}
    raw.update(over)
    return raw


def test_defaults_validate_and_take_method_defaults():
    cfg = RunConfig.from_dict(base())
    assert cfg.task == "text-classification"
    assert cfg.method == "lora"
    assert cfg.resolved().method_args == methods.METHODS["lora"].defaults()
    assert cfg.training.epochs == 3.0 and cfg.training.batch_size == 16
    assert (cfg.data.validation_fraction, cfg.data.test_fraction, cfg.data.split_seed) == (0.1, 0.1, 42)


def test_json_and_yaml_round_trip(tmp_path):
    cfg = RunConfig.from_dict(base(method="dora", method_args={"r": 4}, training={"epochs": 1, "learning_rate": 1e-3}))
    j = tmp_path / "run.json"
    j.write_text(cfg.to_json())
    y = tmp_path / "run.yaml"
    y.write_text(cfg.to_yaml())
    assert RunConfig.load(j) == cfg
    assert RunConfig.load(y) == cfg
    assert json.loads(cfg.to_json()) == yaml.safe_load(cfg.to_yaml()) == cfg.to_dict()


def test_relative_data_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,label\n")
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("data:\n  train: data/train.csv\n  test: data/test.csv\n")
    cfg = RunConfig.load(cfg_file)
    assert cfg.data.train == str((tmp_path / "data" / "train.csv").resolve())
    assert cfg.data.test == str((tmp_path / "data" / "test.csv").resolve())


def test_strings_from_yaml_or_set_are_coerced():
    cfg = RunConfig.from_dict(base(training={"epochs": "2", "batch_size": "8", "group_by_length": "no"}))
    assert cfg.training.epochs == 2.0 and cfg.training.batch_size == 8 and cfg.training.group_by_length is False


@pytest.mark.parametrize("raw, where", [
    (base(bogus=1), "bogus"),
    (base(training={"epoch": 1}), "training.epoch"),
    (base(data={"train": "x.csv", "txt_column": "t"}), "data.txt_column"),
    (base(training={"epochs": "many"}), "training.epochs"),
    (base(training={"batch_size": 2.5}), "training.batch_size"),
    (base(training={"batch_size": True}), "training.batch_size"),
    (base(training={"group_by_length": "maybe"}), "training.group_by_length"),
    (base(training=3), "training"),
    (base(model=["a"]), "model"),
    (base(training={"batch_size": -4}), "training.batch_size"),
    (base(training={"epochs": -1}), "training.epochs"),
    (base(training={"learning_rate": 0}), "training.learning_rate"),
    (base(training={"warmup_ratio": 0.9}), "training.warmup_ratio"),
    (base(data={"train": "x.csv", "test_fraction": 0.7}), "data.test_fraction"),
    (base(training={"scheduler": "exponential"}), "training.scheduler"),
    (base(training={"precision": "int4"}), "training.precision"),
    (base(method="galore"), "method"),
    (base(task="translation"), "task"),
    (base(method_args={"rank": 8}), "method_args.rank"),
    (base(method_args={"r": -1}), "method_args.r"),
    (base(method_args={"r": 2.5}), "method_args.r"),
    (base(method="adalora", method_args={"init_r": 4, "target_r": 8}), "method_args.target_r"),
    (base(method="full", method_args={"r": 8}), "method_args.r"),
    (base(training={"eval_strategy": "steps"}), "training.eval_steps"),
    (base(data={"train": "x.csv", "validation_fraction": 0.5, "test_fraction": 0.45}), "data.validation_fraction"),
    ({"data": {}}, "data.train"),
])
def test_bad_configs_name_the_field_in_one_line(raw, where):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict(raw)
    msg = str(e.value)
    assert msg.startswith(where), msg
    assert "\n" not in msg and len(msg) < 400


def test_label_names_take_a_list_or_a_comma_separated_string_and_only_where_they_apply():
    base = {"data": {"train": "t.csv", "label_names": ["negative", " positive"]}}
    assert RunConfig.from_dict(base).data.names_of_ids() == ["negative", "positive"]
    assert RunConfig.from_dict({"data": {"train": "t.csv", "label_names": "O,B-PER , I-PER"}}).data.names_of_ids() == [
        "O", "B-PER", "I-PER"]
    for bad in ("a, a", "a,,b"):
        with pytest.raises(ConfigError, match="data.label_names: give each id's name once"):
            RunConfig.from_dict({"data": {"train": "t.csv", "label_names": bad}})
    with pytest.raises(ConfigError, match="data.label_names: .*seq2seq data has neither"):
        RunConfig.from_dict({"task": "seq2seq", **base})


def test_unknown_field_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known ones are .*epochs"):
        RunConfig.from_dict(base(training={"epoch": 1}))


def test_unknown_method_lists_every_method():
    with pytest.raises(ConfigError) as e:
        RunConfig.from_dict(base(method="galore"))
    for name in methods.METHODS:
        assert name in str(e.value)


def test_unreadable_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json is not valid JSON"):
        RunConfig.load(bad)


@pytest.mark.parametrize("cls", [RunConfig, DataConfig, TrainingConfig])
def test_every_field_has_help(cls):
    infos = field_help(cls)
    assert [i["name"] for i in infos] == [f.name for f in dataclasses.fields(cls)]
    for info in infos:
        assert len(info["help"]) > 10, info["name"]


def test_display_name():
    assert RunConfig.from_dict(base(model="/models/tiny-bert", method="ia3")).display_name() == "tiny-bert · ia3"
    assert RunConfig.from_dict(base(name="my run")).display_name() == "my run"


# ------------------------------------------------------------------------------------ each task's own settings --
def test_task_args_are_the_tasks_own_settings_with_their_defaults():
    from studio.tasks import get_task

    for name in ("text-classification", "sft", "seq2seq", "preference", "token-classification"):
        cfg = RunConfig.from_dict({"task": name, "data": {"train": "x"}})
        assert type(cfg.task_args) is get_task(name).settings
        assert RunConfig.from_dict(json.loads(cfg.to_json())).task_args == cfg.task_args


def test_a_saved_config_with_the_old_training_fields_reads_them_as_task_args():
    raw = {"task": "preference", "data": {"train": "x.jsonl"},
           "training": {"beta": 0.3, "preference_loss": "kto", "head_init": "random", "epochs": 2}}
    cfg = RunConfig.from_dict(raw)
    assert (cfg.task_args.beta, cfg.task_args.preference_loss, cfg.training.epochs) == (0.3, "kto", 2)
    assert raw["training"]["beta"] == 0.3  # the caller's mapping is left as it was
    assert (RunConfig.from_dict({"data": {"train": "x"}, "training": {"max_new_tokens": 9}}).task_args.head_init
            == "prototype")


@pytest.mark.parametrize("raw, where", [
    ({"task": "preference", "task_args": {"beta": 50}}, "task_args.beta: 50.0 is above the maximum 10.0"),
    ({"task": "preference", "task_args": {"preference_loss": "ppo"}}, "task_args.preference_loss: 'ppo' is not one of"),
    ({"task": "sft", "task_args": {"beta": 0.1}},
     "task_args.beta: unknown setting; known ones are batching, max_new_tokens"),
    ({"task": "token-classification", "task_args": {"x": 1}}, "task_args.x: unknown setting; it takes none"),
])
def test_task_args_are_checked_against_the_tasks_settings(raw, where):
    with pytest.raises(ConfigError, match=where):
        RunConfig.from_dict({"data": {"train": "x"}, **raw})


def test_another_task_keeps_the_settings_they_share_by_name():
    import dataclasses

    sft = RunConfig.from_dict({"task": "sft", "data": {"train": "x"}, "task_args": {"max_new_tokens": 7}})
    seq2seq = dataclasses.replace(sft, task="seq2seq")
    assert seq2seq.task_args.max_new_tokens == 7 and seq2seq.task_args.max_target_length == 128
