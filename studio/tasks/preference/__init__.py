"""Preference tuning of chat models (DPO, ORPO, KTO through trl): answers people prefer, and ones they do not.

Records come in the shapes the field publishes them in, detected:
- prompt + chosen + rejected, each a string, or chosen/rejected as message lists (trl's conversational form,
  with or without a separate prompt: without one, the turns the two share are the prompt);
- Anthropic HH: `chosen` and `rejected` whole "\\n\\nHuman: ... \\n\\nAssistant: ..." transcripts;
- unpaired (KTO): prompt + completion + a true/false label saying whether the answer is a good one.

Splits are DataFrames with four columns: text (the last user turn, as a person reads it), prompt (the
conversation before the answer, as JSON messages), chosen and rejected (answers; an unpaired record fills one
and leaves the other empty). The algorithm is task_args.preference_loss; LoRA on the bundled SmolLM2 is the
default, and DPO's reference model is then the base with the adapter off, not a second copy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studio.base.settings import setting
from studio.base.text import Text
from studio.data import (
    DataError,
    DataReport,
    PreparedData,
    describe_lengths,
    length_stats,
    long_text_warnings,
    overlap_warnings,
    truncation_warnings,
)
from studio.data.records import field_names
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts, TrainerParts
from studio.tasks.sft import Card as ChatCard
from studio.tasks.sft import Playground as ChatPlayground
from studio.tasks.sft import (
    chat_messages,
    ensure_chat_template,
    generate,
    load_model,
    load_tokenizer,
    predict,
    record_splits,
    render,
    transcript_turns,
)

PROMPT_FIELDS = ("prompt", "instruction", "question", "query", "input")
CHOSEN_FIELDS = ("chosen", "preferred", "accepted", "response_chosen", "chosen_response")
REJECTED_FIELDS = ("rejected", "dispreferred", "response_rejected", "rejected_response")
COMPLETION_FIELDS = ("completion", "response", "answer", "output")
LABEL_FIELDS = ("label", "desirable", "kto_label", "good")
TRUE_WORDS = {"true", "1", "yes", "good", "desirable", "chosen"}
FALSE_WORDS = {"false", "0", "no", "bad", "undesirable", "rejected"}
PAIRED_LOSSES = ("dpo", "orpo")    # these need both answers of every record; kto also learns from one
TEST_GENERATIONS = 10              # test prompts answered for the report's side-by-side rows
# What trl logs per evaluation, under the studio's names (a slash in a metric name would be a folder elsewhere).
RENAMED = {"rewards/accuracies": "reward_accuracy", "rewards/margins": "reward_margin",
           "rewards/chosen": "reward_chosen", "rewards/rejected": "reward_rejected"}


# ================================================================== data ==
def _where(p: Path, pos: str) -> str:
    return f"{p.name} {pos}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def detect_fields(records: list[tuple[str, dict]], name: str, text_column: str | None = None,
                  label_column: str | None = None) -> dict[str, str | None]:
    """Which fields hold the prompt, the chosen and rejected answers, or an unpaired completion and its label."""
    keys = field_names(records, name, (("prompt", text_column), ("chosen answer", label_column)))
    pick = lambda names: next((keys[n] for n in names if n in keys), None)  # noqa: E731
    fields = {"prompt": keys[text_column.lower()] if text_column else pick(PROMPT_FIELDS),
              "chosen": keys[label_column.lower()] if label_column else pick(CHOSEN_FIELDS),
              "rejected": pick(REJECTED_FIELDS), "completion": pick(COMPLETION_FIELDS), "label": pick(LABEL_FIELDS)}
    if fields["chosen"] and fields["rejected"]:
        return {**fields, "completion": None, "label": None}
    if fields["completion"] and fields["label"] and fields["prompt"]:
        return {**fields, "chosen": None, "rejected": None}
    found = sorted(map(str, keys.values()))
    if fields["chosen"] or fields["rejected"]:
        lacking = "rejected" if fields["chosen"] else "chosen"
        raise DataError(f"{name}: there is no {lacking!r} field beside {fields['chosen'] or fields['rejected']!r} "
                        f"(fields: {found}); give every prompt a chosen and a rejected answer, or use prompt, "
                        "completion and a true/false label for unpaired answers (KTO).")
    raise DataError(f"{name}: found neither chosen and rejected answers nor prompt, completion and label fields among "
                    f"{found}; preference data needs prompt, chosen and rejected (or completion and label).")


def _answer_turns(value: Any, field: str, where: str) -> list[dict[str, str]] | str:
    """A chosen/rejected value: plain text, or the messages of a whole conversation (lists, JSON, transcripts)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError:
                return stripped
        else:
            turns = transcript_turns(value)
            return chat_messages(turns, where, field) if turns else stripped
    if isinstance(value, list):
        return chat_messages(value, where, field)
    raise DataError(f"{where}: {field!r} holds {type(value).__name__} values; give text or a list of messages.")


def _prompt_messages(value: Any, field: str, where: str) -> list[dict[str, str]]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        msgs = [{"role": str(m.get("role", "user")), "content": str(m.get("content", "")).strip()}
                for m in value if isinstance(m, dict)]
        if not msgs or not any(m["role"] == "user" and m["content"] for m in msgs):
            raise DataError(f"{where}: {field!r} has no user message with text; give every record its prompt.")
        return msgs
    if _missing(value) or not str(value).strip():
        raise DataError(f"{where}: {field!r} is empty; give every record its prompt, or remove the record.")
    return [{"role": "user", "content": str(value).strip()}]


def _split_shared(chosen: list[dict], rejected: list[dict], where: str) -> tuple[list[dict], str, str]:
    """Two whole conversations: the turns they share are the prompt, each one's last answer what differs."""
    if chosen[:-1] != rejected[:-1]:
        raise DataError(f"{where}: the chosen and rejected conversations differ before their last answer; they must "
                        "share the prompt and differ only in the final assistant turn.")
    return chosen[:-1], chosen[-1]["content"], rejected[-1]["content"]


def _label(value: Any, field: str, where: str) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise DataError(f"{where}: {field!r} is {value!r}; give true for a good answer and false for a bad one.")


def _answer_text(value: Any, field: str, where: str) -> str:
    if _missing(value) or not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: the {field!r} answer is empty; give every record both answers, or remove it.")
    return value.strip()


def to_row(rec: dict, fields: dict, where: str) -> dict[str, str]:
    """One record as text, prompt (JSON messages), chosen and rejected (one of them empty when unpaired)."""
    if fields["completion"]:
        prompt = _prompt_messages(rec.get(fields["prompt"]), fields["prompt"], where)
        answer = _answer_text(rec.get(fields["completion"]), fields["completion"], where)
        good = _label(rec.get(fields["label"]), fields["label"], where)
        chosen, rejected = (answer, "") if good else ("", answer)
    else:
        c = _answer_turns(rec.get(fields["chosen"]) if not _missing(rec.get(fields["chosen"])) else "",
                          fields["chosen"], where)
        r = _answer_turns(rec.get(fields["rejected"]) if not _missing(rec.get(fields["rejected"])) else "",
                          fields["rejected"], where)
        if (isinstance(c, list) and isinstance(r, list)
            and not (fields["prompt"] and not _missing(rec.get(fields["prompt"])))):
            prompt, chosen, rejected = _split_shared(c, r, where)
        else:
            if not fields["prompt"]:
                raise DataError(f"{where}: no prompt field, and the answers are plain text; add a 'prompt' field.")
            prompt = _prompt_messages(rec.get(fields["prompt"]), fields["prompt"], where)
            chosen = c[-1]["content"] if isinstance(c, list) else c
            rejected = r[-1]["content"] if isinstance(r, list) else r
        chosen = _answer_text(chosen, fields["chosen"], where)
        rejected = _answer_text(rejected, fields["rejected"], where)
    text = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), prompt[-1]["content"])
    return {"text": text, "prompt": json.dumps(prompt, ensure_ascii=False), "chosen": chosen, "rejected": rejected}


def to_frame(records: list[tuple[str, dict]], fields: dict, p: Path) -> pd.DataFrame:
    rows = [to_row(rec, fields, _where(p, pos)) for pos, rec in records]
    df = pd.DataFrame(rows, columns=["text", "prompt", "chosen", "rejected"])
    same = df[(df["chosen"] != "")
              & (df["chosen"].str.split().str.join(" ") == df["rejected"].str.split().str.join(" "))]
    if len(same):
        first = records[int(same.index[0])][0]
        raise DataError(f"{p.name}: {len(same)} record(s) have the same chosen and rejected answer (first: {first}), "
                        "which teaches nothing; fix the rejected answer or remove the record.")
    return df


def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check, normalise to prompt/chosen/rejected, de-duplicate and split."""
    def frame_of(records, path):
        return to_frame(records, detect_fields(records, path.name, cfg.text_column, cfg.label_column), path)

    p, records, frames, source, dropped = record_splits(cfg, frame_of, ["prompt", "chosen", "rejected"],
                                                        "prompt, chosen and rejected records")
    fields = detect_fields(records, p.name, cfg.text_column, cfg.label_column)
    train_prompts = set(frames["train"]["prompt"].str.casefold())
    shared = {f"train-{s}": int(frames[s]["prompt"].str.casefold().isin(train_prompts).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=str(fields["prompt"] or fields["chosen"]),
        label_column=str(fields["chosen"] or fields["completion"]),
        columns=sorted({str(k) for _, r in records[:1000] for k in r}), labels=[],
        rows={k: len(v) for k, v in frames.items()}, label_counts={k: pair_counts(v) for k, v in frames.items()},
        dropped_duplicates=dropped, shared_between_splits=shared, split_source=source)
    describe_lengths(report, frames["train"]["prompt"] + frames["train"]["chosen"])
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = _warnings(report, max_length)
    return PreparedData(splits=frames, labels=[], report=report)


def pair_counts(df: pd.DataFrame) -> dict[str, int]:
    """Records with both answers, and unpaired ones with only a good or only a bad answer."""
    chosen, rejected = df["chosen"] != "", df["rejected"] != ""
    return {"pairs": int((chosen & rejected).sum()), "good only": int((chosen & ~rejected).sum()),
            "bad only": int((~chosen & rejected).sum())}


def _warnings(r: DataReport, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 20:
        w.append(f"Only {r.rows['train']} training records: the model will learn little; a few hundred pairs is "
                 "a good start.")
    if r.dropped_duplicates:
        w.append(f"{r.dropped_duplicates} duplicate record(s) were dropped.")
    unpaired = r.label_counts["train"]["good only"] + r.label_counts["train"]["bad only"]
    if unpaired:
        w.append(f"{unpaired} training record(s) have one answer only: KTO learns from them; DPO and ORPO need pairs.")
    w += overlap_warnings(r, "prompt") + long_text_warnings(r, "training record")
    return w + truncation_warnings(r, max_length, "prompt-and-answer sequences",
                                   " and will be truncated; raise max_length to keep whole answers")


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per record as training sees them: the formatted prompt and each answer (with its end of turn)."""
    tokenizer = ensure_chat_template(tokenizer)
    count = lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]) if s else 0  # noqa: E731
    out: dict[str, list[int]] = {Text("prompt", "提示"): [], Text("chosen", "更优回答"): [],
                                 Text("rejected", "较差回答"): []}
    for _, r in df.head(sample).iterrows():
        prompt = render(tokenizer, json.loads(r["prompt"]), add_generation_prompt=True)
        out["prompt"].append(count(prompt))
        out["chosen"].append(count(r["chosen"]))
        out["rejected"].append(count(r["rejected"]))
    return out


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of the prompt with its longer answer: the longest sequence training builds from a record."""
    s = length_series(df, tokenizer, sample)
    return [p + max(c, r) for p, c, r in zip(s["prompt"], s["chosen"], s["rejected"])]


def bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    return (Text("records", "记录"), Text("records", "记录"),
            {split: pair_counts(df) for split, df in prepared.splits.items()})


# ============================================================ tokenising ==
def preference_rows(df: pd.DataFrame, unpaired: bool) -> list[dict[str, Any]]:
    """trl's conversational rows: prompt/chosen/rejected, or (unpaired, for KTO) prompt/completion/label with a
    pair giving one good and one bad row."""
    out = []
    for _, r in df.iterrows():
        prompt = json.loads(r["prompt"])
        if unpaired:
            out += [{"prompt": prompt, "completion": [{"role": "assistant", "content": r[k]}], "label": k == "chosen"}
                    for k in ("chosen", "rejected") if r[k]]
        else:
            out.append({"prompt": prompt, "chosen": [{"role": "assistant", "content": r["chosen"]}],
                        "rejected": [{"role": "assistant", "content": r["rejected"]}]})
    return out


def with_room_for_answers(df: pd.DataFrame, split: str, tokenizer, max_length: int) -> pd.DataFrame:
    """The records whose formatted prompt leaves at least one token of max_length for the answer (trl would drop
    the others silently, and a split left empty fails deep inside the trainer)."""
    tokenizer = ensure_chat_template(tokenizer)
    lengths = [len(tokenizer(render(tokenizer, json.loads(p), add_generation_prompt=True), add_special_tokens=False)
                   ["input_ids"]) for p in df["prompt"]]
    keep = [n < max_length for n in lengths]
    if not any(keep):
        raise DataError(f"Every {split} record's prompt is at least max_length={max_length} tokens long (the shortest: "
                        f"{min(lengths)}), so no answer token is left; raise training.max_length or shorten "
                        "the prompts.")
    if not all(keep):
        print(f"[studio] {split}: {keep.count(False)} of {len(keep)} records have prompts of max_length={max_length} "
              "tokens or more and were left out (no room for the answer)", flush=True)
    return df[keep].reset_index(drop=True)


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """trl's trainers tokenise themselves (chat template, truncation to max_length): the rows stay text here."""
    import datasets

    training = cfg.training
    unpaired = cfg.task_args.preference_loss not in PAIRED_LOSSES
    check_pairs(cfg.task_args.preference_loss, splits)
    splits = {name: with_room_for_answers(df, name, tokenizer, training.max_length) for name, df in splits.items()}
    out = {name: datasets.Dataset.from_list(preference_rows(df, unpaired)) for name, df in splits.items()}
    if unpaired:  # KTO reads in order (see trainer_parts): shuffled once here, seeded, so a pair's rows part
        out["train"] = out["train"].shuffle(seed=training.seed)
    return out


def check_pairs(loss: str, splits: dict[str, pd.DataFrame]) -> None:
    if loss in PAIRED_LOSSES:
        lone = int(sum(((df["chosen"] == "") | (df["rejected"] == "")).sum() for df in splits.values()))
        if lone:
            raise DataError(f"{lone} record(s) have one answer only; {loss.upper()} learns from pairs, so give them "
                            "both answers or set task_args.preference_loss to kto, which also learns from "
                            "single answers.")


def check_run(cfg, prepared) -> None:
    """DPO and ORPO need both answers of every record: said before a run exists."""
    check_pairs(cfg.task_args.preference_loss, prepared.splits)


def collator(tokenizer, model=None):
    """None: each trl trainer pads its own way (two sequences per pair for DPO and ORPO)."""
    return None


# ============================================================== training ==
def rename_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """trl's rewards/... as reward_..., and a margin where the trainer logs none (KTO logs each side only)."""
    for prefix in {k.split("rewards/")[0] for k in metrics if "rewards/" in k}:
        for old, new in RENAMED.items():
            if prefix + old in metrics:
                metrics[prefix + new] = metrics.pop(prefix + old)
        chosen, rejected = metrics.get(prefix + "reward_chosen"), metrics.get(prefix + "reward_rejected")
        if prefix + "reward_margin" not in metrics and chosen is not None and rejected is not None:
            metrics[prefix + "reward_margin"] = chosen - rejected
    return metrics


def _mean(values) -> float:
    return float(np.mean([float(v) for v in values]))


def trainer_classes(loss: str) -> tuple[Any, Any]:
    """(Trainer, its arguments class) of a preference loss, the Trainer logging under the studio's names."""
    if loss == "dpo":
        from trl import DPOConfig as Args
        from trl import DPOTrainer as Base
    elif loss == "orpo":
        from trl.experimental.orpo import ORPOConfig as Args
        from trl.experimental.orpo import ORPOTrainer as Base
    else:
        from trl import KTOConfig as Args
        from trl import KTOTrainer as Base

    class PreferenceTrainer(Base):
        """trl keeps what it measures per batch and adds the averages only when it logs: the averages are taken
        here, under the studio's names, and also handed to the evaluation's result, where the Trainer looks for
        the metric that picks the best checkpoint."""

        def _stored(self, mode: str, take: bool) -> dict[str, float]:
            store = getattr(self, "_metrics", None)
            prefix = "eval_" if mode == "eval" else ""
            if not isinstance(store, dict) or mode not in store:  # ORPO: its keys carry their prefix already
                store, prefix = getattr(self, "_stored_metrics", {}), ""
            kept = store.get(mode) if hasattr(store, "get") else None
            got = {prefix + k: _mean(v) for k, v in (kept or {}).items() if len(v)}
            if take and kept:
                kept.clear()
            return rename_metrics(got)

        def log(self, logs, *args, **kwargs):
            mode = "train" if "loss" in logs else "eval"
            return super().log(rename_metrics({**logs, **self._stored(mode, take=True)}), *args, **kwargs)

        def evaluation_loop(self, *args, **kwargs):
            out = super().evaluation_loop(*args, **kwargs)
            out.metrics.update(self._stored("eval", take=False))
            return out

    return PreferenceTrainer, Args


def trainer_parts(cfg, tokenizer, labels, splits):
    t, own = cfg.training, cfg.task_args
    trainer_cls, args_cls = trainer_classes(own.preference_loss)
    # trl's rows hold no input_ids to group by length (it tokenises each answer apart); KTO estimates its KL term
    # from each row's neighbours in a fixed-order batch, so it reads the (shuffled) rows in order.
    order = "sequential" if own.preference_loss == "kto" else "random"
    args: dict[str, Any] = {"beta": own.beta, "max_length": t.max_length, "train_sampling_strategy": order,
                            "per_device_eval_batch_size": t.batch_size}  # as SFT: logits are the peak
    if own.preference_loss == "dpo":
        args["loss_type"] = [own.dpo_loss_type]
    return TrainerParts(trainer_cls=trainer_cls, args_cls=args_cls, args=args)


# ================================================================ report ==
def answer_logps(model, tokenizer, prompts: list[list[dict]], answers: list[str], max_length: int,
                 batch_size: int = 8) -> list[float]:
    """Mean log-probability per token of each answer after its prompt (chat template, end of turn included)."""
    import torch

    tokenizer = ensure_chat_template(tokenizer)
    device = next(model.parameters()).device
    seqs = []
    for prompt, answer in zip(prompts, answers):
        head = render(tokenizer, prompt, add_generation_prompt=True)
        full = render(tokenizer, [*prompt, {"role": "assistant", "content": answer}])
        p_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        a_ids = tokenizer(full[len(head):] if full.startswith(head) else answer, add_special_tokens=False)["input_ids"]
        ids = (p_ids + a_ids)[-max_length:]
        seqs.append((ids, min(len(a_ids), len(ids) - 1)))
    out: list[float] = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(seqs), batch_size):
            chunk = seqs[i:i + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.tensor([s + [tokenizer.pad_token_id] * (width - len(s)) for s, _ in chunk], device=device)
            mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s, _ in chunk], device=device)
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            token_logp = logp.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            for row, (s, n) in enumerate(chunk):
                out.append(float(token_logp[row, len(s) - 1 - n:len(s) - 1].mean()) if n > 0 else float("nan"))
    return out


def preference_scores(chosen: list[float], rejected: list[float]) -> dict[str, float]:
    """Pairs: how often the chosen answer scores above the rejected one. Unpaired rows (either side NaN) count as
    every good answer against every bad one (the ROC AUC), so KTO data has the same figure."""
    c, r = np.asarray(chosen, float), np.asarray(rejected, float)
    both = ~np.isnan(c) & ~np.isnan(r)
    if both.any():
        return {"preference_accuracy": float(np.mean(c[both] > r[both])),
                "logp_margin": float(np.mean(c[both] - r[both]))}
    good, bad = c[~np.isnan(c)], r[~np.isnan(r)]
    if not len(good) or not len(bad):
        return {"preference_accuracy": float("nan"), "logp_margin": float("nan")}
    wins = (good[:, None] > bad[None, :]).mean()
    return {"preference_accuracy": float(wins), "logp_margin": float(good.mean() - bad.mean())}


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Preference accuracy on held-out records (mean token log-probability, chosen against rejected), and greedy
    answers to the first TEST_GENERATIONS prompts beside both answers."""
    model, max_length = trainer.model, cfg.training.max_length if cfg is not None else 512
    prompts = [json.loads(p) for p in test_df["prompt"]]

    def scored(col: str) -> list[float]:
        have = [i for i, a in enumerate(test_df[col]) if a]
        got = answer_logps(model, tokenizer, [prompts[i] for i in have], [test_df[col][i] for i in have], max_length)
        out = [float("nan")] * len(test_df)
        for i, v in zip(have, got):
            out[i] = v
        return out

    chosen, rejected = scored("chosen"), scored("rejected")
    metrics = preference_scores(chosen, rejected)
    max_new = cfg.task_args.max_new_tokens if cfg is not None else 64
    shown = test_df.head(TEST_GENERATIONS)
    outputs = generate(model, ensure_chat_template(tokenizer), prompts[:len(shown)], max_new)
    report = {"task": "preference", "n": int(len(test_df)), "generated": len(shown), "metrics": metrics, "labels": [],
              "max_new_tokens": max_new, "counts": pair_counts(test_df),
              "metric_notes": {"preference_accuracy": "share of held-out pairs whose chosen answer the model finds "
                                                      "more likely (mean log-probability per token) than the "
                                                      "rejected one",
                               "logp_margin": "mean of chosen minus rejected log-probability per token"}}
    outputs += [None] * (len(test_df) - len(outputs))  # generated for the first few only (the slow part)
    rows = [{"text": r["text"], "chosen": r["chosen"], "rejected": r["rejected"], "output": o,
             "chosen_logp": _finite(c), "rejected_logp": _finite(j),
             "correct": bool(c > j) if not (math.isnan(c) or math.isnan(j)) else None}
            for (_, r), o, c, j in zip(test_df.iterrows(), outputs, chosen, rejected)]
    return report, rows


def _finite(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 4)


PREFERENCE_LOSSES = ("dpo", "orpo", "kto")
DPO_LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")


@dataclass
class Settings:
    """The settings preference tuning alone reads (cfg.task_args)."""

    preference_loss: str = setting("dpo", "dpo (Direct Preference Optimization: pairs, against the base as reference, "
                                   "which with adapters is the base with the adapter off), orpo (pairs, no reference "
                                   "model: also learns the chosen answers, so it can start from a base that was never "
                                   "instruction-tuned) or kto (also learns from unpaired good or bad answers).",
                                   choices=PREFERENCE_LOSSES, label=Text("Preference algorithm", "偏好优化算法"))
    beta: float = setting(0.1, "How far the tuned model may move from the reference (DPO, KTO: higher stays closer) "
                          "or the weight of the preference term against the answers' likelihood (ORPO's lambda).",
                          min=0.001, max=10.0, label=Text("Beta", "Beta"))
    dpo_loss_type: str = setting("sigmoid", "DPO only: sigmoid (the DPO paper), ipo (a squared loss that resists "
                                 "overfitting small sets), hinge (SLiC) or robust (tolerates some flipped pairs).",
                                 choices=DPO_LOSS_TYPES, label=Text("DPO loss", "DPO 损失类型"))
    max_new_tokens: int = setting(64, "Most tokens generated per answer in the test report's side-by-side rows (and "
                                  "by default in the playground).", min=1, max=4096,
                                  label=Text("Max new tokens", "最多生成词元数"))


class PreferenceBase:
    """training.base_scores.UntrainedBase: the base model scores the same held-out pairs."""

    def base_note(self, cfg) -> Text:
        return Text("the base model (adapters off) scoring the same held-out pairs, before any training",
                    "基础模型（不加适配器）对同样的留出偏好对打分，未经任何训练")


class Card(ChatCard):
    """export.ModelCard."""

    model_kind = "preference-tuned language model"
    metrics_note = ("Preference accuracy is the share of held-out pairs whose chosen answer the model finds more "
                    "likely (mean log-probability per token) than the rejected one; the base model's figure is "
                    "beside it.")


TASK = Task(
    name="preference",
    warm_imports=("trl.trainer.dpo_trainer", "trl.trainer.kto_trainer", "trl.experimental.orpo"),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Preference tuning of a chat model (DPO, ORPO, KTO)",
                               "对话模型偏好微调（DPO、ORPO、KTO）"),
                    data_hint=Text("JSON/JSONL with prompt, chosen and rejected (text or message lists; Anthropic HH "
                                   "transcripts), or prompt, completion and a true/false label (KTO)",
                                   "包含 prompt、chosen、rejected 的 JSON/JSONL（文本或消息列表；Anthropic HH 对话），"
                                   "或 prompt、completion 与真/假 label（KTO）"),
                    inputs=(Text("Prompt field", "提示字段"),), answer=Text("Chosen-answer field", "更优回答字段"),
                    answer_info=Text("The answer people preferred; the rejected one is read from a field named "
                                     "rejected.", "人们更偏好的回答；较差的回答从名为 rejected 的字段读取。"),
                    input_noun=Text("prompt", "提示"), answer_noun=Text("answer", "回答")),
    data=DataFacts(samples=("preference_sample.jsonl",), file_types=(".json", ".jsonl", ".parquet", ".csv", ".tsv"),
                   counts_chart=Text("Records: pairs and single answers", "记录：成对与单个回答"),
                   lengths_chart=Text("Tokens per prompt and answer", "提示与回答的词元数"),
                   length_noun=Text("record", "记录")),
    model=ModelFacts(peft_task_type="CAUSAL_LM", auto_class="AutoModelForCausalLM",
                     default_model="HuggingFaceTB/SmolLM2-135M-Instruct", catalog_models=("smollm2",),
                     methods=("lora", "qlora", "dora", "full", "freeze", "ia3", "adalora"),
                     learning_rates={"lora": 5e-5, "dora": 5e-5, "adalora": 5e-5, "ia3": 5e-4, "full": 5e-7,
                                     "freeze": 5e-7},
                     sequences_per_row=2,  # chosen and rejected; DPO's reference pass keeps no activations
                     script_requirements=("jinja2", "trl")),
    metrics=MetricFacts(best=("loss", "reward_accuracy", "reward_margin"), test=("preference_accuracy", "logp_margin"),
                        plot=("reward_accuracy", "reward_margin", "reward_chosen", "reward_rejected"),
                        logged=("reward_chosen", "reward_rejected")),
    predictions=PredictionRows(columns=("text", "chosen", "rejected", "output", "chosen_logp", "rejected_logp",
                                        "correct"), correct="correct"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict, check_run=check_run,
    count_tokens=count_tokens, length_series=length_series, count_bars=bars,
    capabilities=(PreferenceBase(), ChatPlayground(), Card()),
)
