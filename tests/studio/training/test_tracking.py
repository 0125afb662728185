"""Experiment tracking: TensorBoard event files in every run folder by default, W&B on request.

- A finished run's tensorboard/ folder holds event files that TensorBoard's own reader opens, with
  the same training losses as metrics.jsonl and the evaluation scores.
- training.tensorboard off: no event files anywhere in the run folder.
- training.wandb on without the wandb package, or without a W&B login: refused before a run exists, naming
  the fix; with it, the Trainer reports to wandb as well, and an offline run logs the studio's losses into
  the run folder.
"""

from __future__ import annotations

import signal
import time

import pytest

from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig, TrainingConfig
from studio.runs import worker
from studio.training import recipe, tracking
from tests.support import tiny_config, train_to_completion


def event_scalars(folder) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def test_a_finished_run_has_tensorboard_events_with_its_losses(finished_run):
    store, run_id, _ = finished_run
    rd = store.run_dir(run_id)
    assert list((RunFolder(rd).tensorboard).glob("events.out.tfevents.*"))
    scalars = event_scalars(RunFolder(rd).tensorboard)
    logged = {r["step"]: r["loss"] for r in runfolder.read_metrics(rd) if r["kind"] == "train"}
    assert sorted(scalars["train/loss"]) == sorted(logged) == list(range(1, 13))
    for step, loss in logged.items():
        assert scalars["train/loss"][step] == pytest.approx(loss, rel=1e-5)
    evals = {r["step"]: r["eval_f1"] for r in runfolder.read_metrics(rd) if r["kind"] == "eval"}
    assert scalars["eval/f1"] == pytest.approx(evals)
    assert not list((rd / "checkpoints").rglob("events.out.tfevents.*")), "events live in one place"


def test_tensorboard_off_writes_no_event_files(store, tiny_bert, separable_csv):
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", epochs=1, tensorboard=False))
    run_id = store.create(cfg, start=False)
    before = signal.getsignal(signal.SIGTERM)
    try:
        worker.main([str(store.run_dir(run_id)), "--registry", str(store.registry)])
    finally:
        signal.signal(signal.SIGTERM, before)
    rd = store.run_dir(run_id)
    assert runfolder.read_status(rd)["status"] == "completed"
    assert [r for r in runfolder.read_metrics(rd) if r["kind"] == "train"], "the studio's own log is unaffected"
    assert not (RunFolder(rd).tensorboard).exists()
    assert not list(rd.rglob("events.out.tfevents.*"))


def test_wandb_without_the_package_is_refused_with_the_fix(separable_csv, monkeypatch):
    from studio.config import machine

    monkeypatch.setattr(machine, "_installed", lambda module: False)
    with pytest.raises(ConfigError, match="training.wandb: .*install wandb or turn training.wandb off"):
        RunConfig.from_dict({"data": {"train": str(separable_csv)}, "training": {"wandb": True}}).check_machine()
    monkeypatch.setattr(machine, "_installed", lambda module: module == "wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # logged in or not: the login check has its own test
    cfg = RunConfig.from_dict({"data": {"train": str(separable_csv)},
                               "training": {"wandb": True, "wandb_project": "tickets"}})
    cfg.check_machine()
    assert cfg.training.wandb and cfg.training.wandb_project == "tickets"


@pytest.fixture
def no_wandb_login(tmp_path, monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_DIR", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc, no wandb settings
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "home" / ".config" / "wandb"))


def test_wandb_without_a_login_is_refused_before_a_run_exists(no_wandb_login, store, separable_csv, monkeypatch):
    pytest.importorskip("wandb")
    raw = {"data": {"train": str(separable_csv)}, "training": {"wandb": True}}
    with pytest.raises(ConfigError,
                       match=r"training.wandb: no Weights & Biases login .*wandb login.*WANDB_MODE=offline"):
        store.create(RunConfig.from_dict(raw))
    assert store.list() == [] and not [p for p in store.root.iterdir() if p.is_dir() and p.name != "uploads"]
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert RunConfig.from_dict(raw).training.wandb
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    assert RunConfig.from_dict(raw).training.wandb


def test_an_offline_wandb_run_logs_the_studios_losses_into_the_run_folder(no_wandb_login, store, tiny_bert,
                                                                          separable_csv, monkeypatch):
    import re

    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = RunConfig.from_dict(tiny_config(tiny_bert, separable_csv, "lora", epochs=1, wandb=True,
                                          wandb_project="tickets"))
    run_id = train_to_completion(store, cfg)
    rd = store.run_dir(run_id)
    logs = list(rd.glob("wandb/offline-run-*/run-*.wandb"))
    assert len(logs) == 1, sorted(p.name for p in rd.iterdir())
    raw = logs[0].read_bytes()
    # History items are protobuf: key, then value_json (field 16: bytes 0x82 0x01, a length, the JSON text).
    # The length byte says where the number ends (a greedy match ran into the next field when it began with E).
    logged = [float(raw[m.end():m.end() + m.group(1)[0]]) for m in re.finditer(rb"\ntrain/loss\x82\x01(.)", raw, re.S)]
    ours = [r["loss"] for r in runfolder.read_metrics(rd) if r["kind"] == "train" and "loss" in r]
    # (wandb may write a step's record more than once)
    assert logged and sorted(set(logged)) == pytest.approx(sorted(set(ours)), rel=1e-5)
    assert b"eval/accuracy" in raw and b"tickets" in raw and run_id.encode() in raw
    assert not (store.root / "wandb").exists(), "wandb writes into the run's folder, nowhere else"


@pytest.mark.parametrize("settings, available, expected", [
    ({}, True, ["tensorboard"]),  # the default
    ({"wandb": True}, True, ["tensorboard", "wandb"]),
    ({"tensorboard": False}, True, []),
    ({"tensorboard": False, "wandb": True}, True, ["wandb"]),
    ({}, False, []),  # not installed: the run goes on without event files
])
def test_the_trainer_reports_to_what_the_config_asks_for(settings, available, expected):
    assert recipe.tracking_integrations(TrainingConfig(**settings), tensorboard_available=available) == expected


def test_a_resumed_writer_waits_until_its_event_file_sorts_after_the_killed_attempts(tmp_path):
    """TensorBoard reads event files by name (creation second, host, pid): a resume in the same second with
    a lower pid would be read first and its purge would miss the killed attempt's later steps."""
    now = int(time.time())
    (tmp_path / f"events.out.tfevents.{now}.host.99999.0").write_bytes(b"")
    (tmp_path / "events.out.tfevents.notanumber.host.1.0").write_bytes(b"")
    tracking._wait_past_event_files(tmp_path)
    assert int(time.time()) > now

    started = time.time()
    tracking._wait_past_event_files(tmp_path / "empty")  # no earlier files: no wait
    assert time.time() - started < 0.1
