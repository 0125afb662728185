"""A finished run as a standalone Python script: plain transformers + peft, no studio.

The export is a folder with `reproduce.py`, the run's exact data splits as CSV
and its config.json. The script reads the config it was generated from (embedded
verbatim), so what it trains is the run's setup, field by field: the same
model, method and settings, learning rate, schedule, seed, length-grouped
batches, best-checkpoint selection, and the prototype head initialisation the
studio uses. It is meant to be read as much as run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from studio import methods, runlog

SUPPORTED_TASKS = ("text-classification",)

TEMPLATE = r'''#!/usr/bin/env python
"""Reproduce studio run __RUN__ (__NAME__) with plain transformers and peft.

    pip install torch transformers peft datasets scikit-learn pandas pyarrow
    python reproduce.py                       # data/ next to this file, the run's base model
    python reproduce.py --model /path/to/model --out results/

It trains __METHOD__ on __MODEL__ with the run's settings, keeps the best checkpoint by validation
__BEST__, and writes the test metrics to OUT/test_metrics.json. The run itself reached:
__RESULT__
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding,
                          EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed)

CONFIG = json.loads(r"""__CONFIG__""")
LEARNING_RATE = __LR__        # the method's default when the config left it empty
BEST_METRIC = "__BEST__"


def load_split(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_json(folder / f"{name}.jsonl", lines=True, dtype=str)


def apply_method(model, method: str, args: dict, total_steps: int):
    """The adaptation method, as the studio applies it (the classification head always trains)."""
    heads = [n for n in ("classifier", "score") if isinstance(getattr(model, n, None), torch.nn.Module)]
    if method == "full":
        return model
    if method == "freeze":
        for p in model.parameters():
            p.requires_grad = False
        stacks = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
        layers = max(stacks, key=lambda m: sum(p.numel() for p in m.parameters())) if stacks else []
        for layer in list(layers)[-args["trainable_layers"]:] if args["trainable_layers"] > 0 else []:
            for p in layer.parameters():
                p.requires_grad = True
        for name, mod in model.named_modules():
            if name in heads or name.rsplit(".", 1)[-1] in ("pooler", "norm", "final_layer_norm", "ln_f"):
                for p in mod.parameters():
                    p.requires_grad = True
        return model
    import peft

    def modules(spec):
        spec = (spec or "").strip()
        return None if not spec else ("all-linear" if spec == "all-linear" else [s.strip() for s in spec.split(",")])

    if method in ("lora", "dora"):
        cfg = peft.LoraConfig(task_type="SEQ_CLS", r=args["r"], lora_alpha=args["alpha"], lora_dropout=args["dropout"],
                              target_modules=modules(args["target_modules"]), use_dora=method == "dora")
    elif method == "adalora":
        steps = max(total_steps, 10)
        cfg = peft.AdaLoraConfig(task_type="SEQ_CLS", init_r=args["init_r"], target_r=args["target_r"],
                                 lora_alpha=args["alpha"], lora_dropout=args["dropout"],
                                 target_modules=modules(args["target_modules"]), total_step=steps,
                                 tinit=max(1, steps // 10), tfinal=max(1, steps // 5), deltaT=max(1, steps // 20))
    elif method == "ia3":
        cfg = peft.IA3Config(task_type="SEQ_CLS", target_modules=modules(args["target_modules"]),
                             feedforward_modules=modules(args["feedforward_modules"]))
    elif method == "prefix":
        cfg = peft.PrefixTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=args["num_virtual_tokens"])
    elif method == "prompt":
        cfg = peft.PromptTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=args["num_virtual_tokens"])
    else:
        raise SystemExit(f"unknown method {method}")
    return peft.get_peft_model(model, cfg)


@torch.no_grad()
def prototype_head(model, tok, texts, label_ids, num_labels, max_length, seed, per_class=16, max_rows=1024):
    """Start the linear head from class prototypes (centred, normalised class means of its inputs)."""
    head = next((getattr(model, n) for n in ("classifier", "score") if isinstance(getattr(model, n, None), torch.nn.Linear)), None)
    if head is None or head.out_features != num_labels:
        return False
    rng = np.random.default_rng(seed)
    y = np.asarray(label_ids)
    per_class = max(1, min(per_class, max_rows // max(num_labels, 1)))
    chosen = []
    for c in range(num_labels):
        idx = np.flatnonzero(y == c)
        if len(idx) == 0:
            return False
        chosen.extend(rng.choice(idx, size=min(per_class, len(idx)), replace=False).tolist())
    chosen.sort(key=lambda i: len(texts[i]))
    feats = []
    hook = head.register_forward_pre_hook(lambda mod, args: feats.append(args[0].detach().float()))
    model.eval()
    try:
        for i in range(0, len(chosen), 64):
            enc = tok([texts[j] for j in chosen[i:i + 64]], truncation=True, max_length=max_length, padding=True,
                      return_tensors="pt")
            n_before = len(feats)
            model(**enc)
            x = feats[n_before]
            if x.dim() == 3:  # decoder heads: the last real token's state
                last = (enc["attention_mask"].sum(-1) - 1).clamp(min=0)
                feats[n_before] = x[torch.arange(x.shape[0]), last]
    finally:
        hook.remove()
        model.train()
    X = torch.cat(feats).double()
    yy = torch.as_tensor(y[chosen])
    mu = X.mean(0)
    Xc = X - mu
    scale = Xc.norm(dim=1).mean().clamp(min=1e-6)
    protos = torch.stack([Xc[yy == c].mean(0) for c in range(num_labels)])
    W = 10.0 * (protos / protos.norm(dim=1, keepdim=True).clamp(min=1e-6)) / scale
    head.weight.copy_(W.to(head.weight.dtype))
    if head.bias is not None:
        head.bias.copy_((-(W @ mu)).to(head.bias.dtype))
    return True


class AdaLoraAllocation(TrainerCallback):
    """AdaLoRA moves rank between layers after each optimizer step; Trainer does not call it by itself."""

    def on_optimizer_step(self, args, state, control, model=None, **kw):
        m = model
        while m is not None and not hasattr(m, "update_and_allocate"):
            m = getattr(m, "base_model", None) if getattr(m, "base_model", None) is not m else None
        if m is not None:
            m.update_and_allocate(state.global_step)


def compute_metrics(eval_pred):
    logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
    pred, y = np.asarray(logits).argmax(-1), eval_pred.label_ids
    p, r, f, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y, pred)), "precision": float(p), "recall": float(r), "f1": float(f)}


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=CONFIG["model"], help="base model: hub id or local folder (default: the run's)")
    ap.add_argument("--data", default=str(here / "data"), help="folder with train.jsonl, validation.jsonl, test.jsonl, labels.json")
    ap.add_argument("--out", default=str(here / "output"), help="checkpoints and test_metrics.json go here")
    a = ap.parse_args()
    t = CONFIG["training"]
    set_seed(t["seed"])
    data = Path(a.data)
    splits = {name: load_split(data, name) for name in ("train", "validation", "test")}
    labels = json.loads((data / "labels.json").read_text())
    label2id = {l: i for i, l in enumerate(labels)}

    tok = AutoTokenizer.from_pretrained(a.model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token

    def encode(df):
        ds = Dataset.from_dict({"text": df["text"].tolist(), "labels": [label2id[l] for l in df["label"]]})

        def enc(batch):
            e = tok(batch["text"], truncation=True, max_length=t["max_length"])
            e["length"] = [len(x) for x in e["input_ids"]]
            return e

        return ds.map(enc, batched=True, remove_columns=["text"])

    ds = {k: encode(v) for k, v in splits.items()}
    model = AutoModelForSequenceClassification.from_pretrained(
        a.model, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id,
        ignore_mismatched_sizes=True)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    if t["head_init"] == "prototype":
        train = splits["train"]
        prototype_head(model, tok, train["text"].tolist(), [label2id[l] for l in train["label"]], len(labels),
                       t["max_length"], t["seed"])
    per_step = t["batch_size"] * t["gradient_accumulation_steps"]
    total_steps = max(1, math.ceil(max(1, math.ceil(len(ds["train"]) / per_step)) * t["epochs"]))
    model = apply_method(model, CONFIG["method"], CONFIG["method_args"], total_steps)

    cuda = torch.cuda.is_available() and t["device"] != "cpu"
    precision = t["precision"] if t["precision"] != "auto" else (
        ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32")
    every = {"eval_strategy": t["eval_strategy"], "save_strategy": t["eval_strategy"]}
    if t["eval_strategy"] == "steps":
        every.update(eval_steps=t["eval_steps"], save_steps=t["eval_steps"])
    args = TrainingArguments(
        output_dir=a.out, num_train_epochs=t["epochs"], learning_rate=LEARNING_RATE,
        per_device_train_batch_size=t["batch_size"], per_device_eval_batch_size=max(t["batch_size"], 32),
        gradient_accumulation_steps=t["gradient_accumulation_steps"], warmup_steps=t["warmup_ratio"],
        lr_scheduler_type=t["scheduler"] if t["scheduler"] != "constant" else "constant_with_warmup",
        weight_decay=t["weight_decay"], seed=t["seed"], data_seed=t["seed"], bf16=precision == "bf16",
        fp16=precision == "fp16", use_cpu=not cuda, logging_steps=t["logging_steps"],
        save_total_limit=t["save_total_limit"], load_best_model_at_end=True,
        metric_for_best_model=f"eval_{BEST_METRIC}", greater_is_better=BEST_METRIC != "loss",
        train_sampling_strategy="group_by_length" if t["group_by_length"] else "random",
        report_to="none", disable_tqdm=True, **every)
    callbacks = [AdaLoraAllocation()] if CONFIG["method"] == "adalora" else []
    if t.get("early_stopping_patience"):
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t["early_stopping_patience"]))
    trainer = Trainer(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"],
                      data_collator=DataCollatorWithPadding(tok), processing_class=tok,
                      compute_metrics=compute_metrics, callbacks=callbacks)
    trainer.train()
    metrics = {k[5:]: v for k, v in trainer.evaluate(ds["test"], metric_key_prefix="test").items()
               if k.startswith("test_") and k[5:] in ("accuracy", "precision", "recall", "f1", "loss")}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "test_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
'''


class ReproduceError(ValueError):
    pass


def script_text(run_dir: Path) -> str:
    """reproduce.py for a run, with its config embedded."""
    from studio.config import RunConfig

    run_dir = Path(run_dir)
    raw = json.loads((run_dir / runlog.CONFIG_FILE).read_text())
    if raw.get("task", "text-classification") not in SUPPORTED_TASKS:
        raise ReproduceError(f"Run {run_dir.name} is a {raw['task']} run; reproduce scripts are generated for "
                             f"{', '.join(SUPPORTED_TASKS)} runs.")
    cfg = RunConfig.from_dict(raw)
    from studio.export import portable_base

    raw["model"] = portable_base(cfg.model)
    raw["method_args"] = methods.resolve_args(cfg.method, cfg.method_args)
    report = _read(run_dir / runlog.REPORT_FILE) or {}
    result = ", ".join(f"test {k} {v:.4f}" for k, v in (report.get("metrics") or {}).items()
                       if isinstance(v, (int, float))) or "(no test report)"
    config_json = json.dumps(raw, indent=2)
    if '"""' in config_json:  # cannot end the embedded raw string early: JSON escapes quotes inside strings
        raise ReproduceError("The run's config cannot be embedded in a script.")
    subs = {"__RUN__": run_dir.name, "__NAME__": cfg.display_name(), "__METHOD__": methods.METHODS[cfg.method].title,
            "__MODEL__": raw["model"], "__BEST__": cfg.selection_metric(), "__RESULT__": result,
            "__LR__": repr(float(cfg.training.learning_rate or methods.default_learning_rate(cfg.method))),
            "__CONFIG__": config_json}
    text = TEMPLATE
    for k, v in subs.items():
        text = text.replace(k, v)
    return text


def write_bundle(run_dir: Path, dest: Path) -> Path:
    """dest/reproduce.py, dest/data/{train,validation,test}.jsonl + labels.json, dest/config.json, dest/README.md.

    The splits are JSON Lines, not CSV: a spreadsheet would run texts starting with "=" as formulas, and
    neutralising them would change the data the script trains on."""
    import pandas as pd

    run_dir, dest = Path(run_dir), Path(dest)
    text = script_text(run_dir)
    (dest / "data").mkdir(parents=True)
    for split in ("train", "validation", "test"):
        df = pd.read_parquet(run_dir / "data" / f"{split}.parquet")
        df[["text", "label"]].to_json(dest / "data" / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    labels = json.loads((run_dir / runlog.DATA_REPORT_FILE).read_text())["labels"]
    (dest / "data" / "labels.json").write_text(json.dumps(labels, indent=2, ensure_ascii=False), encoding="utf-8")
    (dest / "reproduce.py").write_text(text, encoding="utf-8")
    shutil.copy(run_dir / runlog.CONFIG_FILE, dest / "config.json")
    (dest / "README.md").write_text(
        f"# Reproduce run {run_dir.name}\n\n"
        "`reproduce.py` retrains this run with plain transformers and peft code (no studio needed) on the exact "
        "splits in `data/`, and writes the test metrics to `output/test_metrics.json`.\n\n"
        "```bash\npip install torch transformers peft datasets scikit-learn pandas pyarrow\npython reproduce.py\n```\n\n"
        "`python reproduce.py --model /path/to/model` uses a local copy of the base model.\n", encoding="utf-8")
    return dest


def _read(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
