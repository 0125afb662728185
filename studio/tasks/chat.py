"""What every chat task shares (instruction tuning, preference tuning, reinforcement learning): the
messages of a conversation read from the shapes the field publishes, a file of records as splits, the chat
template (a plain one for bases without), the causal LM and its tokenizer, and generation: batched answers,
streamed answers, where a turn ends.

A chat task's rooms import from here; no chat task imports another.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from studio.base import runfolder
from studio.data import DataError, split_rows
from studio.data.bad_records import BadRecords
from studio.data.records import read_records
from studio.tasks.loading import padded_tokenizer, pretrained_model

FALLBACK_TEMPLATE = (          # for bases without a chat template (plain causal LMs)
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n"
    "{% else %}### Response:\n{{ m['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}### Response:\n{% endif %}"
)
ROLES = {"system": "system", "user": "user", "assistant": "assistant",
         "human": "user", "gpt": "assistant"}   # ShareGPT's from/value names
# A whole conversation in one text field: "### Human: ... ### Assistant: ..." (OpenAssistant Guanaco) or
# "\n\nHuman: ...\n\nAssistant: ..." (Anthropic HH).
TRANSCRIPT_TURN = re.compile(r"(?:###[ \t]*|^|\n\n)(Human|Assistant)[ \t]*:")


# ============================================================== messages ==
def transcript_turns(text: str) -> list[dict[str, str]] | None:
    """The turns of a conversation written out in one text (see TRANSCRIPT_TURN), or None if it is not one."""
    parts = TRANSCRIPT_TURN.split(text)
    if len(parts) < 5 or parts[0].strip():  # at least one question and one answer, nothing before the first
        return None
    return [{"role": parts[i].lower(), "content": parts[i + 1].strip()} for i in range(1, len(parts) - 1, 2)]


def chat_messages(turns: Any, where: str, field: str = "messages", silent_answer: bool = False,
                  answered: bool = True) -> list[dict[str, str]]:
    """A chat field as checked [{role, content}] messages (ShareGPT's from/value are read too).

    silent_answer: the last turn, the assistant's answer, may be an empty text (a refusal by silence, which a
    preference set may prefer); every other turn needs text. answered=False: the conversation may also end with
    the user's turn (a prompt still to be answered)."""
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
        silent = (silent_answer and i == len(turns) and isinstance(content, str)
                  and ROLES[r.strip().lower()] == "assistant")
        if not silent and (not isinstance(content, str) or not content.strip()):
            kind = "no text" if not isinstance(content, str) or not content else "only spaces"
            raise DataError(f"{where}: turn {i} ({r}) of {field!r} has {kind}; give every turn a content string, "
                            "or remove the record.")
        out.append({"role": ROLES[r.strip().lower()], "content": content.strip()})
    if not any(m["role"] == "user" for m in out):
        raise DataError(f"{where}: the conversation has no user turn; start it with what the user asks.")
    if out[-1]["role"] != "assistant" and (answered or out[-1]["role"] != "user"):
        raise DataError(f"{where}: the conversation ends with a {out[-1]['role']} turn, not an assistant answer; "
                        "end every conversation with the assistant's reply, or drop the unanswered last turn.")
    return out


def readable_rows(records: list[tuple[str, dict]], p: Path, to_row, fields: dict, bad: BadRecords,
                  ) -> list[tuple[str, dict]]:
    """(place, row) of each record of file `p` that to_row(record, fields, where) can read ("train.jsonl line 12"
    is where); the others go to `bad`, which settles the file (refuses it, or counts what is left out)."""
    read = [(pos, bad.read(p.name, pos, to_row, rec, fields, f"{p.name} {pos}")) for pos, rec in records]
    read = [(pos, row) for pos, row in read if row is not None]
    bad.settle(p.name, len(read))
    return read


def record_splits(cfg, frame_of, key: list[str] | str, what: str, bad: BadRecords | None = None,
                  ) -> tuple[Path, list, dict, dict, int]:
    """The records of a file of records (SFT, preference) as splits: train from cfg.train, validation and test
    as the split policy says (data.split_rows), each de-duplicated on `key`.

    frame_of(records, path) -> the split's DataFrame (fields detected per file; it settles `bad` for the file).
    Returns (train path, its records, frames, where each split came from, duplicates dropped)."""
    p, records = read_records(cfg.train, "Training", bad)
    if not records:
        raise DataError(f"{p.name} has no records; add {what}.")
    frames, source = {"train": frame_of(records, p)}, {"train": p.name}
    for split in ("validation", "test"):
        path = getattr(cfg, split)
        if path:
            sp, srecs = read_records(path, split.capitalize(), bad)
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


# ========================================================= the template ==
def ensure_chat_template(tokenizer):
    """Give a tokenizer without a chat template the plain instruction/response one (saved with the model)."""
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = FALLBACK_TEMPLATE
    return tokenizer


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


# ================================================== model and tokenizer ==
def load_tokenizer(path, **kw):
    return ensure_chat_template(padded_tokenizer(path, **kw))


def load_model(path, labels=None, tokenizer=None, **kw):
    from transformers import AutoModelForCausalLM

    return pretrained_model(AutoModelForCausalLM, path, tokenizer, **kw)


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


def sample_callback(run_dir: Path, tokenizer, rows: list[dict], max_new_tokens: int):
    """A TrainerCallback writing greedy replies to a few fixed validation prompts (rows of {prompt: the text shown,
    messages: the conversation up to the reply, reference}) before training and at every evaluation: the Train
    tab's first-and-latest table (studio.views.run_views.sample_generations)."""
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

    return SampleGenerations(run_dir, tokenizer, rows, max_new_tokens)


def predict(model, tokenizer, inputs: list[str], max_new_tokens: int = 64, temperature: float = 0.0, top_p: float = 1.0,
            batch_size: int = 8, **_) -> list[dict[str, Any]]:
    """The answer to each text, sent as one user message."""
    outs = generate(model, tokenizer, [[{"role": "user", "content": t}] for t in inputs], max_new_tokens, temperature,
                    top_p, batch_size)
    return [{"output": o} for o in outs]


def stream_chat(model, tokenizer, messages: list[dict], max_new_tokens: int = 64, temperature: float = 0.0,
                top_p: float = 1.0, counts: dict | None = None) -> Iterator[str]:
    """Yield the growing answer to a conversation as tokens arrive (generation runs in a thread).

    Closing the generator early (a client that went away) stops the generation at the next token. `counts`, where
    given, is filled with the tokens as the model saw them: "prompt", "generated" and whether it "ended" on a stop
    token (re-tokenising the decoded text can count differently).
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    tokenizer = ensure_chat_template(tokenizer)
    device = next(model.parameters()).device
    ids = torch.tensor([_prompt_ids(tokenizer, messages)], device=device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    cancelled = threading.Event()
    errors: list[BaseException] = []

    counts = counts if counts is not None else {}
    counts.update(prompt=ids.shape[1], generated=0, ended=False)
    gen = _gen_kwargs(model, tokenizer, max_new_tokens, temperature, top_p)
    stops = set(gen["eos_token_id"] or [])

    class Cancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kw):
            counts["generated"] = input_ids.shape[1] - counts["prompt"]
            counts["ended"] = int(input_ids[0, -1]) in stops
            return cancelled.is_set()

    def run():
        try:
            with torch.inference_mode():
                model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer,
                               stopping_criteria=StoppingCriteriaList([Cancelled()]), **gen)
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


# ========================================================= capabilities ==
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


class ChatPlayground:
    """serve.Playground: the chat panel, the base model's answer beside the tuned one."""

    panel = "chat"
    labels_files = False
    format_prediction = staticmethod(format_prediction)


class StreamedChat:
    """serve.Chat, the capability of every chat task: answers streamed token by token."""

    stream_chat = staticmethod(stream_chat)


class ChatCard:
    """export.ModelCard, less what each chat task says of its model and metrics (model_kind, metrics_note)."""

    pipeline_tag = "text-generation"
    onnx = False
    gguf = True
    usage = staticmethod(card_usage)
