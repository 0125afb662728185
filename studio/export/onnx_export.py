"""ONNX and int8 exports of encoder classifiers, each measured against the run it came from.

The run's model (adapter folded in) is traced with torch's ONNX exporter into one
self-contained `model.onnx`; the int8 variant is onnxruntime's dynamic
quantization of that file (weights stored as int8, activations quantised on the
fly), which is what serves fastest on CPUs. Both are scored on the run's own test
split with onnxruntime, so the export report shows size and accuracy beside the
original's: what was traded is visible, not assumed.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio import models
from studio.base import files, runfolder
from studio.base.runfolder import MODEL_META_NAME, RunFolder
from studio.tasks import get_task

ONNX_KINDS = ("onnx", "onnx-int8")
ONNX_FILE = "model.onnx"
REPORT_FILE = "export_report.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def supports_onnx(meta: dict[str, Any], model_config: dict[str, Any]) -> bool:
    """Encoder classifiers only: decoders and encoder-decoders trace into graphs that need a generation loop."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    card = get_task(meta.get("task")).card
    return (card.onnx and not model_config.get("is_encoder_decoder")
            and model_config.get("model_type") in MODEL_FOR_MASKED_LM_MAPPING_NAMES)


def model_config_of(run_dir: Path) -> dict[str, Any]:
    """The base architecture's config.json (an adapter folder has none of its own)."""
    mdir = RunFolder(Path(run_dir)).model
    meta = runfolder.model_meta(run_dir)
    own = mdir / "config.json"
    if own.exists():
        return json.loads(own.read_text())
    base = models.resolve(meta["base_model"], allow_local=True)
    try:
        return json.loads((Path(base) / "config.json").read_text())
    except (OSError, TypeError, ValueError):
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(str(base)).to_dict()


def load_torch_model(run_dir: Path, dtype: str | None = None):
    """(model, tokenizer, meta) of a finished run on CPU, any adapter merged into the weights: in fp32 (ONNX traces
    it), or in `dtype` as the base loads with it ("auto": its stored precision, what GGUF writes from)."""
    mdir = RunFolder(Path(run_dir)).model
    meta = runfolder.model_meta(run_dir)
    task = get_task(meta["task"])
    tok = task.load_tokenizer(mdir)
    kw = {"dtype": dtype} if dtype else {}
    if meta.get("peft"):
        from peft import PeftModel

        base = task.load_model(models.resolve(meta["base_model"], allow_local=True), meta["labels"], tok, **kw)
        model = PeftModel.from_pretrained(base, str(mdir)).merge_and_unload()
    else:
        model = task.load_model(mdir, meta["labels"], tok, **kw)
    return (model if dtype else model.float()).eval(), tok, meta


def write_onnx(run_dir: Path, dest: Path, int8: bool = False) -> dict[str, Any]:
    """Export into dest (model.onnx, tokenizer, label map, studio_model.json) and return the size/accuracy report."""
    import torch

    run_dir, dest = Path(run_dir), Path(dest)
    model, tok, meta = load_torch_model(run_dir)
    dest.mkdir(parents=True, exist_ok=True)
    sample = tok(["a short text", "a somewhat longer text to trace with"], padding=True, return_tensors="pt")
    names = [n for n in INPUT_NAMES if n in sample]

    class Logits(torch.nn.Module):
        """Named tensor inputs in, logits out: the signature ONNX runtimes call."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return self.inner(**kw).logits

    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix=".onnx-", dir=dest) as tmp:
        fp32 = Path(tmp) / ONNX_FILE
        with torch.inference_mode(False), torch.no_grad():
            program = torch.onnx.export(Logits(model).eval(), tuple(sample[n] for n in names), dynamo=True,
                                        input_names=names, output_names=["logits"], verbose=False,
                                        dynamic_shapes={n: {0: batch, 1: seq} for n in names})
        # One self-contained file: a model.onnx.data sidecar gets lost when people copy "the model".
        program.save(str(fp32), external_data=False)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(fp32), str(dest / ONNX_FILE), weight_type=QuantType.QInt8)
        else:
            os.replace(fp32, dest / ONNX_FILE)
    seconds = time.time() - t0
    tok.save_pretrained(dest)
    model.config.save_pretrained(dest)  # id2label/label2id: what the logits mean
    files.atomic_write_json(dest / MODEL_META_NAME, {**meta, "peft": False, "format": "onnx-int8" if int8 else "onnx",
                                                          "onnx_inputs": names})
    report = compare(run_dir, dest, model, tok, meta)
    report["export_seconds"] = round(seconds, 1)
    files.atomic_write_json(dest / REPORT_FILE, report)
    return report


class OnnxClassifier:
    """An exported classifier with onnxruntime: the same predict() shape as the studio's own."""

    def __init__(self, folder: Path):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        folder = Path(folder)
        self.meta = json.loads((folder / MODEL_META_NAME).read_text())
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.labels = self.meta["labels"]
        self.session = ort.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def logits(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(texts[i:i + batch_size], truncation=True, max_length=self.meta.get("max_length", 128),
                                 padding=True, return_tensors="np")
            out.append(self.session.run(None, {n: enc[n].astype(np.int64) for n in self.inputs})[0])
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)), dtype=np.float32)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        logits = self.logits(texts).astype(np.float64)
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        return [{"label": self.labels[int(p.argmax())], "score": float(p.max()),
                 "probabilities": {l: float(v) for l, v in zip(self.labels, p)}} for p in probs]


def _torch_logits(model, tok, texts: list[str], max_length: int, batch_size: int = 32) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i:i + batch_size], truncation=True, max_length=max_length, padding=True,
                      return_tensors="pt")
            out.append(model(**enc).logits.float().numpy())
    return np.concatenate(out)


def _weights_bytes(model) -> int:
    return int(sum(p.numel() * p.element_size() for p in model.state_dict().values()))


def compare(run_dir: Path, folder: Path, model, tok, meta: dict[str, Any]) -> dict[str, Any]:
    """Size and test accuracy of the export beside the original (PyTorch, fp32, adapter merged)."""
    import pandas as pd

    test_p = RunFolder(Path(run_dir)).data / "test.parquet"
    exported = OnnxClassifier(folder)
    report: dict[str, Any] = {"format": meta.get("format") or exported.meta.get("format"),
                              "size_bytes": (Path(folder) / ONNX_FILE).stat().st_size,
                              "original_size_bytes": _weights_bytes(model)}
    report["size_ratio"] = round(report["size_bytes"] / max(report["original_size_bytes"], 1), 4)
    if not test_p.exists():
        return report
    test = pd.read_parquet(test_p)
    texts, gold = test["text"].tolist(), test["label"].tolist()
    ref = _torch_logits(model, tok, texts, meta.get("max_length", 128))
    got = exported.logits(texts)
    labels = meta["labels"]
    ref_pred = [labels[i] for i in ref.argmax(-1)]
    got_pred = [labels[i] for i in got.argmax(-1)]
    report.update({
        "test_rows": len(texts),
        "original_test_accuracy": float(np.mean([a == b for a, b in zip(ref_pred, gold)])),
        "test_accuracy": float(np.mean([a == b for a, b in zip(got_pred, gold)])),
        "agreement_with_original": float(np.mean([a == b for a, b in zip(ref_pred, got_pred)])),
        "max_abs_logit_difference": float(np.abs(ref - got).max()),
    })
    return report


def card_section(report: dict[str, Any]) -> list[str]:
    """Model-card lines: what the export traded against the original."""
    mb = 1024 * 1024
    lines = ["## ONNX export", "",
             f"Format: {report.get('format')}. Run it with onnxruntime; no PyTorch needed.", "",
             "| | original (PyTorch fp32) | this export |", "|---|---:|---:|",
             f"| size | {report['original_size_bytes'] / mb:.1f} MB | {report['size_bytes'] / mb:.1f} MB |"]
    if "test_accuracy" in report:
        lines.append(f"| test accuracy ({report['test_rows']} rows) | {report['original_test_accuracy']:.4f} | "
                     f"{report['test_accuracy']:.4f} |")
        lines += ["", f"Predictions agree with the original on {100 * report['agreement_with_original']:.1f}% of the "
                      f"test rows (largest logit difference {report['max_abs_logit_difference']:.2g})."]
    return lines + [""]


def card_usage() -> list[str]:
    return ["import numpy as np, onnxruntime as ort",
            "from transformers import AutoTokenizer", "",
            'tok = AutoTokenizer.from_pretrained("PATH")',
            'session = ort.InferenceSession("PATH/model.onnx")',
            'enc = tok(["My card was charged twice."], return_tensors="np")',
            'logits = session.run(None, {i.name: enc[i.name].astype(np.int64) for i in session.get_inputs()})[0]']
