"""The memory estimate: its parts follow the settings; a run that cannot fit is refused with changes that fit;
gradient checkpointing trains; runs on one CPU share its cores."""

from __future__ import annotations

import dataclasses
import os

import pytest

from studio import cli
from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.config import RunConfig
from studio.training import cpu_share, memory
from tests.support import tiny_config, train_to_completion


def _cfg(model, csv, method="lora", task="text-classification", **training) -> RunConfig:
    raw = tiny_config(model, csv, method, **training)
    raw["task"] = task
    return RunConfig.from_dict(raw)


def test_the_parts_follow_the_method_and_the_settings(tiny_bert, separable_csv):
    lora = memory.estimate(_cfg(tiny_bert, separable_csv, "lora"))
    full = memory.estimate(_cfg(tiny_bert, separable_csv, "full"))
    s = memory.shape(_cfg(tiny_bert, separable_csv, "full"))
    assert full.parts["weights"] == 4 * s.total and full.parts["gradients"] == 4 * s.total
    assert full.parts["optimizer"] == 2 * full.parts["gradients"]
    assert lora.parts["gradients"] < full.parts["gradients"] / 5 and lora.parts["weights"] >= full.parts["weights"]
    double = memory.estimate(_cfg(tiny_bert, separable_csv, "full", batch_size=16))
    assert double.parts["activations"] == 2 * full.parts["activations"]
    longer = memory.estimate(_cfg(tiny_bert, separable_csv, "full", max_length=32))
    assert longer.parts["activations"] == 2 * full.parts["activations"]
    # Attention scores grow with the square of the length (on a CPU; SDPA's fused GPU kernels keep none).
    assert (longer.parts["attention"] == 4 * full.parts["attention"] > 0
            and double.parts["attention"] == 2 * full.parts["attention"])
    on_gpu = dataclasses.replace(memory.where(_cfg(tiny_bert, separable_csv, "full")), on_gpu=True)
    assert memory.parts(s, _cfg(tiny_bert, separable_csv, "full").training, on_gpu)["attention"] == 0
    saved = memory.estimate(_cfg(tiny_bert, separable_csv, "full", gradient_checkpointing=True))
    assert saved.parts["activations"] < 0.6 * full.parts["activations"]  # 2 layers: their inputs and one full layer
    assert saved.parts["attention"] == full.parts["attention"] // s.trained_layers  # one layer's scores at a time
    assert full.parts["logits"] == 0 and full.verdict == "fits"


def test_counting_on_the_meta_device_leaves_other_threads_models_whole(tiny_bert, separable_csv, monkeypatch):
    """The web process counts parameters on every model change while other requests load models (the playground):
    a model built in another thread during a count must get real weights, not empty meta tensors."""
    import threading

    import torch

    from studio import methods

    attach, elsewhere = methods.attach, []

    def attach_while_another_thread_builds(*args, **kw):
        worker = threading.Thread(target=lambda: elsewhere.append(torch.nn.Linear(2, 2).weight.device.type))
        worker.start()
        worker.join()
        return attach(*args, **kw)

    monkeypatch.setattr(methods, "attach", attach_while_another_thread_builds)
    memory._shape.cache_clear()
    s = memory.shape(_cfg(tiny_bert, separable_csv, "lora"))
    assert s.source == "meta" and s.trainable < s.total
    assert elsewhere == ["cpu"]  # accelerate's init_empty_weights put it on "meta": it patches every thread


def test_a_language_model_head_counts_its_logits(tmp_path):
    from tests.tiny_models import make_tiny_llama

    llama = make_tiny_llama(tmp_path / "llama")
    est = memory.estimate(_cfg(llama, tmp_path / "x.jsonl", "lora", task="sft", batch_size=4, max_length=64))
    vocab = memory.shape(_cfg(llama, tmp_path / "x.jsonl", "lora", task="sft")).vocab
    assert est.parts["logits"] == 3 * 4 * 64 * vocab * 4


def test_reinforcement_learning_counts_the_replies_it_writes_and_a_full_runs_reference_copy(tmp_path):
    from tests.tiny_models import make_tiny_llama

    llama = make_tiny_llama(tmp_path / "llama")

    def rl(method="lora", **task_args):
        raw = tiny_config(llama, tmp_path / "x.jsonl", method, batch_size=4, max_length=64)
        raw.update(task="rl", task_args={"num_generations": 4, "max_new_tokens": 32, **task_args})
        return RunConfig.from_dict(raw)

    s = memory.shape(rl())
    assert (s.generated, s.new_tokens, s.reference) == (4, 32, False)  # a batch of 4 holds one group of 4
    est = memory.estimate(rl())
    width = 4  # fp32 on a CPU
    assert est.parts["generation"] == (2 * s.layers * 4 * (64 + 32) * s.hidden * width + 2 * 4 * s.vocab * 4)
    assert est.parts["logits"] == 3 * 4 * (64 + 32) * s.vocab * 4  # the prompt and the reply train together
    longer = memory.estimate(rl(max_new_tokens=256))
    assert longer.parts["generation"] > est.parts["generation"] and longer.total > est.total
    assert "reference" not in est.parts and "reference" not in memory.estimate(rl(kl_beta=0.04)).parts  # adapters off
    full = memory.estimate(rl("full", kl_beta=0.04)).parts
    assert full["reference"] == memory.shape(rl("full")).total * 4  # a frozen fp32 copy of the whole model
    sft = memory.estimate(_cfg(llama, tmp_path / "x.jsonl", "lora", task="sft", batch_size=4, max_length=64))
    assert "generation" not in sft.parts


MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_too_big_is_refused_with_changes_that_fit_and_nothing_is_created(store, separable_csv, monkeypatch):
    cfg = _cfg(MINILM, separable_csv, "full", batch_size=64, max_length=512)  # the bundled MiniLM: GiBs of activations
    need = memory.estimate(cfg)
    # A device with room for the model but not for this batch: half of what the activations need on top.
    room = need.total - (need.parts["activations"] + need.parts["attention"]) // 2
    monkeypatch.setattr(memory, "available", lambda device, busy=False: (room, "of available RAM"))
    with pytest.raises(ConfigError) as e:
        store.create(cfg)
    text = str(e.value)
    assert "It will not fit" in text and "training.batch_size" in text and "gradient_accumulation_steps" in text
    assert "training.gradient_checkpointing on" in text and "\n" not in text
    assert "training.ignore_memory_estimate" in text and "within ±32%" in text
    assert store.list() == [] and not [p for p in store.root.iterdir() if p.name.startswith("2")]
    smaller = text.split("training.batch_size ")[1].split(" ")[0]
    assert memory.estimate(dataclasses.replace(cfg, training=dataclasses.replace(
        cfg.training, batch_size=int(smaller)))).total <= memory.WARN_ABOVE * room


def test_near_the_limit_is_warned_about_not_refused(tiny_bert, separable_csv, monkeypatch):
    cfg = _cfg(tiny_bert, separable_csv, "full")
    need = memory.estimate(cfg).total
    monkeypatch.setattr(memory, "available", lambda device, busy=False: (int(need / 0.95), "of available RAM"))
    est = memory.check(cfg)
    assert est.verdict == "near" and "Close to the limit" in est.summary()


def test_a_run_records_its_estimate_and_its_measured_peak_with_gradient_checkpointing(store, tiny_bert, separable_csv,
                                                                                     capsys):
    cfg = _cfg(tiny_bert, separable_csv, "lora", gradient_checkpointing=True)
    run_id = train_to_completion(store, cfg)
    st = runfolder.read_status(store.run_dir(run_id))
    assert st["memory"]["verdict"] == "fits" and st["memory"]["total"] > 0
    assert (st["peak_memory"]["what"] == "peak RSS of the training process"
            and st["peak_memory"]["bytes"] > 100 * 2 ** 20)
    assert cli.main(["--runs-dir", str(store.root), "show", run_id]) == 0
    assert "memory   estimated" in capsys.readouterr().out


def test_runs_on_one_cpu_share_its_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_share, "share_dir", lambda: tmp_path)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    (tmp_path / str(os.getpid())).touch()
    (tmp_path / "999999999").touch()                     # a trainer that died without cleaning up
    assert cpu_share.trainers() == 1 and not (tmp_path / "999999999").exists()
    (tmp_path / str(os.getppid())).touch()               # a second live trainer
    assert cpu_share.trainers() == 2
    assert cpu_share.fair_threads(8, 2) == 4 and cpu_share.fair_threads(2, 3) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cpu_share.fair_threads(8, 1) == 2             # a thread count the user set is the most a run takes
    assert cpu_share.enabled("cpu") and not cpu_share.enabled("cuda:0")
    monkeypatch.setenv("STUDIO_CPU_SHARE", "0")
    assert not cpu_share.enabled("cpu")


def test_a_run_gives_its_cores_back_when_its_training_ends(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(cpu_share, "share_dir", lambda: tmp_path / "share")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    rd = tmp_path / "run"
    rd.mkdir()
    runfolder.write_status(rd, "running")
    cb = cpu_share.callback(rd)
    cpu_share.join()
    (tmp_path / "share" / str(os.getppid())).touch()   # another run trains on this CPU
    try:
        cb.on_train_begin(None, None, None)
        assert torch.get_num_threads() == max(1, before // 2)
        st = runfolder.read_status(rd)
        assert st["cpu_shared_with"] == 2 and st["cpu_threads"] == max(1, before // 2)
        cb.on_train_end(None, None, None)
        assert torch.get_num_threads() == before and not (tmp_path / "share" / str(os.getpid())).exists()
    finally:
        torch.set_num_threads(before)


def test_slow_steps_rebalance_on_time(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu_share, "share_dir", lambda: tmp_path / "share")
    rd = tmp_path / "run"
    rd.mkdir()
    runfolder.write_status(rd, "running")
    cb = cpu_share.callback(rd)
    calls = []
    cb._balance = lambda: calls.append(1) or setattr(cb, "last", cpu_share.time.monotonic())
    state = type("S", (), {"global_step": 7})()
    cb.last = cpu_share.time.monotonic()
    cb.on_step_begin(None, state, None)
    assert calls == []                                  # step 7, just balanced: nothing to do
    cb.last -= cpu_share.EVERY_SECONDS + 1
    cb.on_step_begin(None, state, None)
    assert calls == [1]                                 # 30 seconds on: re-balanced mid-way between step 0 and 20


def test_a_gpu_run_counts_its_real_dtypes_and_shards(tiny_bert, separable_csv, monkeypatch):
    """What a GPU user's run holds: a bf16 base under fp32 adapters, fp32 masters and their bf16 casts for full
    fine-tuning, half a byte a weight for a 4-bit base, 8-bit optimizer states, a share of all of it per GPU."""
    from studio.base import devices
    from studio.training import precision

    for module in (precision, devices):
        monkeypatch.setattr(module, "gpu_capability", lambda device: (9, 0) if device != "cpu" else None)
    cfg = _cfg(tiny_bert, separable_csv, "lora", device="cuda:0")
    s = memory.shape(cfg)
    frozen = s.total - s.trainable
    lora = memory.parts(s, cfg.training, memory.where(cfg, "cuda:0"))
    assert lora["weights"] == 2 * frozen + 4 * s.trainable and lora["casts"] == 2 * s.trainable
    full_cfg = _cfg(tiny_bert, separable_csv, "full", device="cuda:0")
    full = memory.parts(memory.shape(full_cfg), full_cfg.training, memory.where(full_cfg, "cuda:0"))
    total = memory.shape(full_cfg).total
    assert full["weights"] == 4 * total and full["casts"] == 2 * total and full["optimizer"] == 8 * total
    q_cfg = _cfg(tiny_bert, separable_csv, "qlora", device="cuda:0")
    qs = memory.shape(q_cfg)
    quantized = memory.parts(qs, q_cfg.training, memory.where(q_cfg, "cuda:0"))
    embeddings = qs.vocab * qs.hidden
    # The embeddings stay unquantized, and prepare_model_for_kbit_training casts them to fp32.
    assert quantized["weights"] == int((qs.total - qs.trainable - embeddings) * 0.54 + embeddings * 4
                                       + 4 * qs.trainable)
    eight = dataclasses.replace(full_cfg.training, optimizer="adamw_8bit")
    assert memory.parts(memory.shape(full_cfg), eight, memory.where(full_cfg, "cuda:0"))["optimizer"] == 2 * total
    fsdp = dataclasses.replace(full_cfg, training=dataclasses.replace(full_cfg.training, num_processes=4,
                                                                      distributed="fsdp", device="cuda"))
    shard = memory.parts(memory.shape(fsdp), fsdp.training, memory.where(fsdp, "cuda:0"))
    assert shard["weights"] == full["weights"] // 4 and shard["optimizer"] == full["optimizer"] // 4
    assert shard["activations"] == full["activations"]  # each GPU runs its own micro-batch


def test_too_big_starts_when_the_config_says_so_and_the_status_says_it_was_ignored(store, separable_csv, monkeypatch):
    cfg = _cfg(MINILM, separable_csv, "full", batch_size=64, max_length=512, ignore_memory_estimate=True)
    monkeypatch.setattr(memory, "available", lambda device, busy=False: (2 ** 20, "of available RAM"))
    run_id = store.create(cfg, start=False)
    fit = runfolder.read_status(store.run_dir(run_id))["memory"]
    assert fit["verdict"] == "too big" and fit["ignored"]
    assert "started anyway (training.ignore_memory_estimate)" in memory.Estimate.from_dict(fit).summary()


def test_a_clearly_impossible_smollm2_run_is_refused_on_a_fresh_machine(store, separable_csv, tmp_path, monkeypatch):
    """SmolLM2 is converted from its GGUF file by the worker, after the run exists: the estimate reads its config
    from the package before that, so batch 4096 x 32768 tokens never starts (it once logged "memory estimate
    skipped" and started)."""
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "fresh-cache"))
    cfg = _cfg("smollm2", separable_csv, "lora", batch_size=4096, max_length=32768)
    with pytest.raises(ConfigError, match="It will not fit"):
        store.create(cfg)
    assert store.list() == [] and not (tmp_path / "fresh-cache" / "models" / "smollm2-135m-instruct").exists()


def test_a_model_whose_config_cannot_be_read_is_said_to_be_unestimated_never_passed_silently(store, separable_csv,
                                                                                             tmp_path, monkeypatch):
    cfg = _cfg(MINILM, separable_csv, "lora")

    def unreadable(model):
        raise OSError("config.json: not a model this transformers knows")

    monkeypatch.setattr(memory, "model_config", unreadable)
    memory._shape.cache_clear()
    est = memory.estimate(cfg)
    assert est.verdict == "unknown" and "could not be read" in est.summary() and "not a model" in est.summary()
    run_id = store.create(cfg, start=False)
    assert runfolder.read_status(store.run_dir(run_id))["memory"]["verdict"] == "unknown"
    memory._shape.cache_clear()


def test_a_gpu_whose_memory_cannot_be_read_is_said_to_be_unestimated(tiny_bert, separable_csv, monkeypatch):
    import torch

    def no_cuda(index=None):
        raise AssertionError("Torch not compiled with CUDA enabled")

    monkeypatch.setattr(torch.cuda, "mem_get_info", no_cuda)
    monkeypatch.setattr(torch.cuda, "get_device_properties", no_cuda)
    est = memory.estimate(_cfg(tiny_bert, separable_csv, "lora"), device="cuda:0")
    assert est.verdict == "unknown" and est.total > 0
    assert "the memory of cuda:0 could not be read" in est.summary() and "not compiled with CUDA" in est.summary()


def test_lora_dropout_copies_and_a_quantized_bases_fp32_embeddings_are_counted(tiny_bert, separable_csv):
    """Two parts the estimate missed (the SmolLM2 LoRA estimate came in 30% low): LoRA's dropout keeps a copy of
    each adapted module's input for backward, and prepare_model_for_kbit_training casts a quantized base's
    embeddings (and an untied head) to fp32."""
    def lora(dropout):
        cfg = RunConfig.from_dict({**tiny_config(tiny_bert, separable_csv, "lora"),
                                   "method_args": {"dropout": dropout}})
        return cfg, memory.shape(cfg)

    cfg, s = lora(0.1)
    assert s.adapter_inputs > 0 and s.adapter_inputs % s.hidden == 0  # every adapted module reads `hidden` or more
    t = cfg.training
    with_dropout = memory.estimate(cfg).parts["activations"]
    without = memory.estimate(lora(0.0)[0]).parts["activations"]
    assert with_dropout - without == t.batch_size * t.max_length * s.adapter_inputs * (4 + 1)  # fp32 on a CPU

    quantized = dataclasses.replace(memory.where(cfg), formats=dataclasses.replace(
        memory.where(cfg).formats, weights="nf4", compute="bf16"))
    embeddings = s.vocab * s.hidden * (1 if s.tied else 2)
    frozen = s.total - s.trainable
    weights = memory.parts(s, t, quantized)["weights"]
    assert weights == int((frozen - embeddings) * quantized.formats.base_bytes() + embeddings * 4) + 4 * s.trainable
