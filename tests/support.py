"""Helpers shared by the engine tests (imported as `tests.support`; fixtures live in conftest.py)."""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "assets" / "samples"
SUPPORT_TICKETS = SAMPLES / "support_tickets.csv"

# Two classes told apart by vocabulary: a tiny random model can learn it in a few steps.
WORDS = {
    "billing": "refund invoice charge payment billing price receipt card".split(),
    "technical": "crash error bug login freeze broken timeout update".split(),
    "shipping": "parcel delivery courier tracking package address customs late".split(),
}



def trainable_here(names) -> list[str]:
    """The methods among names that this machine can train: those whose machine check (qlora's CUDA and
    bitsandbytes) passes for a CPU run. What the others say instead is tested beside their checks."""
    from studio.base.errors import ConfigError
    from studio.methods import METHODS

    def runs(name: str) -> bool:
        check = METHODS[name].machine_check
        try:
            check and check("cpu")
        except ConfigError:
            return False
        return True

    return [n for n in names if runs(n)]

def separable_rows(per_class: int = 24, labels=("billing", "technical"), seed: int = 0,
                   words: tuple[int, int] = (4, 4)) -> list[dict[str, str]]:
    """Distinct short texts (words[0] to words[1] words), each made of words of its own class only."""
    rng = random.Random(seed)
    rows, seen = [], set()
    for label in labels:
        n = 0
        while n < per_class:
            text = " ".join(rng.sample(WORDS[label], rng.randint(*words)))
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "label": label})
            n += 1
    rng.shuffle(rows)
    return rows


def flip_labels(path: Path, dest: Path, n: int, seed: int = 0) -> tuple[Path, list[int]]:
    """A copy of a text,label CSV with n labels, at random rows, changed to another of its labels."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    rng = np.random.default_rng(seed)
    labels = sorted(df["label"].unique())
    rows = sorted(int(i) for i in rng.choice(len(df), n, replace=False))
    for i in rows:
        df.loc[i, "label"] = rng.choice([lab for lab in labels if lab != df.loc[i, "label"]])
    df.to_csv(dest, index=False)
    return dest, rows


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(rows[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path


def make_learnable_bert(folder: Path) -> Path:
    """A tiny BERT (2 layers, 32 wide) that learns visibly in a dozen steps.

    make_tiny_bert's weights use BERT's std 0.02 and dropout 0.1: its [CLS] vector barely depends on
    the input, so a few steps cannot move the loss above the dropout noise. A wider init and no
    dropout make a full-batch loss curve that falls for every method at its default learning rate.
    """
    from tests import tiny_models

    def write(tmp: Path) -> None:
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=tiny_models.VOCAB_SIZE, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                            type_vocab_size=2, pad_token_id=tiny_models.PAD_ID, initializer_range=0.2,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        tiny_models._seed()
        model = BertModel(config).eval()
        tiny_models._copy_tokenizer(tmp)
        model.save_pretrained(tmp)

    return tiny_models._build(folder, write)


def kill_active(store) -> None:
    from studio.base import runfolder

    for row in store.list():
        if row["status"] in runfolder.ACTIVE:
            try:
                store.kill(row["id"])
            except Exception:
                pass


def tiny_config(model: Path, train: Path, method: str = "lora", **training) -> dict:
    """A run config (as a dict) that trains the tiny model on CPU in a few seconds."""
    t = {"epochs": 2, "batch_size": 8, "max_length": 16, "logging_steps": 1, "device": "cpu",
         "save_total_limit": 2, "group_by_length": True}
    t.update(training)
    return {"model": str(model), "method": method, "data": {"train": str(train)}, "training": t}


def train_to_completion(store, cfg, timeout: float = 300) -> str:
    """Create a run for cfg, wait until it finishes, and fail with its log tail unless it completed."""
    run_id = store.create(cfg)
    try:
        st = store.wait(run_id, timeout=timeout)
    finally:
        kill_active(store)
    assert st["status"] == "completed", (st, (store.run_dir(run_id) / "train.log").read_text()[-3000:])
    return run_id


def wait_for(predicate, timeout: float = 180, poll: float = 0.2, what: str = "condition"):
    """Poll until predicate() returns a truthy value; generous timeout, no timing assertions."""
    end = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def run_reproduce_script(run_dir: Path, tmp_path: Path, *args: str) -> tuple[dict, dict, Path]:
    """Export a run's reproduce bundle, run its script in a clean interpreter (no studio on its path) and
    return (the script's test metrics, the run's test metrics, the bundle folder)."""
    import os
    import subprocess
    import sys
    import zipfile

    from studio import export

    with zipfile.ZipFile(export.build_zip(run_dir, "reproduce", tmp_path)) as zf:
        zf.extractall(tmp_path / "reproduce")
    folder = tmp_path / "reproduce"
    script = (folder / "reproduce.py").read_text()
    assert "import studio" not in script and "from studio" not in script
    out = tmp_path / "out"
    model = json.loads((Path(run_dir) / "config.json").read_text())["model"]
    if Path(model).is_dir() and "--model" not in args:  # an export names a local base by its folder's name only
        args = ("--model", str(model), *args)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # From an empty folder with -I: the script must not reach the studio package.
    proc = subprocess.run([sys.executable, "-I", str(folder / "reproduce.py"), "--out", str(out), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads((out / "test_metrics.json").read_text())
    want = json.loads((Path(run_dir) / "test_report.json").read_text())["metrics"]
    return got, want, folder


def on_own_copy_of_base(adapter: Path, run_dir: Path) -> Path:
    """An exported adapter pointed at this machine's copy of its run's base, as its model card tells a person whose
    base was a local folder (an export names such a base by its folder's name only, never by a server path)."""
    config = Path(adapter) / "adapter_config.json"
    conf = json.loads(config.read_text())
    base = json.loads((Path(run_dir) / "config.json").read_text())["model"]
    if Path(base).is_dir():
        assert conf["base_model_name_or_path"] == Path(base).name  # no path of the server in the export
        conf["base_model_name_or_path"] = str(base)
        config.write_text(json.dumps(conf))
    return Path(adapter)


def write_jsonl(path: Path, records: list) -> Path:
    """records as a JSON Lines file at path (one object per line): the path."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def chat_exports_match_the_run(run_dir: Path, tmp_path: Path, question: str) -> str:
    """Export a chat run merged and as an adapter, check that both give the run's own logits for one question,
    and return the adapter's model card."""
    import torch
    from peft import AutoPeftModelForCausalLM

    from studio import export
    from studio.serve import inference
    from studio.tasks import chat

    loaded = inference.load(run_dir)
    ids = torch.tensor([chat._prompt_ids(loaded.tokenizer, [{"role": "user", "content": question}])])
    merged = chat.load_model(export.build_folder(run_dir, "merged", tmp_path / "merged"))
    adapter_dir = export.build_folder(run_dir, "adapter", tmp_path / "adapter")
    adapter = AutoPeftModelForCausalLM.from_pretrained(str(on_own_copy_of_base(adapter_dir, run_dir)))
    with torch.no_grad():
        want = loaded.model(input_ids=ids).logits
        assert torch.allclose(merged(input_ids=ids).logits, want, atol=1e-4)
        assert torch.allclose(adapter(input_ids=ids).logits, want, atol=1e-4)
    return (adapter_dir / "README.md").read_text()


def environment_as_it_was():
    """A fixture body (`yield from`): os.environ put back after the test. Importing some libraries (lm-eval, ray)
    sets variables of their own, which the shared spare worker's fingerprint counts (tests/conftest.py), so every
    later run of the same test process would start a fresh worker instead of forking from it."""
    import os

    before = dict(os.environ)
    yield
    if dict(os.environ) != before:
        os.environ.clear()
        os.environ.update(before)
