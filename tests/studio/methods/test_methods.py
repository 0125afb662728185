"""studio.methods: every method trains a tiny BERT, lowers the loss, keeps the head trainable,
reports its parameter counts, and reloads into the same predictions.

The training matrix runs the real recipe (studio.training.recipe.run) in-process on a run folder made by
Store.create(start=False): full batches (40 rows, batch 40) so the logged loss has no sampling noise.
"""

from __future__ import annotations

import json

import pytest
import torch

from studio import methods
from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.serve import inference
from studio.tasks import get_task
from studio.tasks import text_classification as tc
from studio.tasks.text_classification.model import load_model, load_tokenizer
from studio.training import recipe
from tests.support import read_jsonl, tiny_config, trainable_here

ALL = list(methods.METHODS)


def test_registry_lists_the_nine_methods():
    assert ALL == ["full", "freeze", "lora", "qlora", "dora", "adalora", "ia3", "prefix", "prompt"]
    described = {m["name"]: m for m in methods.describe()}
    assert set(described) == set(ALL)
    for m in described.values():
        assert m["title"] and m["summary"] and m["learning_rate"] > 0
        for s in m["settings"]:
            assert s["help"] and s["type"] in ("int", "float", "str")
    assert {s["name"] for s in described["lora"]["settings"]} == {"r", "alpha", "dropout", "target_modules"}


def test_resolve_args_merges_defaults_and_checks():
    assert methods.resolve_args("lora", {"r": "4"})["r"] == 4
    assert methods.resolve_args("lora", {})["alpha"] == 32
    assert methods.resolve_args("full", None) == {}
    with pytest.raises(ConfigError, match="method_args.rank: not a setting of lora; known ones are r, alpha"):
        methods.resolve_args("lora", {"rank": 4})
    with pytest.raises(ConfigError, match="it takes none"):
        methods.resolve_args("full", {"r": 4})
    with pytest.raises(ConfigError, match="method_args.num_virtual_tokens: 0 is below the minimum"):
        methods.resolve_args("prompt", {"num_virtual_tokens": 0})


# ------------------------------------------------------- apply (no training) --
APPLY = [
    ("full", {}), ("freeze", {}), ("freeze", {"trainable_layers": 0}), ("freeze", {"trainable_layers": 1}),
    ("lora", {}), ("lora", {"target_modules": "query,value", "r": 4}), ("dora", {}), ("adalora", {}),
    ("ia3", {}), ("ia3", {"target_modules": "key,value,output.dense", "feedforward_modules": "output.dense"}),
    ("prefix", {"num_virtual_tokens": 4}), ("prompt", {"num_virtual_tokens": 4}),
]


@pytest.fixture(scope="module")
def tokenizer(tiny_bert):
    return load_tokenizer(tiny_bert)


@pytest.mark.parametrize("method, args", APPLY, ids=[f"{m}-{'-'.join(a) or 'default'}" for m, a in APPLY])
def test_apply_keeps_the_head_trainable_and_counts_parameters(tiny_bert, tokenizer, method, args):
    base = load_model(tiny_bert, ["a", "b", "c"], tokenizer)
    base_total = sum(p.numel() for p in base.parameters())
    model = methods.apply(base, method, args, tc.TASK.model.peft_task_type, total_steps=50)
    named = dict(model.named_parameters())
    head = {n: p for n, p in named.items() if "classifier" in n and p.requires_grad}
    assert {n.rsplit(".", 1)[-1] for n in head} == {"weight", "bias"}, f"{method}: head not trainable"
    assert all(p.shape[0] == 3 for n, p in head.items()), "head sized to the labels"

    trainable, total = methods.count_parameters(model)
    assert trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert total >= base_total
    if method == "full":
        assert trainable == total
    else:
        assert 0 < trainable < total
    body = [n for n, p in named.items() if p.requires_grad and "classifier" not in n and "pooler" not in n]
    if method == "freeze":
        embeddings = [n for n in named if "embeddings" in n]
        assert not any(named[n].requires_grad for n in embeddings)
        layers = {n.split("layer.")[1].split(".")[0] for n in body}
        assert layers == {"0": set(), "1": {"1"}, "2": {"0", "1"}}[str(args.get("trainable_layers", 2))]
    else:
        assert body, f"{method} trains nothing but the head"

    # One backward pass reaches the head and the method's own weights.
    enc = tokenizer(["refund my card", "the app crashes"], return_tensors="pt", padding=True)
    out = model(**enc, labels=torch.tensor([0, 2]))
    out.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.values())
    if body:
        assert any(named[n].grad is not None and named[n].grad.abs().sum() > 0 for n in body)


# ------------------------------------------------------------ the matrix --
@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory):
    from studio.runs.store import Store

    return Store(tmp_path_factory.mktemp("method-runs"))


@pytest.mark.parametrize("method", trainable_here(ALL))
def test_method_trains_lowers_loss_and_reloads(method, tiny_bert, separable_csv, matrix_store):
    raw = tiny_config(tiny_bert, separable_csv, method, epochs=10, batch_size=40, eval_strategy="steps",
                      eval_steps=10, save_total_limit=1)
    cfg = RunConfig.from_dict(raw)
    expected_counts = recipe.parameter_counts(cfg)  # what the UI shows before launch
    run_id = matrix_store.create(cfg, start=False)
    rd = matrix_store.run_dir(run_id)

    result = recipe.run(rd)
    assert result["status"] == "completed", result

    metrics = runfolder.read_metrics(rd)
    losses = [r["loss"] for r in metrics if r["kind"] == "train"]
    assert len(losses) == 10
    # Full batches, no dropout: a method that trains nothing leaves the loss exactly flat.
    assert losses[-1] < losses[0] - 0.01, f"{method} did not lower the loss: {losses}"

    start = next(r for r in metrics if r["kind"] == "start")
    status = runfolder.read_status(rd)
    counts = {"trainable": start["trainable_parameters"], "total": start["total_parameters"]}
    assert counts == expected_counts
    assert (status["trainable_parameters"], status["total_parameters"]) == (counts["trainable"], counts["total"])
    assert (counts["trainable"] == counts["total"]) == (method == "full")
    assert start["learning_rate_peak"] == methods.METHODS[method].learning_rate

    # The saved model (adapter + head, or full weights) predicts exactly what the test report says.
    meta = json.loads((rd / "model" / "studio_model.json").read_text())
    assert meta["method"] == method and meta["peft"] == methods.METHODS[method].peft
    assert meta["labels"] == ["billing", "technical"]
    rows = read_jsonl(RunFolder(rd).predictions)
    report = json.loads((RunFolder(rd).report).read_text())
    assert len(rows) == report["n"] == 4
    inference.forget(rd)
    preds = inference.predict(rd, [r["text"] for r in rows])
    inference.forget(rd)
    assert [p["label"] for p in preds] == [r["predicted"] for r in rows]
    assert [p["score"] for p in preds] == pytest.approx([r["confidence"] for r in rows], abs=1e-4)
    assert report["metrics"]["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / len(rows))


def test_a_task_can_set_its_own_default_learning_rate_for_a_method():
    from studio import methods

    assert get_task("text-classification").model.learning_rate("lora") == methods.METHODS["lora"].learning_rate
    # A fresh token head needs more than the adapters' usual rate (its ModelFacts.learning_rates).
    assert get_task("token-classification").model.learning_rate("lora") == 2e-3
    assert get_task("token-classification").model.learning_rate("full") == methods.METHODS["full"].learning_rate


def test_prefix_tuning_on_a_model_without_past_key_values_is_refused_in_one_sentence(tiny_bert, tokenizer, monkeypatch):
    """transformers 5.24 renamed BERT's past_key_values: peft's prefix tuning would fail at the first step."""
    from transformers import BertModel

    from studio.base.errors import ConfigError

    methods.apply(load_model(tiny_bert, ["a", "b"], tokenizer), "prefix", {}, tc.TASK.model.peft_task_type)  # fine
    forward = BertModel.forward
    monkeypatch.setattr(BertModel, "forward", lambda self, input_ids=None, attention_mask=None, cache=None, **kw:
                        forward(self, input_ids=input_ids, attention_mask=attention_mask, **kw))
    with pytest.raises(ConfigError, match=r"Prefix tuning cannot run on BertModel .*Use prompt tuning or LoRA"):
        methods.apply(load_model(tiny_bert, ["a", "b"], tokenizer), "prefix", {}, tc.TASK.model.peft_task_type)
    methods.apply(load_model(tiny_bert, ["a", "b"], tokenizer), "prompt", {}, tc.TASK.model.peft_task_type)


def test_each_method_owns_its_facts():
    m = methods.METHODS
    assert [name for name in ALL if not m[name].peft] == ["full", "freeze"]
    assert [name for name in ALL if not m[name].mergeable] == ["prefix", "prompt"]
    assert m["prompt"].virtual_tokens(methods.resolve_args("prompt", {"num_virtual_tokens": 7})) == 7
    assert m["lora"].virtual_tokens(methods.resolve_args("lora", {})) == 0
    assert [name for name in ALL if m[name].rank_allocation] == ["adalora"]


@pytest.mark.parametrize("task_name", ["text-classification", "token-classification"])
def test_lora_on_every_linear_layer_leaves_the_task_head_whole_and_trainable(tiny_bert, tokenizer, task_name):
    task = get_task(task_name)
    model = methods.apply(task.load_model(tiny_bert, ["O", "B-X", "I-X"], tokenizer), "lora", {},
                          task.model.peft_task_type)
    head = [n for n, _ in model.named_parameters() if ".classifier." in n]
    assert head and not [n for n in head if "lora_" in n]
    assert all(p.requires_grad for n, p in model.named_parameters() if "modules_to_save" in n and ".classifier." in n)


def test_only_a_moving_rank_gets_its_allocation_callback(tiny_bert, tokenizer):
    from studio.config import TrainingConfig
    from studio.training.parts import recipe_callbacks

    for name, expected in (("adalora", ["RankAllocation"]), ("lora", [])):
        model = methods.apply(load_model(tiny_bert, ["a", "b"], tokenizer), name, {}, tc.TASK.model.peft_task_type,
                              total_steps=20)
        assert methods.moves_rank(model) is bool(expected)
        assert [type(cb).__name__ for cb in recipe_callbacks(model, TrainingConfig())] == expected
