"""The sft task: data checks, answer-only labels, every method, a worker run end to end, streaming,
the base model's answer, CLI and export, all on a tiny random Llama (MiniLM tokenizer + a chat template)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import yaml

from studio import cli, export
from studio.config import DataConfig, RunConfig
from studio.data import DataError
from studio.serve import inference
from studio.tasks import chat, sft
from studio.tasks.sft import data as sft_data
from studio.tasks.sft import tokens as sft_tokens
from studio.tasks.sft import training as sft_training
from studio.training import recipe
from tests.support import (
    on_own_copy_of_base,
    read_jsonl,
    run_reproduce_script,
    train_to_completion,
    trainable_here,
    write_jsonl,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"


@pytest.fixture(scope="module")
def tok(tiny_llama):
    return chat.load_tokenizer(tiny_llama)


def alpaca(n: int) -> list[dict]:
    return [{"instruction": f"Say the number {i}.", "input": "" if i % 2 else "in words", "output": f"number {i}"}
            for i in range(n)]


# ------------------------------------------------------------------------------------- data --
def test_alpaca_chat_and_sharegpt_records_become_conversations(tmp_path):
    records = alpaca(8) + [
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
                      {"role": "assistant", "content": "Goodbye"}]},
        {"conversations": [{"from": "human", "value": "Ping"}, {"from": "gpt", "value": "Pong"}]},
    ]
    # One file mixes formats: the chat field is found once and read where a record has it.
    prepared = sft_data.prepare_data(DataConfig(train=str(write_jsonl(tmp_path / "mix.jsonl", records[:9])),
                                           validation_fraction=0.0, test_fraction=0.0))
    train = prepared.splits["train"]
    assert list(train.columns) == ["text", "messages", "reference"] and len(train) == 9
    row = train[train["reference"] == "number 0"].iloc[0]
    assert row["text"] == "Say the number 0.\n\nin words"
    assert json.loads(row["messages"]) == [{"role": "user", "content": "Say the number 0.\n\nin words"},
                                           {"role": "assistant", "content": "number 0"}]
    chat = train[train["reference"] == "Goodbye"].iloc[0]
    assert chat["text"] == "Bye" and len(json.loads(chat["messages"])) == 5
    rep = prepared.report
    assert rep.labels == [] and rep.label_counts["train"] == {"records": 9, "assistant_turns": 10}
    assert (rep.text_column, rep.label_column) == ("messages", "messages")

    share = sft_data.prepare_data(DataConfig(train=str(write_jsonl(tmp_path / "sg.json", [records[-1]] * 1 + [
        {"conversations": [{"from": "human", "value": f"Q{i}"}, {"from": "gpt", "value": f"A{i}"}]}
        for i in range(5)])),
        validation_fraction=0.2, test_fraction=0.2))
    assert json.loads(share.splits["train"]["messages"][0])[0]["role"] == "user"
    assert share.report.rows == {"train": 4, "validation": 1, "test": 1}


@pytest.mark.parametrize("transcript", [
    "### Human: Say {i}.### Assistant: Number {i}.### Human: Again### Assistant: {i} again",  # Guanaco
    "\n\nHuman: Say {i}.\n\nAssistant: Number {i}.\n\nHuman: Again\n\nAssistant: {i} again",  # Anthropic HH
])
def test_conversations_written_out_in_one_text_field_are_read_as_turns(tmp_path, transcript):
    path = write_jsonl(tmp_path / "t.jsonl", [{"text": transcript.format(i=i), "source": "x"} for i in range(6)])
    prepared = sft_data.prepare_data(DataConfig(train=str(path), validation_fraction=0, test_fraction=0))
    row = prepared.splits["train"][prepared.splits["train"]["reference"] == "3 again"].iloc[0]
    assert json.loads(row["messages"]) == [{"role": "user", "content": "Say 3."},
                                           {"role": "assistant", "content": "Number 3."},
                                           {"role": "user", "content": "Again"},
                                           {"role": "assistant", "content": "3 again"}]
    assert row["text"] == "Again" and prepared.report.text_column == "text"
    # The Data tab names the detected fields in every later check: the same conversations.
    named = sft_data.prepare_data(DataConfig(train=str(path), validation_fraction=0, test_fraction=0,
                                        text_column="text", label_column="text"))
    assert named.splits["train"]["messages"].tolist() == prepared.splits["train"]["messages"].tolist()
    # A text that is no transcript is still refused, naming the fields to use.
    plain = write_jsonl(tmp_path / "plain.jsonl", [{"text": f"just words {i}"} for i in range(6)])
    with pytest.raises(DataError, match="found neither chat messages"):
        sft_data.prepare_data(DataConfig(train=str(plain)))


def test_naming_the_detected_fields_reads_a_mixed_file_the_same(tmp_path):
    """The Data tab passes the fields it detected back with every later check and with Start."""
    records = alpaca(6) + [{"messages": [{"role": "user", "content": f"Hi {i}"},
                                         {"role": "assistant", "content": f"Hello {i}"}]} for i in range(4)]
    path = str(write_jsonl(tmp_path / "mixed.jsonl", records))
    detected = sft_data.prepare_data(DataConfig(train=path, validation_fraction=0, test_fraction=0))
    named = sft_data.prepare_data(DataConfig(train=path, validation_fraction=0, test_fraction=0,
                                        text_column=detected.report.text_column,
                                        label_column=detected.report.label_column))
    assert sorted(named.splits["train"]["reference"]) == sorted(detected.splits["train"]["reference"])
    assert len(named.splits["train"]) == 10


def test_named_fields_win_whatever_their_case(tmp_path):
    records = [{"Task": f"Say {i}.", "Reply": f"{i}", "output": "not this"} for i in range(6)]
    prepared = sft_data.prepare_data(DataConfig(train=str(write_jsonl(tmp_path / "named.jsonl", records)),
                                           text_column="task", label_column="reply", validation_fraction=0,
                                           test_fraction=0))
    assert sorted(prepared.splits["train"]["reference"]) == [str(i) for i in range(6)]
    assert (prepared.report.text_column, prepared.report.label_column) == ("Task", "Reply")


def test_split_is_seeded_by_record_and_max_rows_samples_train(tmp_path):
    path = str(write_jsonl(tmp_path / "a.jsonl", alpaca(40)))
    a = sft_data.prepare_data(DataConfig(train=path, split_seed=3))
    b = sft_data.prepare_data(DataConfig(train=path, split_seed=3))
    c = sft_data.prepare_data(DataConfig(train=path, split_seed=4))
    assert a.report.rows == {"train": 32, "validation": 4, "test": 4}
    assert a.splits["test"].equals(b.splits["test"]) and not a.splits["test"].equals(c.splits["test"])
    assert len(sft_data.prepare_data(DataConfig(train=path, max_rows=10)).splits["train"]) == 10


def test_token_lengths_count_whole_conversations_and_warn_over_max_length(tmp_path, tok):
    path = str(write_jsonl(tmp_path / "a.jsonl", alpaca(30)))
    rep = sft_data.prepare_data(DataConfig(train=path), tokenizer=tok, max_length=8).report
    assert rep.token_lengths["p50"] > 8 and rep.token_lengths["truncated_share"] == 1.0
    assert any("longer than max_length=8" in w for w in rep.warnings)


BAD = [
    ("unknown roles", [{"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]}],
     "bad.jsonl line 1: chat messages with unknown roles ('robot'); use system, user or assistant"),
    ("empty output", [*alpaca(3), {"instruction": "Say hi.", "output": "  "}],
     "bad.jsonl line 4: 'output' is empty; give every record its answer, or remove the record."),
    ("missing output", [*alpaca(3), {"instruction": "Say hi."}],
     "bad.jsonl line 4: no 'output' field"),
    ("ends with the user", [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                          {"role": "user", "content": "and?"}]}],
     "bad.jsonl line 1: the conversation ends with a user turn, not an assistant answer"),
    ("no user turn", [{"messages": [{"role": "system", "content": "x"}, {"role": "assistant", "content": "yo"}]}],
     "bad.jsonl line 1: the conversation has no user turn"),
    ("instruction is a list", [*alpaca(2), {"instruction": ["a", "b"], "output": "c"}],
     "bad.jsonl line 3: 'instruction' holds list values, not text"),
    ("messages is text", [{"messages": "hello there"}],
     "bad.jsonl line 1: 'messages' must be a non-empty list of turns"),
    ("turn without content", [{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}],
     "bad.jsonl line 1: turn 1 (user) of 'messages' has no text"),
    ("neither format", [{"text": "a", "label": "b"}], "bad.jsonl: found neither chat messages"),
    ("a chat record without its turns",
     [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
      {"id": 2}], "bad.jsonl line 2: no 'messages' conversation"),
]


@pytest.mark.parametrize("records,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_records_name_file_line_and_fix(tmp_path, records, message):
    with pytest.raises(DataError) as err:
        sft_data.prepare_data(DataConfig(train=str(write_jsonl(tmp_path / "bad.jsonl", records))))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_json_list_names_the_record(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(alpaca(2) + [{"instruction": "x", "output": ""}]), encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.json record 3: 'output' is empty"):
        sft_data.prepare_data(DataConfig(train=str(path)))


# ------------------------------------------------------------------------------- tokenising --
def labelled_text(tok, enc) -> str:
    return tok.decode([i for i, l in zip(enc["input_ids"], enc["labels"]) if l != sft_tokens.IGNORE])


def test_only_answer_tokens_carry_labels(tok):
    msgs = [{"role": "system", "content": "be kind"}, {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "general kenobi"}, {"role": "user", "content": "and now"},
            {"role": "assistant", "content": "goodbye"}]
    enc = sft_tokens.encode(tok, msgs, 128)
    # Every answer and its end-of-turn token; no prompt, role name or system text.
    assert labelled_text(tok, enc) == "general kenobi [SEP] goodbye [SEP]"
    assert len(enc["labels"]) == len(enc["input_ids"]) == enc["length"]
    # The prompt part is exactly what generation sees: the template with its generation prompt.
    first_answer = enc["labels"].index(next(l for l in enc["labels"] if l != sft_tokens.IGNORE))
    assert enc["input_ids"][:first_answer] == chat._prompt_ids(tok, msgs[:2])


def test_truncation_keeps_an_answer(tok):
    msgs = [{"role": "user", "content": "word " * 60}, {"role": "assistant", "content": "short answer"}]
    enc = sft_tokens.encode(tok, msgs, 16)
    assert enc["truncated"] and len(enc["input_ids"]) == 16
    assert labelled_text(tok, enc) == "short answer [SEP]"  # the end was kept, not the long prompt's start


def test_a_tokenizer_without_a_chat_template_gets_the_plain_one(tiny_llama, tmp_path):
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(str(tiny_llama))
    plain.chat_template = None
    chat.ensure_chat_template(plain)
    msgs = [{"role": "user", "content": "name a colour"}, {"role": "assistant", "content": "blue"}]
    assert chat.render(plain, msgs) == "### Instruction:\nname a colour\n\n### Response:\nblue[SEP]\n\n"
    assert labelled_text(plain, sft_tokens.encode(plain, msgs, 64)) == "blue [SEP]"


def test_generation_stops_at_the_templates_end_of_turn_token(tiny_llama):
    """A Llama-3-style template closes each turn with <|eot_id|> while its eos is <|end_of_text|>: generation must
    stop at the first, or a chat base rambles on into an invented next turn."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    llama3 = AutoTokenizer.from_pretrained(tiny_llama)
    llama3.add_special_tokens({"additional_special_tokens": ["<|eot_id|>", "<|end_of_text|>"]})
    llama3.eos_token = "<|end_of_text|>"
    llama3.chat_template = ("{% for m in messages %}<|start|>{{ m['role'] }}\n\n{{ m['content'] }}<|eot_id|>"
                            "{% endfor %}{% if add_generation_prompt %}<|start|>assistant\n\n{% endif %}")
    eot = llama3.convert_tokens_to_ids("<|eot_id|>")
    assert chat.end_of_turn_ids(llama3) == [eot]
    model = AutoModelForCausalLM.from_pretrained(tiny_llama)
    stops = chat._gen_kwargs(model, llama3, 8, 0.0, 1.0)["eos_token_id"]
    assert eot in stops and llama3.eos_token_id in stops
    plain = AutoTokenizer.from_pretrained(tiny_llama)  # "{content}{eos}": the eos is the end of a turn
    assert chat.end_of_turn_ids(plain) == [plain.eos_token_id]
    assert chat.end_of_turn_ids(chat.ensure_chat_template(AutoTokenizer.from_pretrained(tiny_llama))) in (
        [], [plain.eos_token_id])


@pytest.mark.slow
def test_smollm2_stops_at_im_end():
    from studio import models

    tok = chat.load_tokenizer(models.resolve("smollm2"))
    assert tok.convert_ids_to_tokens(chat.end_of_turn_ids(tok)) == ["<|im_end|>"]


def test_padding_free_and_packed_batches_give_the_padded_loss(tiny_llama, tok):
    """Conversations end to end in one row, each attending only to itself (position ids): the same loss as the
    padded batch, without computing the padding; packed rows never exceed max_length."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    convs = [[{"role": "user", "content": "word " * n}, {"role": "assistant", "content": "answer " * (n % 3 + 1)}]
             for n in (1, 7, 3, 12)]
    feats = [{k: v for k, v in sft_tokens.encode(tok, c, 64).items() if k in ("input_ids", "attention_mask", "labels")}
             for c in convs]
    with torch.no_grad():
        padded = model(**sft_tokens.collator(tok)(feats)).loss
        flat_batch = sft_tokens.flat_collator(tok)(feats)
        assert flat_batch["input_ids"].shape[0] == 1 and "attention_mask" not in flat_batch
        flat = model(**flat_batch).loss
        leaky = model(**{**flat_batch, "use_cache": True}).loss  # a KV cache turns the per-conversation mask off
    assert torch.allclose(padded, flat, atol=1e-5), (padded, flat)
    assert not torch.allclose(padded, leaky, atol=1e-5)  # the test can tell

    import datasets

    rows = sft_tokens.packed(datasets.Dataset.from_list([{**f, "length": len(f["input_ids"])} for f in feats * 5]), 48)
    assert len(rows) < 20 and max(rows["length"]) <= 48
    assert sum(rows["length"]) == 5 * sum(len(f["input_ids"]) for f in feats)
    cfg = RunConfig.from_dict({**sft_config(tiny_llama), "task_args": {"batching": "packed"}})
    assert sft_training.trainer_parts(cfg, tok, [], {}).collator is not None
    assert sft_training.trainer_parts(RunConfig.from_dict(sft_config(tiny_llama)), tok, [], {}).collator is None


def test_collator_pads_labels_with_ignore(tok):
    batch = sft_tokens.collator(tok)([{"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1], "labels": [-100, 6, 7],
                                "length": 3},
                               {"input_ids": [5], "attention_mask": [1], "labels": [5], "length": 1}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, tok.pad_token_id, tok.pad_token_id]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [5, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_perplexity_is_exp_of_every_loss():
    m = sft_training.add_perplexity({"eval_loss": 2.0, "test_loss": 1000.0, "eval_runtime": 3.0})
    assert m["eval_perplexity"] == pytest.approx(math.exp(2.0)) and m["test_perplexity"] == math.inf
    assert "eval_runtime_perplexity" not in m


# ---------------------------------------------------------------------------------- methods --
@pytest.mark.parametrize("method", trainable_here(sft.TASK.model.method_names()))
def test_every_method_trains_and_generates(method, tiny_llama, tok):
    import torch

    from studio import methods

    cfg = RunConfig.from_dict({"task": "sft", "model": str(tiny_llama), "method": method, "data": {"train": "x.jsonl"}})
    model = recipe.build_model(cfg, tiny_llama, [], tok, total_steps=10)
    trainable, total = methods.count_parameters(model)
    assert 0 < trainable <= total
    msgs = [{"role": "user", "content": "say hi"}, {"role": "assistant", "content": "hi there"}]
    batch = sft_tokens.collator(tok)([sft_tokens.encode(tok, msgs, 32),
                                     sft_tokens.encode(tok, msgs[:1] + [{"role": "assistant", "content": "no"}], 32)])
    model.train()
    loss = model(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)
    out = chat.predict(model, tok, ["say hi", "a longer prompt to pad"], max_new_tokens=3)
    assert len(out) == 2 and all(isinstance(o["output"], str) for o in out)


def test_adalora_evaluation_leaves_its_penalty_out(tiny_llama, tok):
    import torch

    cfg = RunConfig.from_dict({"task": "sft", "model": str(tiny_llama), "method": "adalora",
                               "data": {"train": "x.jsonl"}})
    model = recipe.build_model(cfg, tiny_llama, [], tok, total_steps=10).eval()
    msgs = [{"role": "user", "content": "say hi"}, {"role": "assistant", "content": "hi there"}]
    batch = sft_tokens.collator(tok)([sft_tokens.encode(tok, msgs, 32)])
    with torch.no_grad():
        with_penalty = model(**batch).loss
        with sft_training.without_regulariser(model):
            plain = model(**batch).loss
            logits = model(input_ids=batch["input_ids"]).logits[0, :-1]
        again = model(**batch).loss
    own = torch.nn.functional.cross_entropy(logits, batch["labels"][0, 1:], ignore_index=sft_tokens.IGNORE)
    assert plain == pytest.approx(float(own), rel=1e-5) and with_penalty > plain and again == with_penalty


# ------------------------------------------------------------------------ a run end to end --
def sft_config(model: Path, method: str = "lora", **training) -> dict:
    t = {"epochs": 2, "batch_size": 8, "max_length": 48, "logging_steps": 1, "device": "cpu", "max_new_tokens": 6,
         "sample_prompts": 2, "learning_rate": 3e-3}
    t.update(training)
    return {"task": "sft", "model": str(model), "method": method,
            "data": {"train": str(SAMPLE), "max_rows": 24}, "training": t}


@pytest.fixture(scope="module")
def finished_sft(tmp_path_factory, tiny_llama):
    from studio.runs.store import Store

    store = Store(tmp_path_factory.mktemp("sft-runs"))
    run_id = train_to_completion(store, RunConfig.from_dict(sft_config(tiny_llama)))
    return store, run_id, store.run_dir(run_id)


def test_run_logs_perplexity_and_sample_generations(finished_sft):
    store, run_id, rd = finished_sft
    st = store.get(run_id)
    assert st["best_metric_name"] == "loss"
    records = read_jsonl(rd / "metrics.jsonl")
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [3, 6]
    for e in evals:
        assert e["eval_perplexity"] == pytest.approx(math.exp(e["eval_loss"]))
    samples = [r for r in records if r["kind"] == "samples"]
    assert [s["step"] for s in samples] == [0, 3, 6]  # before training, then at each evaluation
    validation = json.loads((rd / "data_report.json").read_text())
    assert validation["rows"]["validation"] == 14
    for s in samples:
        assert len(s["samples"]) == 2 and all(set(x) == {"prompt", "output", "reference"} for x in s["samples"])
    assert samples[0]["samples"][0]["prompt"] == samples[-1]["samples"][0]["prompt"]  # the same fixed prompts
    # Conversation token lengths replace the prompt-only ones the worker computed.
    assert validation["token_lengths"]["p50"] > 10


def test_report_scores_generations_against_references(finished_sft):
    *_, rd = finished_sft
    report = json.loads((rd / "test_report.json").read_text())
    assert report["task"] == "sft" and report["n"] == 14 and report["generated"] == 14
    m = report["metrics"]
    assert set(m) == {"loss", "perplexity", "exact_match", "chrf"}
    assert (m["perplexity"] == pytest.approx(math.exp(m["loss"])) and 0 <= m["exact_match"] <= 1
            and 0 <= m["chrf"] <= 100)
    # Did it help? The base answered the same test prompts before the first step (its adapter off).
    base = report["base"]
    assert set(base["metrics"]) == set(m) and "base model answering the same test prompts" in base["what"]
    assert base["metrics"]["loss"] != m["loss"]
    rows = read_jsonl(rd / "test_predictions.jsonl")
    assert len(rows) == 14 and set(rows[0]) == {"text", "reference", "output", "correct"}
    test_split = __import__("pandas").read_parquet(rd / "data" / "test.parquet")
    assert [r["text"] for r in rows] == test_split["text"].tolist()
    meta = json.loads((rd / "model" / "studio_model.json").read_text())
    assert meta["task"] == "sft" and meta["peft"] and meta["task_args"]["max_new_tokens"] == 6


def base_answer(model_dir: Path, prompt: str, max_new_tokens: int) -> str:
    tok = chat.load_tokenizer(model_dir)
    return chat.predict(chat.load_model(model_dir, [], tok), tok, [prompt], max_new_tokens=max_new_tokens)[0]["output"]


def test_reload_predict_stream_and_base_answer(finished_sft, tiny_llama):
    *_, rd = finished_sft
    prompt = "What is the capital of France?"
    chat = [{"role": "user", "content": prompt}]
    tuned = inference.predict(rd, [prompt])[0]["output"]
    assert isinstance(tuned, str)
    assert (list(inference.stream(rd, chat)) or [""])[-1] == tuned  # greedy streaming and greedy batch agree
    base = inference.predict(rd, [prompt], base=True)[0]["output"]
    assert base == base_answer(tiny_llama, prompt, 6)  # the adapter is really off ...
    assert base != tuned  # ... and really on otherwise (the tiny model learns to end its answers early)
    parts = list(inference.stream(rd, chat, base=True))
    assert len(parts) >= 2 and all(b.startswith(a) for a, b in zip(parts, parts[1:]))  # it grows token by token
    assert parts[-1] == base
    assert inference.predict(rd, [prompt])[0]["output"] == tuned  # the adapter is back on after the base answer
    longer = inference.predict(rd, [prompt], base=True, max_new_tokens=12)[0]["output"]
    assert longer.startswith(base) and len(longer) > len(base)
    sampled = inference.predict(rd, [prompt] * 3, base=True, temperature=1.5, top_p=0.9, max_new_tokens=12)
    assert len({s["output"] for s in sampled}) > 1  # sampling, not greedy


def test_closing_a_stream_early_frees_the_model(finished_sft):
    *_, rd = finished_sft
    gen = inference.stream(rd, [{"role": "user", "content": "hello"}], base=True, max_new_tokens=400)
    next(gen)
    gen.close()  # a client that went away
    loaded = inference.load(rd)
    assert loaded.lock.acquire(timeout=10)
    loaded.lock.release()


def test_a_full_run_answers_with_its_own_base(tmp_path, tiny_llama):
    from studio.runs.store import Store

    store = Store(tmp_path / "runs")
    run_id = train_to_completion(store, RunConfig.from_dict(sft_config(tiny_llama, "full", epochs=1, sample_prompts=0,
                                                                       learning_rate=1e-2)))
    rd = store.run_dir(run_id)
    assert not [r for r in read_jsonl(rd / "metrics.jsonl") if r["kind"] == "samples"]  # sample_prompts: 0
    prompt = "Add 2 and 3."
    assert inference.predict(rd, [prompt], base=True)[0]["output"] == base_answer(tiny_llama, prompt, 6)
    assert inference.predict(rd, [prompt])[0]["output"] == base_answer(rd / "model", prompt, 6)


def test_cli_train_and_predict(tmp_path, tiny_llama, capsys):
    cfg = sft_config(tiny_llama, epochs=1, sample_prompts=1)
    cfg_file = tmp_path / "sft.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    runs = tmp_path / "runs"
    assert cli.main(["--runs-dir", str(runs), "train", str(cfg_file)]) == 0
    err = capsys.readouterr().err
    run_id = re.search(r"run (\S+) queued", err).group(1)
    assert "samples step 0: " in err and "perplexity" in err  # progress as text, and the eval line
    assert cli.main(["--runs-dir", str(runs), "predict", run_id, "Add 2 and 3.", "--max-new-tokens", "4"]) == 0
    out = capsys.readouterr().out
    expected = inference.predict(runs / run_id, ["Add 2 and 3."], max_new_tokens=4)[0]["output"]
    assert out == expected + "\n"


def test_export_adapter_and_merged_give_the_same_answer(finished_sft, tmp_path):
    import torch
    from peft import AutoPeftModelForCausalLM

    *_, rd = finished_sft
    prompt = "Turn this phrase into a hashtag.\n\nred bicycle"
    tuned = inference.predict(rd, [prompt])[0]["output"]
    merged = export.build_folder(rd, "merged", tmp_path / "merged")
    assert base_answer(merged, prompt, 6) == tuned
    # Greedy text can agree by chance; the next-token distributions must agree too.
    loaded = inference.load(rd)
    ids = torch.tensor([chat._prompt_ids(loaded.tokenizer, [{"role": "user", "content": prompt}])])
    merged_model = chat.load_model(merged)
    with torch.no_grad():
        assert torch.allclose(merged_model(input_ids=ids).logits, loaded.model(input_ids=ids).logits, atol=1e-4)
        with loaded.model.disable_adapter():
            assert not torch.allclose(merged_model(input_ids=ids).logits, loaded.model(input_ids=ids).logits, atol=1e-4)
    adapter = export.build_folder(rd, "adapter", tmp_path / "adapter")
    tok = chat.load_tokenizer(adapter)
    model = AutoPeftModelForCausalLM.from_pretrained(str(on_own_copy_of_base(adapter, rd)))
    assert chat.predict(model, tok, [prompt], max_new_tokens=6)[0]["output"] == tuned
    card = (adapter / "README.md").read_text()
    assert ("AutoPeftModelForCausalLM" in card and "apply_chat_template" in card
            and "pipeline_tag: text-generation" in card)


def test_the_example_config_and_sample_pass_the_checks():
    cfg = RunConfig.load(ROOT / "examples" / "smollm2-sft-lora.yaml")
    assert (cfg.task, cfg.method, cfg.selection_metric()) == ("sft", "lora", "loss")
    prepared = sft_data.prepare_data(cfg.data)
    assert prepared.report.rows == {"train": 108, "validation": 14, "test": 14}
    assert sum(prepared.report.label_counts["train"].values()) > 108  # records plus their assistant turns


def test_cli_data_check_reads_sft_files(capsys, tmp_path):
    assert cli.main(["--runs-dir", str(tmp_path / "runs"), "data", str(SAMPLE), "--task", "sft"]) == 0
    out = capsys.readouterr().out
    assert "rows     train 108, validation 14, test 14" in out
    bad = write_jsonl(tmp_path / "roles.jsonl",
                      [{"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}])
    assert cli.main(["--runs-dir", str(tmp_path / "runs"), "data", str(bad), "--task", "sft"]) == 2
    assert "chat messages with unknown roles ('bot')" in capsys.readouterr().err


def test_reproduce_script_retrains_the_run_to_its_loss(finished_sft, tmp_path):
    """The exported script masks the same answer tokens and trains the same way: same test loss, same answers."""
    *_, rd = finished_sft
    got, want, folder = run_reproduce_script(rd, tmp_path)
    first = json.loads((folder / "data" / "train.jsonl").read_text().splitlines()[0])
    assert set(first) == {"messages", "reference", "text"} and not (folder / "data" / "labels.json").exists()
    assert set(got) == {"loss", "perplexity", "exact_match", "chrf"}
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-3), (got, want)
    assert got["chrf"] == pytest.approx(want["chrf"], abs=5), (got, want)


def test_packed_rows_reach_the_model_with_each_conversations_own_positions(tiny_llama, tok, tmp_path):
    """Through the real Trainer: what the model receives during trainer.train() for packed rows restarts its position
    ids at every conversation the row packs (the Trainer drops columns forward does not take, seq_lengths among
    them, unless the SFT trainer keeps it), so no conversation attends to another."""
    import functools

    import datasets
    from transformers import TrainingArguments

    from studio.training.parts import build_trainer, training_arguments

    cfg = RunConfig.from_dict({**sft_config(tiny_llama, "full", epochs=1, batch_size=2),
                               "task_args": {"batching": "packed"}}).resolved()
    convs = [[{"role": "user", "content": "word " * n}, {"role": "assistant", "content": "answer " * (n % 3 + 1)}]
             for n in (1, 7, 3, 12, 2, 5)]
    feats = [{k: v for k, v in sft_tokens.encode(tok, c, 48).items() if k in ("input_ids", "labels", "length")}
             for c in convs]
    packed_rows = sft_tokens.packed(datasets.Dataset.from_list(feats), 48)
    want = sorted(tuple(s) for s in packed_rows["seq_lengths"])
    assert any(len(s) > 1 for s in want)  # rows that pack several conversations: the case under test

    model = chat.load_model(tiny_llama, [], tok)
    seen: list[list[int]] = []
    forward = model.forward

    @functools.wraps(forward)  # the Trainer keeps the columns the forward's signature names
    def recording_forward(*args, **kw):
        positions = kw["position_ids"][0].tolist()
        starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
        seen.append([b - a for a, b in zip(starts, starts[1:])])
        return forward(*args, **kw)

    model.forward = recording_forward
    parts = sft_training.trainer_parts(cfg, tok, [], {})
    args = training_arguments(TrainingArguments, cfg.training, str(tmp_path / "out"), 1e-4, "loss", "fp32", True,
                              "none", "packed", {**parts.args, "eval_strategy": "no", "save_strategy": "no",
                                                 "load_best_model_at_end": False, "per_device_train_batch_size": 1})
    ds = {"train": packed_rows, "validation": packed_rows}
    build_trainer(parts, model, args, ds, parts.collator, tok, []).train()

    assert sorted(tuple(s) for s in seen) == want


def test_padding_free_batches_only_where_flash_attention_keeps_them_apart(tiny_llama, tok, capsys):
    """With SDPA or eager attention, transformers builds one dense mask over a whole flattened batch: padding-free
    costs more than the padding it saves, so those runs pad, and the log says why. Packed rows stay flattened."""
    from studio.training.parts import batch_collator

    def parts_for(batching):
        cfg = RunConfig.from_dict({**sft_config(tiny_llama), "task_args": {"batching": batching}})
        return sft_training.trainer_parts(cfg, tok, [], {})

    free = parts_for("padding_free")
    assert isinstance(batch_collator(free, None, "flash_attention_2"), sft_tokens.FlatCollator)
    assert isinstance(batch_collator(free, None, "sdpa"), sft_tokens.PadCollator)
    assert "padding_free batching off: with sdpa attention" in capsys.readouterr().out
    assert isinstance(batch_collator(parts_for("packed"), None, "sdpa"), sft_tokens.FlatCollator)
    default = object()
    assert batch_collator(parts_for("padded"), default, "sdpa") is default
