"""Under FSDP or DeepSpeed (sharded over GPUs): one dtype for every weight of a layer, no base scoring before the
model is sharded, no rank-0-only generation. Checked on the config alone (sharding needs GPUs)."""

from __future__ import annotations

import dataclasses

from studio.config import RunConfig
from studio.methods import resolve_args
from studio.tasks.sft.training import run_callbacks as sft_run_callbacks
from studio.training import base_scores, precision
from tests.support import tiny_config


def sharded(cfg: RunConfig) -> RunConfig:
    return dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, device="cuda", num_processes=2,
                                                                 distributed="fsdp"))


def test_fsdp_lora_keeps_one_dtype_so_its_layers_flatten(monkeypatch):
    from studio.base import devices

    for module in (precision, devices):
        monkeypatch.setattr(module, "gpu_capability", lambda device: (9, 0))
    p = precision.plan("lora", resolve_args("lora", {}), "auto", "cuda:0", sharded=True)
    assert p.weights == p.masters == "float32" and p.compute == "bf16"  # FSDP's mixed precision computes in bf16


def test_no_base_scoring_and_no_sample_generations_under_sharding(tmp_path, tiny_bert, capsys, monkeypatch):
    from studio.tasks import get_task

    cfg = sharded(RunConfig.from_dict({**tiny_config(tiny_bert, tmp_path / "x.jsonl"), "task": "sft"}))
    monkeypatch.setattr(base_scores, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(base_scores, "cache_key", lambda *a: "same-base-same-split")
    task = get_task("sft")
    (tmp_path / "run").mkdir()
    # The trainer is never touched: a sharded run does not score the base itself...
    assert base_scores.load_or_score(tmp_path / "run", None, task, cfg, None, None, None, None, None) is None
    assert "base not scored" in capsys.readouterr().out
    # ...but takes the scores a one-process run of the same base and split left in the cache.
    (tmp_path / "cache" / "base-scores").mkdir(parents=True)
    (tmp_path / "cache" / "base-scores" / "same-base-same-split.json").write_text('{"metrics": {"loss": 2.5}}')
    assert base_scores.load_or_score(tmp_path / "run", None, task, cfg, None, None, None, None, None)["metrics"] \
        == {"loss": 2.5}
    splits = {"validation": object()}
    assert sft_run_callbacks(cfg, None, [], splits, tmp_path) == []
    assert "sample generations off" in capsys.readouterr().out
