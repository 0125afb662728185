"""Package a finished run: its adapter or a merged model, with a generated model card.

`build_folder` writes what gets shared (weights, tokenizer, config, README.md
model card); `build_zip` zips it for download and `push_to_hub` uploads it.
The hub token is only ever passed in memory to huggingface_hub: it is not
written anywhere, not logged, and scrubbed from any error message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from studio import models
from studio.base import files, runfolder
from studio.base.errors import ExportError
from studio.base.runfolder import MODEL_META_NAME, RunFolder
from studio.config import RunConfig
from studio.evals.jobs import read_results
from studio.evals.results import markdown_table, settings_text
from studio.export import gguf_export, onnx_export
from studio.export.portable import portable_meta
from studio.export.reproduce import write_bundle
from studio.methods import METHODS
from studio.models import portable_base
from studio.tasks import get_task
from studio.training.base_scores import side_by_side

KINDS = ("adapter", "merged", "onnx", "onnx-int8", *gguf_export.GGUF_KINDS, "reproduce")
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def _meta(run_dir: Path) -> dict[str, Any]:
    meta = runfolder.model_meta(run_dir)
    if meta is None:
        raise ExportError(f"Run {Path(run_dir).name} has no saved model; only completed runs can be exported.")
    return meta


def _mergeable(meta: dict[str, Any]) -> bool:
    """Virtual tokens (prefix, prompt tuning) are not weight deltas: nothing to fold into the base."""
    method = METHODS.get(meta.get("method") or "")
    return method is None or method.mergeable


def export_kinds(run_dir: Path) -> list[str]:
    """What a run can be exported as: its adapter and/or a merged model; for encoder classifiers ONNX (fp32, int8);
    for decoder chat models GGUF (f16, bf16, q8_0); and for every task a reproduce script."""
    meta = _meta(run_dir)
    if not meta.get("peft"):
        kinds = ["merged"]  # full and freeze runs already hold the whole model
    elif not _mergeable(meta):
        kinds = ["adapter"]
    else:
        kinds = ["adapter", "merged"]
    # Virtual tokens (prefix, prompt) have no place in a plain ONNX graph.
    if _mergeable(meta):
        config = onnx_export.model_config_of(run_dir)
        if onnx_export.supports_onnx(meta, config):
            kinds += list(onnx_export.ONNX_KINDS)
        if gguf_export.why_not_gguf(meta, config) is None:
            kinds += list(gguf_export.GGUF_KINDS)
    return kinds + ["reproduce"]


def _is_hub_id(name: str) -> bool:
    return bool(REPO_ID_RE.match(name)) and not Path(name).exists()


def model_card(run_dir: Path, kind: str, export_report: dict[str, Any] | None = None) -> str:
    """README.md for the exported model: what it is, how it was trained, how well it does, how to use it."""
    run_dir = Path(run_dir)
    cfg = json.loads((RunFolder(run_dir).config).read_text())
    meta = _meta(run_dir)
    report = _read_json(RunFolder(run_dir).report) or {}
    data_report = _read_json(RunFolder(run_dir).data_report) or {}
    base = portable_base(cfg["model"])
    method = METHODS[cfg["method"]]
    is_adapter = kind == "adapter" and meta.get("peft")
    task = get_task(cfg.get("task"))
    card = task.card
    name = cfg.get("name") or f"{Path(base).name} {cfg['method']} {card.model_kind.split()[-1]}"
    labels = meta.get("labels") or report.get("labels") or []

    library = ("peft" if is_adapter else "onnx" if kind.startswith("onnx") else "gguf" if kind.startswith("gguf")
               else "transformers")
    front = ["---", f"library_name: {library}", f"pipeline_tag: {card.pipeline_tag}"]
    if _is_hub_id(base):
        front.append(f"base_model: {base}")
    front += ["tags:", f"- {task.name}", f"- {cfg['method']}", "- studio", "---", ""]

    article = "An" if card.model_kind[:1].lower() in "aeiou" else "A"
    lines = [f"# {name}", "",
             f"{article} {card.model_kind} fine-tuned from `{base}` with {method.title} "
             f"({method.summary.rstrip('.')}). "
             f"This {'repository holds the adapter only; load it on top of the base model' if is_adapter else 'is a standalone model'}.",  # noqa: E501
             ""]
    if is_adapter and not _is_hub_id(base) and models.find_entry(cfg["model"]) is not None:
        # A base the studio builds itself (minilm-seq2seq) is on no hub: elsewhere only the merged export loads.
        lines += [f"The base `{base}` is built by the studio (`studio.models.resolve({base!r})` writes it to a "
                  "folder); to use this model without the studio, export the merged model instead, which "
                  "is standalone.",
                  ""]
    elif is_adapter and not _is_hub_id(base):
        lines += [f"The base `{base}` was a folder on the machine the run trained on: load the adapter on top of "
                  "your own copy of it (or export the merged model, which is standalone).", ""]
    on = merged_on(run_dir) if kind == "merged" and meta.get("peft") else None
    if on is not None:
        bits = _quantized_bits(run_dir)
        lines += [f"The adapter is merged into the {on}" + (
            ": the values it trained against, so this model answers as the tested one did." if _can_quantize() else
            f". Made on a machine with a CUDA GPU and bitsandbytes, the merged export merges it into the dequantized "
            f"{bits}-bit base instead; the adapter export loads on the {bits}-bit base as it trained."), ""]
    if labels:
        lines += [f"Labels ({len(labels)}): " + ", ".join(f"`{l}`" for l in labels), ""]
    metrics = report.get("metrics") or {}
    if metrics:
        lines += [f"## Results on the held-out test split ({report.get('n', '?')} rows)", ""]
        lines += _results_table(report)
        lines += ["", card.metrics_note, ""]
        if report.get("per_class"):
            lines += ["| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            for lab in report["per_class"]:  # the labels, or for NER the entity types (a tag alone scores nothing)
                pc = report["per_class"][lab]
                lines.append(f"| {lab} | {pc.get('precision', 0):.3f} | {pc.get('recall', 0):.3f} | "
                             f"{pc.get('f1-score', 0):.3f} | {int(pc.get('support', 0))} |")
            lines.append("")
    lines += _benchmarks_section(run_dir)
    if data_report.get("rows"):
        lines += ["## Training data", ""]
        for split, n in data_report["rows"].items():
            src = (data_report.get("split_source") or {}).get(split, "")
            lines.append(f"- {split}: {n} rows" + (f" ({src})" if src else ""))
        lines.append("")
    t = cfg.get("training") or {}
    lr = RunConfig.from_dict(cfg).learning_rate()
    lines += ["## Training settings", "", "| setting | value |", "|---|---|", f"| method | {method.title} |"]
    lines += [f"| {k} | {v} |" for k, v in (cfg.get("method_args") or {}).items()]
    lines += [f"| {k} | {v} |" for k, v in (cfg.get("task_args") or {}).items()]
    for k in ("epochs", "batch_size", "gradient_accumulation_steps", "max_length", "warmup_ratio", "scheduler",
              "weight_decay", "seed"):
        if k in t:
            lines.append(f"| {k} | {t[k]} |")
    lines += [f"| learning_rate | {lr:g} |", ""]
    if export_report and kind.startswith("onnx"):
        lines += onnx_export.card_section(export_report)
        usage = onnx_export.card_usage()
    elif export_report and kind.startswith("gguf"):
        lines += gguf_export.card_section(export_report)
        usage = gguf_export.card_usage()
    else:
        usage = card.usage(bool(is_adapter), labels)
    lines += ["## Usage", "", "```python", *usage, "```", "",
              "Trained with the studio, a browser-based fine-tuning studio.", ""]
    return "\n".join(front + lines)


def _benchmarks_section(run_dir: Path) -> list[str]:
    """The run's benchmark scores (studio eval, the Runs tab), the base beside the tuned model."""
    found = read_results(run_dir)
    table = markdown_table(found)
    if not table:
        return []
    shown = "; ".join(sorted({settings_text(e.get("config") or {}) for e in found["benchmarks"].values()}))
    return ["## Benchmarks", "", table, "",
            f"Scored with lm-evaluation-harness ({shown}); base: the model it was fine-tuned from, on the same "
            "questions and prompts.", ""]


def _results_table(report: dict[str, Any]) -> list[str]:
    """The test metrics; with the untrained base's beside them where it was scored (did fine-tuning help?)."""
    rows = side_by_side(report)
    if not report.get("base"):
        return ["| metric | value |", "|---|---|", *[f"| {k} | {v:.4f} |" for k, v, _ in rows]]
    base = report["base"]
    return ["| metric | fine-tuned | base (untrained) |", "|---|---|---|",
            *[f"| {k} | {v:.4f} | {'-' if b is None else f'{b:.4f}'} |" for k, v, b in rows],
            "", f"The base column scores {base.get('what') or 'the base model'} on the same test rows."]


def split_front_matter(card: str) -> tuple[str, str]:
    """(YAML front matter, Markdown body) of a model card; front matter is empty when there is none."""
    if card.startswith("---\n"):
        end = card.find("\n---\n", 4)
        if end != -1:
            return card[4:end], card[end + 5:]
    return "", card


def _read_json(p: Path) -> dict[str, Any] | None:
    try:
        return json.loads(p.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def build_folder(run_dir: Path, kind: str, dest: Path) -> Path:
    """Write the shareable files of a run into dest (which must not exist yet)."""
    run_dir = Path(run_dir)
    if kind not in KINDS:
        raise ExportError(f"Unknown export kind {kind!r}; choose one of {', '.join(KINDS)}.")
    available = export_kinds(run_dir)
    if kind not in available:
        meta = _meta(run_dir)
        if kind.startswith("onnx"):
            why = ("ONNX export is for encoder classifiers (text-classification runs on BERT-like models)"
                   if _mergeable(meta) else
                   f"{meta.get('method')} learns virtual tokens, which a plain ONNX graph cannot hold")
        elif kind.startswith("gguf"):
            why = (gguf_export.why_not_gguf(meta, onnx_export.model_config_of(run_dir)) if _mergeable(meta) else
                   f"{meta.get('method')} learns virtual tokens, which a GGUF file cannot hold")
        else:
            why = (f"{meta.get('method')} learns virtual tokens, which cannot be merged into the weights"
                   if not _mergeable(meta) else f"{meta.get('method')} trains the whole model, there is no adapter")
        raise ExportError(f"Run {run_dir.name} cannot be exported as {kind}: {why}; export it as {available[0]}.")
    mdir = RunFolder(run_dir).model
    cfg = json.loads((RunFolder(run_dir).config).read_text())
    meta = _meta(run_dir)
    dest = Path(dest)
    if kind == "reproduce":
        return write_bundle(run_dir, dest)
    if kind in ("onnx", "onnx-int8"):
        report = onnx_export.write_onnx(run_dir, dest, int8=kind == "onnx-int8")
        (dest / "README.md").write_text(model_card(run_dir, kind, export_report=report), encoding="utf-8")
        return dest
    if kind in gguf_export.GGUF_KINDS:
        report = gguf_export.write_gguf(run_dir, dest, kind.removeprefix("gguf-"))
        (dest / "README.md").write_text(model_card(run_dir, kind, export_report=report), encoding="utf-8")
        return dest
    if kind == "adapter" or not meta.get("peft"):
        shutil.copytree(mdir, dest, ignore=shutil.ignore_patterns("README.md"))
        files.atomic_write_json(dest / MODEL_META_NAME, portable_meta(meta))
        ac = dest / "adapter_config.json"
        if ac.exists():
            # The run recorded where the base was on this machine; others need its hub id.
            conf = json.loads(ac.read_text())
            conf["base_model_name_or_path"] = portable_base(cfg["model"])
            ac.write_text(json.dumps(conf, indent=2))
    else:
        _merge_into(run_dir, mdir, meta, dest)
    (dest / "README.md").write_text(model_card(run_dir, kind), encoding="utf-8")
    return dest


def _quantized_bits(run_dir: Path) -> int | None:
    """4 or 8 where the run's base trained quantized (QLoRA: its status records the number formats), None for a
    base that trained in a float format."""
    weights = ((runfolder.read_status(run_dir) or {}).get("number_formats") or {}).get("weights")
    return {"nf4": 4, "int8": 8}.get(weights)


def _can_quantize() -> bool:
    """bitsandbytes can re-create a quantized base here: it quantizes on a CUDA GPU."""
    import torch

    return torch.cuda.is_available() and find_spec("bitsandbytes") is not None


def merged_on(run_dir: Path) -> str | None:
    """What a merged export of this run merges its adapter into, where that is not simply its base: a QLoRA adapter
    trained against the base's 4- or 8-bit values, so it is merged into those values (dequantized to 16 bits) where
    a GPU with bitsandbytes can re-create them, else into the 16-bit base, and the export says so. None for a run
    whose base trained unquantized."""
    bits = _quantized_bits(run_dir)
    if bits is None:
        return None
    if _can_quantize():
        return f"dequantized {bits}-bit base"
    return (f"16-bit base (no GPU with bitsandbytes here to re-create the {bits}-bit values the adapter trained on; "
            "answers can differ slightly from the tested model)")


def _merge_into(run_dir: Path, mdir: Path, meta: dict[str, Any], dest: Path) -> None:
    from peft import PeftModel

    task = get_task(meta["task"])
    tok = task.load_tokenizer(mdir)
    path = models.resolve(meta["base_model"], allow_local=True)
    on = merged_on(run_dir)
    if on is not None and _can_quantize():
        from studio.serve.inference import base_load_kwargs

        # The base in the bits it trained in (the run's own quantization, as the playground serves it), then back
        # to its compute dtype: the values the adapter learned against, in 16 bits a plain Linear can hold.
        kw = base_load_kwargs(run_dir, "cuda")
        base = task.load_model(path, meta["labels"], tok, **kw)
        base = base.dequantize(dtype=kw["dtype"])
    else:
        base = task.load_model(path, meta["labels"], tok)
    merged = PeftModel.from_pretrained(base, str(mdir)).merge_and_unload()
    dest.mkdir(parents=True)
    merged.save_pretrained(dest, safe_serialization=True)
    tok.save_pretrained(dest)
    files.atomic_write_json(dest / MODEL_META_NAME, {**portable_meta(meta), "peft": False,
                                                     "merged_from": meta["method"],
                                                     **({"merged_on": on} if on is not None else {})})


def build_zip(run_dir: Path, kind: str, out_dir: Path) -> Path:
    """The export as one zip file in out_dir, named after the run and kind."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{run_dir.name}-{kind}.zip"
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out_dir) as tmp:
        folder = build_folder(run_dir, kind, Path(tmp) / "model")
        part = Path(tmp) / "model.zip"
        with zipfile.ZipFile(part, "w") as zf:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    # Weights barely compress; storing them keeps a big export fast.
                    store = f.suffix in (".safetensors", ".bin", ".pt", ".onnx", ".gguf")
                    zf.write(f, f.relative_to(folder).as_posix(),
                             compress_type=zipfile.ZIP_STORED if store else zipfile.ZIP_DEFLATED)
        os.replace(part, target)
    return target


def read_from_zip(zip_path: Path, name: str) -> str | None:
    """One file of a built export (README.md, export_report.json), or None when it has none."""
    with zipfile.ZipFile(zip_path) as zf:
        try:
            return zf.read(name).decode("utf-8")
        except KeyError:
            return None


def describe_trade(report: dict[str, Any]) -> str:
    """One sentence: the export's size and test accuracy (or, for GGUF, its answers) beside the original's."""
    if str(report.get("format", "")).startswith("gguf"):
        return gguf_export.describe(report)
    mb = 1024 * 1024
    text = (f"{report.get('format')}: {report['size_bytes'] / mb:.1f} MB "
            f"(original {report['original_size_bytes'] / mb:.1f} MB)")
    if "test_accuracy" in report:
        text += (f", test accuracy {report['test_accuracy']:.4f} (original {report['original_test_accuracy']:.4f}), "
                 f"same prediction as the original on {100 * report['agreement_with_original']:.1f}% of "
                 f"{report['test_rows']} test rows")
    return text + "."


def push_to_hub(run_dir: Path, repo_id: str, token: str, kind: str = "adapter", private: bool = True) -> str:
    """Upload the export to a hub repository (created if missing); returns its URL."""
    repo_id = (repo_id or "").strip()
    if not REPO_ID_RE.match(repo_id):
        raise ExportError(f"{repo_id!r} is not a repository id; write it as owner/name, e.g. alice/ticket-classifier.")
    token = (token or "").strip()
    if not token:
        raise ExportError("Give a Hugging Face access token with write permission (hf.co/settings/tokens).")
    with tempfile.TemporaryDirectory(prefix="studio-push-") as tmp:
        folder = build_folder(Path(run_dir), kind, Path(tmp) / "model")
        try:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
            url = api.create_repo(repo_id, private=private, exist_ok=True)
            api.upload_folder(repo_id=repo_id, folder_path=str(folder),
                              commit_message=f"Upload {kind} from studio run {Path(run_dir).name}")
        except Exception as e:  # translate whatever the client raised into one sentence
            raise ExportError(_explain_hub_error(e, token)) from None
    return str(url)


def _explain_hub_error(e: Exception, token: str) -> str:
    names = {c.__name__ for c in type(e).__mro__}
    status = getattr(getattr(e, "response", None), "status_code", None)
    if "OfflineModeIsEnabled" in names:
        msg = ("The Hugging Face Hub is switched off on this server (HF_HUB_OFFLINE is set); "
               "download the zip instead and upload it from a machine with internet access.")
    elif status in (401, 403):
        msg = "The hub refused the token; use a token with write permission for that namespace (hf.co/settings/tokens)."
    elif names & {"ConnectionError", "ConnectError", "NetworkError", "TimeoutException", "Timeout", "ConnectTimeout",
                  "TransportError", "ProxyError", "SSLError"}:
        msg = ("The Hugging Face Hub cannot be reached from this server (no network connection); "
               "download the zip instead and upload it from a machine with internet access.")
    else:
        first = (str(e).strip().splitlines() or [""])[0][:300]
        msg = f"Pushing to the hub failed: {type(e).__name__}: {first}"
    return msg.replace(token, "***") if token else msg
