"""A finished run as a standalone Python script: plain transformers + peft, no studio.

The export is a folder with `reproduce.py`, the run's exact data splits as JSON Lines
and its config.json. The script reads the config it was generated from (embedded
verbatim), so what it trains is the run's setup, field by field: the same model,
method and settings, learning rate, schedule, seed, length-grouped batches,
best-checkpoint selection and the task's own evaluation.

The task-specific parts (how a method is applied, how a conversation is masked to
its answers, how labels align to sub-words, how outputs are scored, the prototype
head) are the studio's own functions, copied into the script with
`inspect.getsource` when it is generated: the script cannot drift from what the run
did, and no second copy of that code lives in this repository.
"""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path
from typing import Any

from studio import methods, models, runlog

SUPPORTED_TASKS = ("text-classification", "token-classification", "sft", "seq2seq")

HEADER = r'''#!/usr/bin/env python
"""Reproduce studio run __RUN__ (__NAME__) with plain transformers and peft.

    pip install __PIP__
    python reproduce.py                       # data/ next to this file, the run's base model
    python reproduce.py --model /path/to/model --out results/

It trains __METHOD__ on __MODEL__ (__TASK__) with the run's settings, keeps the best checkpoint by
validation __BEST__, and writes the test metrics to OUT/test_metrics.json. The run itself reached:
__RESULT__
__BASE_NOTE__
The functions under "The studio's own code" were copied verbatim from the studio when this script was
generated: tokenising, loss masks and scores are exactly the run's.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from datasets import Dataset
from torch import nn
from transformers import (AutoTokenizer, EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments,
                          set_seed)

CONFIG = json.loads(r"""__CONFIG__""")
LEARNING_RATE = __LR__        # the method's default for this task when the config left it empty
BEST_METRIC = "__BEST__"
PEFT_TASK_TYPE = "__PEFT_TASK__"
'''

COMMON = r'''

def resolve_args(method, args):
    return args  # CONFIG["method_args"] holds every setting resolved (defaults filled in) already


def add_task_options(ap):
    pass


def padded_tokenizer(name, **kw):
    """The base's tokenizer; decoder-only bases ship without a pad token, and any token does (labels mark padding)."""
    tok = AutoTokenizer.from_pretrained(name, **kw)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def labelled_model(auto_cls, name, labels, tok):
    """A classifier over `labels` (its head sized to them), with the tokenizer's pad token."""
    model = auto_cls.from_pretrained(name, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                     label2id={l: i for i, l in enumerate(labels)}, ignore_mismatched_sizes=True)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    return model


class AdaLoraAllocation(TrainerCallback):
    """AdaLoRA moves rank between layers after each optimizer step; Trainer does not call it by itself."""

    def on_optimizer_step(self, args, state, control, model=None, **kw):
        m = model
        while m is not None and not hasattr(m, "update_and_allocate"):
            m = getattr(m, "base_model", None) if getattr(m, "base_model", None) is not m else None
        if m is not None:
            m.update_and_allocate(state.global_step)
'''

MAIN = r'''

def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=CONFIG["model"], help="base model: hub id or local folder (default: the run's)")
    ap.add_argument("--data", default=str(here / "data"), help="folder with train.jsonl, validation.jsonl, test.jsonl")
    ap.add_argument("--out", default=str(here / "output"), help="checkpoints and test_metrics.json go here")
    add_task_options(ap)
    a = ap.parse_args()
    t = CONFIG["training"]
    set_seed(t["seed"])
    data = Path(a.data)
    splits = {name: load_split(data, name) for name in ("train", "validation", "test")}
    labels = json.loads((data / "labels.json").read_text()) if (data / "labels.json").exists() else []

    tok = load_tokenizer(a)
    ds = {name: encode_split(df, tok, labels, t) for name, df in splits.items()}
    per_step = t["batch_size"] * t["gradient_accumulation_steps"]
    total_steps = max(1, math.ceil(max(1, math.ceil(len(ds["train"]) / per_step)) * t["epochs"]))
    model = load_model(a, labels, tok)
    init_head(model, tok, splits["train"], labels, t)
    model = apply(model, CONFIG["method"], CONFIG["method_args"], PEFT_TASK_TYPE, total_steps=total_steps)

    cuda = torch.cuda.is_available() and t["device"] != "cpu"
    precision = t["precision"] if t["precision"] != "auto" else (
        ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32")
    every = {"eval_strategy": t["eval_strategy"], "save_strategy": t["eval_strategy"]}
    if t["eval_strategy"] == "steps":
        every.update(eval_steps=t["eval_steps"], save_steps=t["eval_steps"])
    trainer_cls, args_cls, task_args = trainer_setup(t)
    args = args_cls(
        output_dir=a.out, num_train_epochs=t["epochs"], learning_rate=LEARNING_RATE,
        per_device_train_batch_size=t["batch_size"], per_device_eval_batch_size=max(t["batch_size"], 32),
        gradient_accumulation_steps=t["gradient_accumulation_steps"], warmup_steps=t["warmup_ratio"],
        lr_scheduler_type=t["scheduler"] if t["scheduler"] != "constant" else "constant_with_warmup",
        weight_decay=t["weight_decay"], seed=t["seed"], data_seed=t["seed"], bf16=precision == "bf16",
        fp16=precision == "fp16", use_cpu=not cuda, logging_steps=t["logging_steps"],
        save_total_limit=t["save_total_limit"], load_best_model_at_end=True,
        metric_for_best_model=f"eval_{BEST_METRIC}", greater_is_better=BEST_METRIC not in ("loss", "perplexity"),
        train_sampling_strategy="group_by_length" if t["group_by_length"] else "random",
        report_to="none", disable_tqdm=True, average_tokens_across_devices=False, **every, **task_args)
    callbacks = [AdaLoraAllocation()] if CONFIG["method"] == "adalora" else []
    if t.get("early_stopping_patience"):
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t["early_stopping_patience"]))
    compute_metrics, preprocess_logits = scoring(tok, labels)
    trainer = trainer_cls(model=model, args=args, train_dataset=ds["train"], eval_dataset=ds["validation"],
                          data_collator=make_collator(tok, model), processing_class=tok,
                          compute_metrics=compute_metrics, preprocess_logits_for_metrics=preprocess_logits,
                          callbacks=callbacks)
    trainer.train()
    trainer.args.train_sampling_strategy = "random"  # the test split in its own order
    metrics = test_metrics(trainer, ds["test"], splits["test"], tok, labels, t)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "test_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
'''

# ------------------------------------------------------------------------ text classification --
TEXT_CLASSIFICATION = r'''

def load_split(folder, name):
    return pd.read_json(folder / f"{name}.jsonl", lines=True, dtype=str)


def load_tokenizer(a):
    return padded_tokenizer(a.model)


def load_model(a, labels, tok):
    from transformers import AutoModelForSequenceClassification

    return labelled_model(AutoModelForSequenceClassification, a.model, labels, tok)


def init_head(model, tok, train, labels, t):
    if t["head_init"] == "prototype":
        label2id = {l: i for i, l in enumerate(labels)}
        init_from_prototypes(model, tok, train["text"].tolist(), [label2id[l] for l in train["label"]], len(labels),
                             t["max_length"], seed=t["seed"])


def encode_split(df, tok, labels, t):
    label2id = {l: i for i, l in enumerate(labels)}
    ds = Dataset.from_dict({"text": df["text"].tolist(), "labels": [label2id[l] for l in df["label"]]})

    def enc(batch):
        e = tok(batch["text"], truncation=True, max_length=t["max_length"])
        e["length"] = [len(x) for x in e["input_ids"]]
        return e

    return ds.map(enc, batched=True, remove_columns=["text"])


def make_collator(tok, model):
    from transformers import DataCollatorWithPadding

    return DataCollatorWithPadding(tok)


def scoring(tok, labels):
    return compute_metrics, None


def trainer_setup(t):
    return Trainer, TrainingArguments, {}


def test_metrics(trainer, test_ds, test_df, tok, labels, t):
    out = trainer.evaluate(test_ds, metric_key_prefix="test")
    return {k[5:]: v for k, v in out.items() if k[5:] in ("accuracy", "precision", "recall", "f1", "loss")}
'''

# ----------------------------------------------------------------------- token classification --
TOKEN_CLASSIFICATION = r'''

def load_split(folder, name):
    return pd.read_json(folder / f"{name}.jsonl", lines=True)


def load_tokenizer(a):
    tok = padded_tokenizer(a.model)
    if getattr(tok, "add_prefix_space", None) is False:
        # Byte-level BPE (RoBERTa, GPT-2) marks a word start by its leading space: pre-split words need one.
        tok = padded_tokenizer(a.model, add_prefix_space=True)
    return tok


def load_model(a, labels, tok):
    from transformers import AutoModelForTokenClassification

    return labelled_model(AutoModelForTokenClassification, a.model, labels, tok)


def init_head(model, tok, train, labels, t):
    pass


def encode_split(df, tok, labels, t):
    label2id = {l: i for i, l in enumerate(labels)}
    ds = Dataset.from_dict({"tokens": [list(map(str, x)) for x in df["tokens"]],
                            "tags": [[label2id[x] for x in tags] for tags in df["tags"]]})

    def enc(batch):
        e = tok(batch["tokens"], is_split_into_words=True, truncation=True, max_length=t["max_length"])
        e["labels"] = [align_labels(e.word_ids(i), tags) for i, tags in enumerate(batch["tags"])]
        e["length"] = [len(x) for x in e["input_ids"]]
        return e

    return ds.map(enc, batched=True, remove_columns=["tokens", "tags"])


def make_collator(tok, model):
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(tok, label_pad_token_id=IGNORE)


def scoring(tok, labels):
    return metrics_fn(labels), lambda logits, _labels: best_tags(logits)


def trainer_setup(t):
    return Trainer, TrainingArguments, {}


def test_metrics(trainer, test_ds, test_df, tok, labels, t):
    pred = trainer.predict(test_ds)
    gold, predicted, _ = word_sequences(pred.predictions, pred.label_ids, labels)
    return scores(gold, predicted)
'''

# ------------------------------------------------------------------------------------------ sft --
SFT = r'''

def load_split(folder, name):
    return pd.read_json(folder / f"{name}.jsonl", lines=True, dtype=str)


def load_tokenizer(a):
    return ensure_chat_template(padded_tokenizer(a.model))


def load_model(a, labels, tok):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(a.model)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    return model


def init_head(model, tok, train, labels, t):
    pass


def encode_split(df, tok, labels, t):
    rows = [encode(tok, json.loads(m), t["max_length"]) for m in df["messages"]]
    return Dataset.from_dict({k: [r[k] for r in rows] for k in ("input_ids", "attention_mask", "labels", "length")})


def make_collator(tok, model):
    return PadCollator(tok.pad_token_id)


def scoring(tok, labels):
    return None, None


def trainer_setup(t):
    return _trainer_cls(), TrainingArguments, {}


def test_metrics(trainer, test_ds, test_df, tok, labels, t):
    loop = trainer.evaluation_loop(trainer.get_test_dataloader(test_ds), description="test",
                                   prediction_loss_only=True, metric_key_prefix="test")
    metrics = {"loss": loop.metrics.get("test_loss"), "perplexity": loop.metrics.get("test_perplexity")}
    rows = sample_rows(test_df, TEST_GENERATIONS)
    outputs = generate(trainer.model, tok, [r["messages"] for r in rows], t["max_new_tokens"])
    metrics.update(overlap_metrics(outputs, [r["reference"] for r in rows]))
    return metrics
'''

# -------------------------------------------------------------------------------------- seq2seq --
SEQ2SEQ = r'''
BUILT_BASES = {"minilm-seq2seq": "sentence-transformers/all-MiniLM-L6-v2"}  # built here from this encoder


def add_task_options(ap):
    ap.add_argument("--encoder", default=None,
                    help="for a base the studio builds (minilm-seq2seq): the MiniLM to build it from "
                         "(hub id or folder; default: its hub id)")


def load_split(folder, name):
    return pd.read_json(folder / f"{name}.jsonl", lines=True, dtype=str)


def load_tokenizer(a):
    if a.model in BUILT_BASES:
        a.built = build_minilm_seq2seq(a.encoder or BUILT_BASES[a.model])
        return a.built[1]
    return padded_tokenizer(a.model)


def load_model(a, labels, tok):
    from transformers import AutoModelForSeq2SeqLM

    if getattr(a, "built", None):
        model = a.built[0]
        set_seed(CONFIG["training"]["seed"])  # the studio loads this base from its cache, drawing no random numbers
    else:
        model = AutoModelForSeq2SeqLM.from_pretrained(a.model)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    return model


def init_head(model, tok, train, labels, t):
    pass


def encode_split(df, tok, labels, t):
    ds = Dataset.from_dict({"source": df["source"].tolist(), "target": df["target"].tolist()})

    def enc(batch):
        e = tok(batch["source"], truncation=True, max_length=t["max_length"], return_token_type_ids=False)
        e["labels"] = encode_targets(tok, batch["target"], t["max_target_length"])
        return e

    return ds.map(enc, batched=True, remove_columns=["source", "target"])


def make_collator(tok, model):
    from transformers import DataCollatorForSeq2Seq

    return DataCollatorForSeq2Seq(tok, model=model, label_pad_token_id=-100)


def scoring(tok, labels):
    return metrics_fn(tok), None


def trainer_setup(t):
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    # Evaluation generates (greedy), so the best checkpoint is picked on real outputs; +1 for the start token.
    return Seq2SeqTrainer, Seq2SeqTrainingArguments, {
        "predict_with_generate": True, "generation_max_length": t["max_new_tokens"] + 1, "generation_num_beams": 1}


def test_metrics(trainer, test_ds, test_df, tok, labels, t):
    pred = trainer.predict(test_ds)
    return text_metrics(decode(tok, pred.predictions), test_df["target"].tolist())
'''


def _studio_code(task: str) -> str:
    """The studio's own functions and constants this task's script runs, as source text."""
    from studio import head_init, models
    from studio.tasks import seq2seq, sft, text_classification, token_classification

    shared: list[Any] = [methods._modules, methods.transformer_layers, methods._head_names, methods._ia3_defaults,
                         methods.apply]
    per_task: dict[str, list[Any]] = {
        "text-classification": [("LOGIT_SCALE", head_init), ("LARGE_MODEL_PARAMETERS", head_init),
                                ("LARGE_MODEL_ROWS_PER_CLASS", head_init), head_init.rows_per_class,
                                head_init.head_linear, head_init.init_from_prototypes,
                                text_classification.compute_metrics],
        "token-classification": [("IGNORE", token_classification), token_classification.align_labels,
                                 token_classification.best_tags, token_classification.word_sequences,
                                 token_classification.scores, token_classification.metrics_fn],
        "sft": [("IGNORE", sft), ("TEST_GENERATIONS", sft), ("FALLBACK_TEMPLATE", sft), sft.ensure_chat_template,
                sft.render, sft.segments, sft.encode, sft.PadCollator, sft.add_perplexity, sft.without_regulariser,
                sft._trainer_cls, sft.sample_rows, sft._gen_kwargs, sft._prompt_ids, sft.generate, sft._normalise,
                sft.overlap_metrics],
        "seq2seq": [models.build_minilm_seq2seq, models._warm_start_decoder, seq2seq._drops_leading_cls,
                    seq2seq.encode_targets, seq2seq._words, seq2seq.rouge_l, seq2seq._normalise,
                    seq2seq.text_metrics, seq2seq.decode, seq2seq.metrics_fn],
    }
    parts = []
    for item in shared + per_task[task]:
        if isinstance(item, tuple):
            name, module = item
            parts.append(f"{name} = {getattr(module, name)!r}")
        else:
            parts.append(inspect.getsource(item).rstrip())
    return "\n\n# ---------------------------------------------------------- The studio's own code --\n" + \
        "\n\n\n".join(parts) + "\n"


TASK_CODE: dict[str, str] = {"text-classification": TEXT_CLASSIFICATION, "token-classification": TOKEN_CLASSIFICATION,
                             "sft": SFT, "seq2seq": SEQ2SEQ}
PIP = {"text-classification": "torch transformers peft datasets scikit-learn pandas pyarrow",
       "token-classification": "torch transformers peft datasets seqeval pandas pyarrow",
       "sft": "torch transformers peft datasets sacrebleu pandas pyarrow jinja2",
       "seq2seq": "torch transformers peft datasets sacrebleu pandas pyarrow"}
# Per task: the split columns the script reads (the run's parquet holds them plus a display "text" column).
COLUMNS = {"text-classification": ("text", "label"), "token-classification": ("tokens", "tags"),
           "sft": ("messages", "reference", "text"), "seq2seq": ("source", "target")}


# Catalog bases the studio does not load from the hub as they are there.
BASE_NOTES = {
    "smollm2": "\nThe studio trained the bundled copy of this model (a Q4_1 GGUF file, de-quantized); the hub's weights\n"
               "are the unquantized originals, so scores can differ a little.\n",
    "minilm-seq2seq": "\nThis base is on no hub: the script builds it from MiniLM as the studio does (--encoder).\n",
}


class ReproduceError(ValueError):
    pass


def script_text(run_dir: Path) -> str:
    """reproduce.py for a run, with its config embedded."""
    from studio.config import RunConfig
    from studio.export import portable_base
    from studio.tasks import get_task

    run_dir = Path(run_dir)
    raw = json.loads((run_dir / runlog.CONFIG_FILE).read_text())
    task = raw.get("task") or "text-classification"
    if task not in SUPPORTED_TASKS:
        raise ReproduceError(f"Run {run_dir.name} is a {task} run; reproduce scripts are generated for "
                             f"{', '.join(SUPPORTED_TASKS)} runs.")
    cfg = RunConfig.from_dict(raw)
    raw["task"] = task
    raw["model"] = portable_base(cfg.model)
    raw["method_args"] = methods.resolve_args(cfg.method, cfg.method_args)
    report = _read(run_dir / runlog.REPORT_FILE) or {}
    result = ", ".join(f"test {k} {v:.4f}" for k, v in (report.get("metrics") or {}).items()
                       if isinstance(v, (int, float))) or "(no test report)"
    config_json = json.dumps(raw, indent=2)
    if '"""' in config_json:  # cannot end the embedded raw string early: JSON escapes quotes inside strings
        raise ReproduceError("The run's config cannot be embedded in a script.")
    subs: dict[str, str] = {
        "__RUN__": run_dir.name, "__NAME__": cfg.display_name(), "__METHOD__": methods.METHODS[cfg.method].title,
        "__MODEL__": raw["model"], "__TASK__": task, "__BEST__": cfg.selection_metric(), "__RESULT__": result,
        "__PIP__": PIP[task], "__BASE_NOTE__": BASE_NOTES.get(getattr(models.find_entry(cfg.model), "name", ""), ""), "__PEFT_TASK__": get_task(task).PEFT_TASK_TYPE,
        "__LR__": repr(float(cfg.training.learning_rate or methods.default_learning_rate(cfg.method, task))),
        "__CONFIG__": config_json}
    head = HEADER
    for k, v in subs.items():
        head = head.replace(k, v)
    return (head + COMMON + _studio_code(task) + "\n\n# " + "-" * 75 + " This task's steps --\n"
            + TASK_CODE[task] + MAIN)


def write_bundle(run_dir: Path, dest: Path) -> Path:
    """dest/reproduce.py, dest/data/{train,validation,test}.jsonl (+ labels.json), dest/config.json, dest/README.md.

    The splits are JSON Lines, not CSV: a spreadsheet would run texts starting with "=" as formulas, and
    neutralising them would change the data the script trains on."""
    import pandas as pd

    run_dir, dest = Path(run_dir), Path(dest)
    text = script_text(run_dir)
    task = json.loads((run_dir / runlog.CONFIG_FILE).read_text()).get("task") or "text-classification"
    (dest / "data").mkdir(parents=True)
    for split in ("train", "validation", "test"):
        df = pd.read_parquet(run_dir / "data" / f"{split}.parquet")
        frame = df[list(COLUMNS[task])]
        if task == "token-classification":  # parquet gives arrays; JSON wants lists
            frame = frame.assign(tokens=frame["tokens"].map(list), tags=frame["tags"].map(list))
        frame.to_json(dest / "data" / f"{split}.jsonl", orient="records", lines=True, force_ascii=False)
    labels = json.loads((run_dir / runlog.DATA_REPORT_FILE).read_text()).get("labels") or []
    if labels:
        (dest / "data" / "labels.json").write_text(json.dumps(labels, indent=2, ensure_ascii=False), encoding="utf-8")
    (dest / "reproduce.py").write_text(text, encoding="utf-8")
    shutil.copy(run_dir / runlog.CONFIG_FILE, dest / "config.json")
    (dest / "README.md").write_text(
        f"# Reproduce run {run_dir.name}\n\n"
        f"`reproduce.py` retrains this {task} run with plain transformers and peft code (no studio needed) on the "
        "exact splits in `data/`, and writes the test metrics to `output/test_metrics.json`.\n\n"
        f"```bash\npip install {PIP[task]}\npython reproduce.py\n```\n\n"
        "`python reproduce.py --model /path/to/model` uses a local copy of the base model.\n", encoding="utf-8")
    return dest


def _read(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
