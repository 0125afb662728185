"""Instruction tuning of causal LMs (SFT): chat-formatted data, response-only loss, generation.

Every record, Alpaca style (instruction, optional input, output) or chat style (a list of
{role, content} messages), becomes one conversation. The model's own chat template turns it into
text (a plain "### Instruction / ### Response" template stands in when the tokenizer has none), and
only the assistant's tokens carry labels, so the loss measures the answers, not the prompts.

Splits are DataFrames with three columns: text (the last user turn: the prompt as a person reads
it), messages (the conversation as JSON) and reference (the last assistant answer).
"""

from __future__ import annotations

import json
import math
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from studio.base import runfolder
from studio.base.policy import trust_remote_code
from studio.base.process_rank import shards_model
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
    split_rows,
    truncation_warnings,
)
from studio.data.records import field_names, read_records
from studio.tasks.base import TEXT, DataFacts, MetricFacts, ModelFacts, PredictionRows, Task, TaskTexts, TrainerParts
from studio.tasks.loading import padded_tokenizer

IGNORE = -100
TEST_GENERATIONS = 20          # test prompts answered for the report (generation is the slow part)
FALLBACK_TEMPLATE = (          # for bases without a chat template (plain causal LMs)
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}### Response:\n{% endif %}"
)

CHAT_FIELDS = ("messages", "conversations", "conversation", "chat")
INSTRUCTION_FIELDS = ("instruction", "prompt", "question", "query")
INPUT_FIELDS = ("input", "context")
OUTPUT_FIELDS = ("output", "response", "answer", "completion")
ROLES = {"system": "system", "user": "user", "assistant": "assistant",
         "human": "user", "gpt": "assistant"}   # ShareGPT's from/value names
# A whole conversation in one text field: "### Human: ... ### Assistant: ..." (OpenAssistant Guanaco) or
# "\n\nHuman: ...\n\nAssistant: ..." (Anthropic HH).
TRANSCRIPT_TURN = re.compile(r"(?:###[ \t]*|^|\n\n)(Human|Assistant)[ \t]*:")


def card_usage(is_adapter: bool, labels: list[str] | None = None) -> list[str]:
    """Python lines of the model card's usage example (PATH_OR_REPO stands for where the export lives)."""
    load = (["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer", "",
             'model = AutoPeftModelForCausalLM.from_pretrained("PATH_OR_REPO")']
            if is_adapter else
            ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             'model = AutoModelForCausalLM.from_pretrained("PATH_OR_REPO")'])
    return [*load, 'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")',
            'messages = [{"role": "user", "content": "Give me three tips for a tidy desk."}]',
            "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", "
            "return_dict=True)",
            "out = model.generate(**inputs, max_new_tokens=64)",
            'print(tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))']


def format_prediction(text: str, pred: dict[str, Any]) -> str:
    """`studio predict` prints the answer itself."""
    return pred["output"]


# ================================================================== data ==
def _where(p: Path, pos: str) -> str:
    return f"{p.name} {pos}"


def detect_fields(records: list[tuple[str, dict]], name: str, text_column: str | None = None,
                  label_column: str | None = None) -> dict[str, str | None]:
    """Which fields hold the chat, or the instruction, input and output (given names win over detection)."""
    keys = field_names(records, name, (("instruction or messages", text_column), ("output", label_column)))
    # Given names match the file's fields whatever their case.
    text_column = keys[text_column.lower()] if text_column else None
    label_column = keys[label_column.lower()] if label_column else None
    pick = lambda names: next((keys[n] for n in names if n in keys), None)  # noqa: E731
    named_chat = text_column and (text_column.lower() in CHAT_FIELDS or (
        label_column in (None, text_column) and _transcript_field(records, keys, text_column)))
    chat = text_column if named_chat else pick(CHAT_FIELDS)
    # Naming the chat field (as the Data tab does once it detected one) keeps the Alpaca fields of a mixed file.
    fields = {"chat": chat,
              "instruction": text_column if text_column and text_column != chat else pick(INSTRUCTION_FIELDS),
              "input": pick(INPUT_FIELDS), "output": label_column if label_column and label_column != chat
              else pick(OUTPUT_FIELDS), "system": pick(("system",))}
    if fields["chat"] is None and (fields["instruction"] is None or fields["output"] is None):
        transcript = _transcript_field(records, keys, text_column)
        if transcript is not None:
            return {**fields, "chat": transcript}
        raise DataError(f"{name}: found neither chat messages (a 'messages' list of role/content turns) nor "
                        f"instruction and output fields among {sorted(map(str, keys.values()))}; name the fields "
                        "instruction, input and output, or messages.")
    return fields


def transcript_turns(text: str) -> list[dict[str, str]] | None:
    """The turns of a conversation written out in one text (see TRANSCRIPT_TURN), or None if it is not one."""
    parts = TRANSCRIPT_TURN.split(text)
    if len(parts) < 5 or parts[0].strip():  # at least one question and one answer, nothing before the first
        return None
    return [{"role": parts[i].lower(), "content": parts[i + 1].strip()} for i in range(1, len(parts) - 1, 2)]


def _transcript_field(records: list[tuple[str, dict]], keys: dict[str, str], chosen: str | None) -> str | None:
    """The text field whose values are Human/Assistant transcripts (most of the first 50 records), if any."""
    names = [chosen] if chosen else [keys[k] for k in ("text", *CHAT_FIELDS) if k in keys]
    for name in names:
        values = [rec.get(name) for _, rec in records[:50] if isinstance(rec.get(name), str)]
        if values and sum(transcript_turns(v) is not None for v in values) >= 0.8 * len(values):
            return name
    return None


def _text(value: Any, field: str, where: str, required: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = ""
    if not isinstance(value, str):
        raise DataError(f"{where}: {field!r} holds {type(value).__name__} values, not text; give it a string.")
    value = value.strip()
    if required and not value:
        what = "answer" if field in OUTPUT_FIELDS else "text"
        raise DataError(f"{where}: {field!r} is empty; give every record its {what}, or remove the record.")
    return value


def chat_messages(turns: Any, where: str, field: str = "messages") -> list[dict[str, str]]:
    """A chat field as checked [{role, content}] messages (ShareGPT's from/value are read too)."""
    if isinstance(turns, np.ndarray):  # Parquet hands lists back as arrays
        turns = turns.tolist()
    if isinstance(turns, str):
        try:
            turns = json.loads(turns)
        except json.JSONDecodeError:
            turns = transcript_turns(turns) or turns
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: {field!r} must be a non-empty list of turns like "
                        '{"role": "user", "content": "..."}.')
    if not all(isinstance(m, dict) for m in turns):
        raise DataError(f"{where}: every turn in {field!r} must be an object like {{\"role\": \"user\", "
                        f"\"content\": \"...\"}}.")
    raw_roles = [m.get("role", m.get("from")) for m in turns]
    unknown = sorted({str(r) for r in raw_roles if not isinstance(r, str) or r.strip().lower() not in ROLES})
    if unknown:
        raise DataError(f"{where}: chat messages with unknown roles ({', '.join(map(repr, unknown[:5]))}); "
                        "use system, user or assistant (ShareGPT's human and gpt work too).")
    out = []
    for i, (m, r) in enumerate(zip(turns, raw_roles), start=1):
        content = m.get("content", m.get("value"))
        if not isinstance(content, str) or not content.strip():
            kind = "no text" if not isinstance(content, str) or not content else "only spaces"
            raise DataError(f"{where}: turn {i} ({r}) of {field!r} has {kind}; give every turn a content string, "
                            "or remove the record.")
        out.append({"role": ROLES[r.strip().lower()], "content": content.strip()})
    if not any(m["role"] == "user" for m in out):
        raise DataError(f"{where}: the conversation has no user turn; start it with what the user asks.")
    if out[-1]["role"] != "assistant":
        raise DataError(f"{where}: the conversation ends with a {out[-1]['role']} turn, not an assistant answer; "
                        "end every conversation with the assistant's reply, or drop the unanswered last turn.")
    return out


def alpaca_messages(rec: dict, fields: dict, where: str) -> list[dict[str, str]]:
    instruction = _text(rec.get(fields["instruction"]), fields["instruction"], where)
    extra = _text(rec.get(fields["input"]), fields["input"], where, required=False) if fields["input"] else ""
    if fields["output"] not in rec:
        raise DataError(f"{where}: no {fields['output']!r} field; give every instruction its answer, or "
                        "remove the record.")
    output = _text(rec.get(fields["output"]), fields["output"], where)
    system = _text(rec.get(fields["system"]), "system", where, required=False) if fields["system"] else ""
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": f"{instruction}\n\n{extra}" if extra else instruction},
                   {"role": "assistant", "content": output}]


def to_frame(records: list[tuple[str, dict]], fields: dict, p: Path) -> pd.DataFrame:
    """One row per record: text (the last user turn), messages (JSON), reference (the last answer)."""
    rows = []
    for pos, rec in records:
        where = _where(p, pos)
        chat = rec.get(fields["chat"]) if fields["chat"] else None
        has_chat = chat is not None and not (isinstance(chat, float) and math.isnan(chat))
        if not has_chat and fields["instruction"] is None:
            raise DataError(f"{where}: no {fields['chat']!r} conversation; give every record its list of turns, "
                            "or remove the record.")
        msgs = chat_messages(chat, where, fields["chat"]) if has_chat else alpaca_messages(rec, fields, where)
        prompt = next(m["content"] for m in reversed(msgs) if m["role"] == "user")
        rows.append({"text": prompt, "messages": json.dumps(msgs, ensure_ascii=False),
                     "reference": msgs[-1]["content"]})
    return pd.DataFrame(rows, columns=["text", "messages", "reference"])


def record_splits(cfg, frame_of, key: list[str] | str, what: str) -> tuple[Path, list, dict, dict, int]:
    """The records of a file of records (SFT, preference) as splits: train from cfg.train, validation and test
    as the split policy says (data.split_rows), each de-duplicated on `key`.

    frame_of(records, path) -> the split's DataFrame (fields detected per file). Returns (train path, its records,
    frames, where each split came from, duplicates dropped)."""
    p, records = read_records(cfg.train, "Training")
    if not records:
        raise DataError(f"{p.name} has no records; add {what}.")
    frames, source = {"train": frame_of(records, p)}, {"train": p.name}
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            sp, srecs = read_records(path, split.capitalize())
            if not srecs:
                raise DataError(f"{sp.name} has no records; add records or leave the {split} file out.")
            frames[split] = frame_of(srecs, sp)
            source[split] = sp.name
    dropped = 0
    for k, f in frames.items():
        before = len(f)
        frames[k] = f.drop_duplicates(key).reset_index(drop=True)
        dropped += before - len(frames[k])
    frames, source = split_rows(frames, source, cfg, p.name, unit="record")
    return p, records, frames, source, dropped


def prepare_data(cfg, tokenizer=None, max_length=None):
    """Read, check, normalise to conversations, de-duplicate and split."""
    def frame_of(records, path):
        return to_frame(records, detect_fields(records, path.name, cfg.text_column, cfg.label_column), path)

    p, records, frames, source, dropped = record_splits(cfg, frame_of, "messages",
                                                        "instruction/output records or chat conversations")
    fields = detect_fields(records, p.name, cfg.text_column, cfg.label_column)
    train_prompts = set(_prompt_keys(frames["train"]))
    shared = {f"train-{s}": int(_prompt_keys(frames[s]).isin(train_prompts).sum())
              for s in ("validation", "test") if s in frames}
    report = DataReport(
        text_column=str(fields["chat"] or fields["instruction"]), label_column=str(fields["chat"] or fields["output"]),
        columns=sorted({str(k) for _, r in records[:1000] for k in r}), labels=[],
        rows={k: len(v) for k, v in frames.items()},
        # SFT has no classes: per split, the records and the assistant turns that are trained on.
        label_counts={k: {"records": len(v), "assistant_turns": _assistant_turns(v)} for k, v in frames.items()},
        dropped_duplicates=dropped, shared_between_splits=shared, split_source=source,
    )
    describe_lengths(report, frames["train"]["messages"])
    if tokenizer is not None:
        report.token_lengths = length_stats(count_tokens(frames["train"], tokenizer), max_length)
    report.warnings = _warnings(report, max_length)
    return PreparedData(splits=frames, labels=[], report=report)


def _prompt_keys(df: pd.DataFrame) -> pd.Series:
    """The whole conversation up to the answer, case-folded: a prompt repeated in another split is a leak."""
    return df["messages"].map(lambda m: json.dumps(json.loads(m)[:-1]).casefold())


def _assistant_turns(df: pd.DataFrame) -> int:
    return sum(m["role"] == "assistant" for c in df["messages"] for m in json.loads(c))


def _warnings(r, max_length: int | None) -> list[str]:
    w = []
    if r.rows["train"] < 20:
        w.append(f"Only {r.rows['train']} training records: the model will learn little; a few hundred is "
                 "a good start.")
    if r.dropped_duplicates:
        w.append(f"{r.dropped_duplicates} duplicate record(s) were dropped.")
    w += overlap_warnings(r, "prompt") + long_text_warnings(r, "training conversation")
    return w + truncation_warnings(r, max_length, "conversations",
                                   " and will be truncated; raise max_length to keep whole answers")


def count_tokens(df: pd.DataFrame, tokenizer, sample: int = 5000) -> list[int]:
    """Tokens of each whole formatted conversation (what training sees), over the first `sample` records."""
    tokenizer = ensure_chat_template(tokenizer)
    msgs = [json.loads(m) for m in df["messages"].head(sample)]
    return [len(tokenizer(render(tokenizer, m), add_special_tokens=False)["input_ids"]) for m in msgs]


def length_series(df: pd.DataFrame, tokenizer, sample: int = 5000) -> dict[str, list[int]]:
    """Tokens per conversation split as training sees it: prompt (every token without a label: system, user turns,
    the template's markup) and answer (the assistant turns the loss is on). Each pair adds up to count_tokens."""
    tokenizer = ensure_chat_template(tokenizer)
    prompts, answers = [], []
    for m in df["messages"].head(sample):
        pieces = [(len(tokenizer(text, add_special_tokens=False)["input_ids"]), answer)
                  for text, answer in segments(tokenizer, json.loads(m))]
        prompts.append(sum(n for n, answer in pieces if not answer))
        answers.append(sum(n for n, answer in pieces if answer))
    return {Text("prompt", "提示"): prompts, Text("answer", "回答"): answers}


def turn_bars(prepared) -> tuple[str, str, dict[str, dict[str, int]]]:
    """Conversations by their number of user turns, per split (a single question and answer is 1)."""
    out = {}
    for split, df in prepared.splits.items():
        turns = [sum(m["role"] == "user" for m in json.loads(c)) for c in df["messages"]]
        out[split] = {str(k): turns.count(k) for k in sorted(set(turns))}
    return Text("user turns per conversation", "每段对话的用户轮数"), Text("conversations", "对话"), out


# ====================================================== model, tokenizer ==
def ensure_chat_template(tokenizer):
    """Give a tokenizer without a chat template the plain instruction/response one (saved with the model)."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_TEMPLATE
    return tokenizer


def load_tokenizer(path, **kw):
    return ensure_chat_template(padded_tokenizer(path, **kw))


def load_model(path, labels=None, tokenizer=None, **kw):
    from transformers import AutoModelForCausalLM

    # Weights load from safetensors only: a pickle (pytorch_model.bin) can run code when unpickled.
    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    model = AutoModelForCausalLM.from_pretrained(str(path), **kw)
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


# ============================================================ tokenising ==
def render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def segments(tokenizer, messages: list[dict]) -> list[tuple[str, bool]]:
    """The formatted conversation cut into (text, is_answer) pieces.

    An answer's text is what the template adds for that assistant turn after the generation prompt
    (content, end-of-turn token and all), so the model learns to stop. Templates that do not render
    prefixes consistently (some rewrite earlier turns) fall back to training on the last answer only.
    """
    full = render(tokenizer, messages)
    cuts, pos = [], 0
    for i, m in enumerate(messages):
        if m["role"] != "assistant" or i == 0:
            continue
        before = render(tokenizer, messages[:i], add_generation_prompt=True)
        upto = render(tokenizer, messages[:i + 1])
        if not (upto.startswith(before) and full.startswith(upto)) or len(before) < pos:
            cuts = []
            break
        cuts.append((len(before), len(upto)))
        pos = len(upto)
    if not cuts:
        before = render(tokenizer, messages[:-1], add_generation_prompt=True)
        if not full.startswith(before):
            return [(before, False), (messages[-1]["content"] + (tokenizer.eos_token or ""), True)]
        cuts = [(len(before), len(full))]
    out, pos = [], 0
    for a, b in cuts:
        if a > pos:
            out.append((full[pos:a], False))
        out.append((full[a:b], True))
        pos = b
    if pos < len(full):
        out.append((full[pos:], False))
    return out


def encode(tokenizer, messages: list[dict], max_length: int) -> dict[str, Any]:
    """input_ids and labels (-100 outside answers), each piece tokenised on its own the way a prompt is at
    generation time. Too long: cut the end; if that leaves no answer token, keep the last max_length tokens."""
    ids: list[int] = []
    labels: list[int] = []
    for text, answer in segments(tokenizer, messages):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if answer else [IGNORE] * len(piece)
    truncated = len(ids) > max_length
    if truncated:
        head = labels[:max_length]
        if any(l != IGNORE for l in head):
            ids, labels = ids[:max_length], head
        else:
            ids, labels = ids[-max_length:], labels[-max_length:]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "length": len(ids),
            "truncated": truncated}


def tokenize(splits: dict[str, pd.DataFrame], tokenizer, labels, cfg):
    """Encode every conversation once (no padding: batches pad to their own longest)."""
    import datasets

    tokenizer = ensure_chat_template(tokenizer)
    training = cfg.training
    out = {}
    for name, df in splits.items():
        rows = [encode(tokenizer, json.loads(m), training.max_length) for m in df["messages"]]
        cut = sum(r.pop("truncated") for r in rows)
        if cut:
            print(f"[studio] {name}: {cut} of {len(rows)} conversations are longer than max_length="
                  f"{training.max_length} tokens and were truncated", flush=True)
        cols = {k: [r[k] for r in rows] for k in ("input_ids", "attention_mask", "labels", "length")}
        out[name] = datasets.Dataset.from_dict(cols)
    if getattr(cfg.task_args, "batching", "padded") == "packed":
        out["train"] = packed(out["train"], training.max_length)
    return out


def packed(ds, max_length: int):
    """Conversations packed into rows of at most max_length tokens by TRL's best-fit-decreasing packing (each keeps
    its own positions: seq_lengths, which the flattening collator turns into position ids)."""
    from trl import pack_dataset

    rows = pack_dataset(ds.select_columns(["input_ids", "labels"]), max_length, strategy="bfd")
    return rows.add_column("length", [len(ids) for ids in rows["input_ids"]])


class FlatCollator:
    """TRL's padding-free collator: a batch's conversations (or packed rows) end to end in one row with each one's
    position ids, which transformers' attention masks turn into one block per conversation (no attention across
    them, with SDPA, eager or flash-attention alike). The batch also says use_cache=False: with a KV cache (the
    default even in training) transformers skips that packed-sequence mask, and every conversation would attend
    to the ones before it."""

    def __init__(self, pad_token_id: int):
        from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

        self.flatten = DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=True)

    def __call__(self, features: list[dict]) -> dict:
        return {**self.flatten(features), "use_cache": False}


def flat_collator(tokenizer) -> FlatCollator:
    return FlatCollator(tokenizer.pad_token_id)


class PadCollator:
    """Pads input_ids with the pad token, attention_mask with 0 and labels with -100 (right side)."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, features: list[dict]) -> dict:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": IGNORE}
        return {k: torch.tensor([list(f[k]) + [v] * (width - len(f[k])) for f in features], dtype=torch.long)
                for k, v in fill.items()}


def collator(tokenizer, model=None):
    return PadCollator(tokenizer.pad_token_id)


# ============================================================== training ==
def add_perplexity(metrics: dict[str, float]) -> dict[str, float]:
    """<prefix>_perplexity = exp(<prefix>_loss) for every loss in an evaluation's metrics."""
    for k in [k for k in metrics if k.endswith("_loss")]:
        loss = metrics[k]
        if loss is not None and math.isfinite(loss):
            metrics[k[:-len("_loss")] + "_perplexity"] = math.exp(loss) if loss < 700 else float("inf")
    return metrics


@contextmanager
def without_regulariser(model):
    """AdaLoRA adds its orthogonality penalty to the loss in evaluation too; loss and perplexity must be the
    language model's own, so the penalty is off while evaluating."""
    configs = [c for c in (getattr(model, "peft_config", None) or {}).values() if hasattr(c, "orth_reg_weight")]
    saved = [c.orth_reg_weight for c in configs]
    for c in configs:
        c.orth_reg_weight = 0.0
    try:
        yield model
    finally:
        for c, w in zip(configs, saved):
            c.orth_reg_weight = w


def _trainer_cls():
    from transformers import Trainer

    class SFTTrainer(Trainer):
        """Adds perplexity to every evaluation before it is logged, checked for the best model and returned."""

        def evaluation_loop(self, *args, **kwargs):
            with without_regulariser(self.model):
                out = super().evaluation_loop(*args, **kwargs)
            add_perplexity(out.metrics)
            return out

    return SFTTrainer


def sample_rows(df: pd.DataFrame, n: int) -> list[dict[str, Any]]:
    """The first n validation conversations as fixed prompts: {prompt, messages (without the answer), reference}."""
    rows = []
    for _, r in df.head(n).iterrows():
        msgs = json.loads(r["messages"])
        rows.append({"prompt": r["text"], "messages": msgs[:-1], "reference": r["reference"]})
    return rows


def _sample_callback():
    from transformers import TrainerCallback

    class SampleGenerations(TrainerCallback):
        """Greedy answers to a few fixed validation prompts, before training and at every evaluation,
        appended to metrics.jsonl as {"kind": "samples", "step", "samples": [{prompt, output, reference}]}."""

        def __init__(self, run_dir: Path, tokenizer, rows: list[dict], max_new_tokens: int):
            self.writer = runfolder.MetricsWriter(run_dir)
            self.tokenizer, self.rows, self.max_new_tokens = tokenizer, rows, max_new_tokens

        def _write(self, model, step: int) -> None:
            if not self.rows or model is None:
                return
            was_training = model.training
            outputs = generate(model, self.tokenizer, [r["messages"] for r in self.rows], self.max_new_tokens)
            model.train(was_training)
            self.writer.append({"kind": "samples", "step": step, "samples": [
                {"prompt": r["prompt"], "output": o, "reference": r["reference"]} for r, o in zip(self.rows, outputs)]})

        def on_train_begin(self, args, state, control, model=None, **kw):
            if state.global_step == 0 and state.is_world_process_zero:  # a resumed run has its "before" already
                self._write(model, 0)

        def on_evaluate(self, args, state, control, model=None, **kw):
            if state.is_world_process_zero:
                self._write(model, state.global_step)

    return SampleGenerations


def trainer_parts(cfg, tokenizer, labels, splits):
    # Evaluation holds batch x length x vocabulary logits: batches bigger than training's (the studio's default
    # for other tasks) would make evaluation the run's memory peak, past what the memory check counted.
    flat = getattr(cfg.task_args, "batching", "padded") != "padded"
    return TrainerParts(trainer_cls=_trainer_cls(), args={"per_device_eval_batch_size": cfg.training.batch_size},
                        collator=flat_collator(tokenizer) if flat else None)


def run_callbacks(cfg, tokenizer, labels, splits, run_dir):
    """Answers to a few fixed validation prompts at every evaluation, into metrics.jsonl (the Train tab's table)."""
    n = cfg.task_args.sample_prompts
    if not n or "validation" not in splits:
        return []
    if shards_model(cfg.training):
        # Each rank holds a shard: generating needs all of them in step, token by token, which greedy answers of
        # different lengths break (the ranks would wait on each other for ever).
        print("[studio] sample generations off: the model is sharded over the GPUs (FSDP or DeepSpeed)", flush=True)
        return []
    return [_sample_callback()(Path(run_dir), ensure_chat_template(tokenizer), sample_rows(splits["validation"], n),
                               cfg.task_args.max_new_tokens)]


# ================================================================ report ==
def _normalise(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().strip(".!").strip().casefold()


def overlap_metrics(outputs: list[str], references: list[str]) -> dict[str, float]:
    """exact_match: share of answers equal to the reference (case, spacing and final period ignored);
    chrF: sacrebleu's character n-gram F-score (0-100) over all answers."""
    out = {"exact_match": float(np.mean([_normalise(o) == _normalise(r) for o, r in zip(outputs, references)]))
           if outputs else 0.0}
    try:
        import sacrebleu

        out["chrf"] = float(sacrebleu.corpus_chrf(outputs, [references]).score) if outputs else 0.0
    except ImportError:  # optional: the report keeps exact match
        pass
    return out


def test_report(trainer, test_ds, test_df: pd.DataFrame, labels, tokenizer=None, cfg=None):
    """Test loss and perplexity over the whole split; greedy answers to the first TEST_GENERATIONS prompts."""
    loop = trainer.evaluation_loop(trainer.get_test_dataloader(test_ds), description="test",
                                   prediction_loss_only=True, metric_key_prefix="test")
    loss = loop.metrics.get("test_loss")
    metrics = {"loss": loss, "perplexity": loop.metrics.get("test_perplexity")}
    rows = sample_rows(test_df, TEST_GENERATIONS)
    max_new = cfg.task_args.max_new_tokens if cfg is not None else 64
    outputs = generate(trainer.model, ensure_chat_template(tokenizer), [r["messages"] for r in rows], max_new)
    metrics.update(overlap_metrics(outputs, [r["reference"] for r in rows]))
    report = {"task": "sft", "n": int(len(test_df)), "generated": len(rows), "metrics": metrics, "labels": [],
              "max_new_tokens": max_new,
              "metric_notes": {"loss": "mean cross-entropy over answer tokens", "perplexity": "exp(loss)",
                               "exact_match": "share of generated answers equal to the reference",
                               "chrf": "character n-gram F-score (sacrebleu chrF, 0-100)"}}
    out_rows = [{"text": r["prompt"], "reference": r["reference"], "output": o,
                 "correct": _normalise(o) == _normalise(r["reference"])} for r, o in zip(rows, outputs)]
    return report, out_rows


# ============================================================ generation ==
def _gen_kwargs(model, tokenizer, max_new_tokens: int, temperature: float, top_p: float) -> dict[str, Any]:
    eos = model.generation_config.eos_token_id
    eos = list(eos) if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else [])
    for stop in [tokenizer.eos_token_id, *end_of_turn_ids(tokenizer)]:
        if stop is not None and stop not in eos:
            eos.append(stop)
    kw: dict[str, Any] = {"max_new_tokens": int(max_new_tokens), "pad_token_id": tokenizer.pad_token_id,
                          "eos_token_id": eos or None}
    if temperature and temperature > 0:
        kw.update(do_sample=True, temperature=float(temperature), top_p=float(top_p or 1.0), top_k=0)
    else:  # temperature 0: greedy, whatever sampling defaults the model ships with
        kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kw


TURN_PROBE = "\x1fstudio-turn-probe\x1f"  # content no template changes, to find what it writes after an answer


def end_of_turn_ids(tokenizer) -> list[int]:
    """The special token the chat template closes an assistant turn with (<|im_end|> for Qwen and SmolLM2,
    <|eot_id|> for Llama 3, <end_of_turn> for Gemma): generation stops there, where a base's eos alone
    (<|end_of_text|>) would let it ramble on into a next turn."""
    try:
        text = render(tokenizer, [{"role": "user", "content": "x"}, {"role": "assistant", "content": TURN_PROBE}])
    except Exception:  # noqa: BLE001 - a template that cannot render this probe closes turns some other way
        return []
    if TURN_PROBE not in text:
        return []
    after = text.split(TURN_PROBE, 1)[1]
    special = set(tokenizer.all_special_ids) | {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    ids = tokenizer(after, add_special_tokens=False)["input_ids"][:4]
    return [next(i for i in ids if i in special)] if any(i in special for i in ids) else []


def _prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    return tokenizer(render(tokenizer, messages, add_generation_prompt=True), add_special_tokens=False)["input_ids"]


def generate(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int = 64, temperature: float = 0.0,
             top_p: float = 1.0, batch_size: int = 8) -> list[str]:
    """The answer to each conversation (its next assistant turn), in batches of similar length, left-padded."""
    import torch

    tokenizer = ensure_chat_template(tokenizer)
    device = next(model.parameters()).device
    prompts = [_prompt_ids(tokenizer, c) for c in conversations]
    order = np.argsort([len(p) for p in prompts])
    answers: list[str] = [""] * len(prompts)
    kw = _gen_kwargs(model, tokenizer, max_new_tokens, temperature, top_p)
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            width = max(len(prompts[j]) for j in idx)
            ids = [[tokenizer.pad_token_id] * (width - len(prompts[j])) + prompts[j] for j in idx]
            mask = [[0] * (width - len(prompts[j])) + [1] * len(prompts[j]) for j in idx]
            out = model.generate(input_ids=torch.tensor(ids, device=device),
                                 attention_mask=torch.tensor(mask, device=device), **kw)
            for j, seq in zip(idx, out[:, width:]):
                answers[j] = tokenizer.decode(seq, skip_special_tokens=True).strip()
    return answers


def predict(model, tokenizer, inputs: list[str], max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
            batch_size: int = 8, **_) -> list[dict[str, Any]]:
    """The answer to each text, sent as one user message."""
    outs = generate(model, tokenizer, [[{"role": "user", "content": t}] for t in inputs], max_new_tokens, temperature,
                    top_p, batch_size)
    return [{"output": o} for o in outs]


def stream_chat(model, tokenizer, messages: list[dict], max_new_tokens: int = 64, temperature: float = 0.0,
                top_p: float = 1.0) -> Iterator[str]:
    """Yield the growing answer to a conversation as tokens arrive (generation runs in a thread).

    Closing the generator early (a client that went away) stops the generation at the next token.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    tokenizer = ensure_chat_template(tokenizer)
    device = next(model.parameters()).device
    ids = torch.tensor([_prompt_ids(tokenizer, messages)], device=device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    cancelled = threading.Event()
    errors: list[BaseException] = []

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kw):
            return cancelled.is_set()

    def run():
        try:
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                               stopping_criteria=StoppingCriteriaList([Cancelled()]),
                               **_gen_kwargs(model, tokenizer, max_new_tokens, temperature, top_p))
        except BaseException as e:  # surfaced in the caller's thread below
            errors.append(e)
            streamer.end()

    model.eval()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    text = ""
    try:
        for piece in streamer:
            if piece:
                text += piece
                yield text.lstrip()
    finally:
        cancelled.set()
        thread.join()
    if errors:
        raise errors[0]



def teacher_answers(train: pd.DataFrame, teacher_model, teacher_tokenizer, max_new_tokens: int) -> pd.DataFrame:
    """Sequence-level distillation: each conversation's last answer rewritten by the teacher (its greedy answer to
    the same turns before it); a row whose teacher answer comes back empty keeps its own."""
    convs = [json.loads(m) for m in train["messages"]]
    answers = generate(teacher_model, teacher_tokenizer, [c[:-1] for c in convs], max_new_tokens)
    out = train.copy()
    msgs, refs = [], []
    for conv, answer in zip(convs, answers):
        answer = answer.strip() or conv[-1]["content"]
        msgs.append(json.dumps(conv[:-1] + [{**conv[-1], "content": answer}], ensure_ascii=False))
        refs.append(answer)
    out["messages"], out["reference"] = msgs, refs
    return out


BATCHING = ("padded", "padding_free", "packed")


@dataclass
class Settings:
    """The settings instruction tuning alone reads (cfg.task_args)."""

    max_new_tokens: int = setting(64, "Most tokens generated per answer when evaluating and reporting (and by "
                                  "default in the playground).", min=1, max=4096,
                                  label=Text("Max new tokens", "最多生成词元数"))
    sample_prompts: int = setting(3, "Fixed validation prompts answered at each evaluation, so progress shows as "
                                  "text.", min=0, max=20, label=Text("Sample prompts", "示例提示数"))
    batching: str = setting("padded", "How conversations share a batch. padded: each padded to the batch's longest. "
                            "padding_free: the batch's conversations end to end in one row, each attending only to "
                            "itself, so no padding is computed (the same steps and losses, faster when lengths vary). "
                            "packed: conversations packed into rows of max_length tokens (TRL's best-fit packing): "
                            "fuller rows, fewer steps per epoch, a big GPU's best use.", choices=BATCHING,
                            label=Text("Batching", "批处理方式"))


class GenerativeBase:
    """training.base_scores.UntrainedBase: the base model answers the same test prompts."""

    def base_note(self, cfg) -> Text:
        return Text("the base model answering the same test prompts, before any training",
                    "基础模型回答同样的测试提示，未经任何训练")


class Playground:
    """serve.Playground and serve.Chat: a streamed chat, the base model's answer beside the tuned one."""

    panel = "chat"
    labels_files = False
    format_prediction = staticmethod(format_prediction)
    stream_chat = staticmethod(stream_chat)


class Card:
    """export.ModelCard."""

    pipeline_tag = "text-generation"
    model_kind = "instruction-tuned language model"
    metrics_note = ("Loss and perplexity (exp of the loss) count the answer tokens only. chrF (0-100) and exact "
                    "match (a share, 0-1) compare greedy answers to a sample of test prompts with their references.")
    onnx = False
    usage = staticmethod(card_usage)


class Teaching:
    """distill.SequenceLevel: a teacher's answers become the student's targets."""

    teacher_answers = staticmethod(teacher_answers)


TASK = Task(
    name="sft",
    warm_imports=("sacrebleu",),
    inputs=TEXT,
    texts=TaskTexts(title=Text("Instruction tuning of a chat model (SFT)", "对话模型指令微调（SFT）"),
                    data_hint=Text("JSON/JSONL with instruction, optional input and output, or chat messages "
                                   "(role/content lists)",
                                   "包含 instruction、可选 input 和 output 的 JSON/JSONL，"
                                   "或对话消息（role/content 列表）"),
                    inputs=(Text("Prompt field", "提示字段"),), answer=Text("Answer field", "回答字段"),
                    answer_info=Text("The answer the model learns to give.", "模型要学会给出的回答。"),
                    input_noun=Text("prompt", "提示"), answer_noun=Text("answer", "回答")),
    data=DataFacts(samples=("sft_sample.jsonl",), file_types=(".json", ".jsonl", ".parquet", ".csv", ".tsv"),
                   counts_chart=Text("Conversations by user turns", "按用户轮数统计的对话"),
                   lengths_chart=Text("Tokens per prompt and answer", "提示与回答的词元数"),
                   length_noun=Text("conversation", "对话")),
    model=ModelFacts(peft_task_type="CAUSAL_LM", auto_class="AutoModelForCausalLM",
                     default_model="HuggingFaceTB/SmolLM2-135M-Instruct", catalog_models=("smollm2",),
                     script_requirements=("jinja2",)),  # chat templates render with it; transformers does not need it
    metrics=MetricFacts(best=("loss", "perplexity"), test=("loss", "perplexity", "exact_match", "chrf"),
                        plot=("perplexity",)),
    predictions=PredictionRows(columns=("text", "reference", "output", "correct"), correct="correct"),
    settings=Settings,
    prepare_data=prepare_data, load_tokenizer=load_tokenizer, load_model=load_model, tokenize=tokenize,
    collator=collator, trainer_parts=trainer_parts, test_report=test_report, predict=predict,
    run_callbacks=run_callbacks, count_tokens=count_tokens, length_series=length_series, count_bars=turn_bars,
    capabilities=(GenerativeBase(), Playground(), Card(), Teaching()),
)
