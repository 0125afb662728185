"""The seq2seq task: column detection and data errors, tokenisation, metrics, every method on a tiny T5, a full
run through the worker (metrics, test report, reload, CLI, export), and the MiniLM encoder-decoder catalog base.

Everything uses tiny data; the models are a tiny T5 built from a config and, in the slow tests, the
encoder-decoder assembled from the bundled MiniLM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from studio import data as data_mod
from studio import export, methods, models
from studio.base.runfolder import RunFolder
from studio.config import DataConfig, RunConfig, TrainingConfig
from studio.runs.store import Store
from studio.serve import inference
from studio.tasks import get_task
from studio.tasks import seq2seq as s2s
from studio.tasks.seq2seq import data as s2s_data
from studio.tasks.seq2seq import model as s2s_model
from studio.tasks.seq2seq import tokens as s2s_tokens
from studio.tasks.seq2seq import training as s2s_training
from studio.tasks.seq2seq.predict import card_usage, format_prediction, predict
from tests.support import (
    ROOT,
    kill_active,
    on_own_copy_of_base,
    read_jsonl,
    run_reproduce_script,
    tiny_config,
    trainable_here,
    write_csv,
)
from tests.tiny_models import CLS_ID, PAD_ID, SEP_ID, make_tiny_t5

SAMPLE = ROOT / "assets" / "samples" / "seq2seq_sample.csv"
COLOURS = ("red", "blue", "green", "black", "white", "yellow")
THINGS = ("car", "house", "door", "hat", "boat", "cup", "lamp", "book")


def pairs(n: int = 40) -> list[dict[str, str]]:
    """Distinct 'the red car is here' -> 'red car' pairs (sources longer than targets)."""
    rows = [{"source": f"the {c} {t} is over there", "target": f"{c} {t}"} for c in COLOURS for t in THINGS]
    return rows[:n]


def frame_csv(tmp_path, rows, name="pairs.csv") -> Path:
    return write_csv(tmp_path / name, rows)


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory) -> Path:
    return make_tiny_t5(tmp_path_factory.mktemp("models") / "tiny-t5")


# ------------------------------------------------------------ columns --
@pytest.mark.parametrize("src,tgt", [("source", "target"), ("Input", "Output"), ("document", "summary"),
                                     ("article", "highlights"), ("text", "summary"), ("en", "fr")])
def test_known_column_pairs_are_detected(tmp_path, src, tgt):
    rows = [{"id": str(i), src: r["source"], tgt: r["target"]} for i, r in enumerate(pairs(20))]
    rep = s2s_data.prepare_data(DataConfig(train=str(frame_csv(tmp_path, rows)))).report
    assert (rep.text_column, rep.label_column) == (src, tgt)


def test_language_pairs_keep_the_file_order(tmp_path):
    rows = [{"de": r["target"], "en": r["source"]} for r in pairs(20)]  # shorter column first: order wins
    rep = s2s_data.prepare_data(DataConfig(train=str(frame_csv(tmp_path, rows)))).report
    assert (rep.text_column, rep.label_column) == ("de", "en")


def test_hugging_face_translation_records_are_read_as_a_language_pair(tmp_path):
    """{"id": "0", "translation": {"de": ..., "en": ...}}, as datasets' translation sets export to JSON Lines."""
    path = tmp_path / "wmt.jsonl"
    path.write_text("".join(json.dumps({"id": str(i), "translation": {"de": r["target"], "en": r["source"]}}) + "\n"
                            for i, r in enumerate(pairs(20))))
    prep = s2s_data.prepare_data(DataConfig(train=str(path)))
    assert (prep.report.text_column, prep.report.label_column) == ("de", "en"), "the first language is the source"
    assert prep.splits["train"]["target"].str.contains("is over there").all()
    back = s2s_data.prepare_data(DataConfig(train=str(path), text_column="en", label_column="de"))
    assert back.splits["train"]["target"].str.split().str.len().eq(2).all()


def test_unknown_names_take_the_longer_text_as_source(tmp_path):
    rows = [{"short": r["target"], "long": r["source"], "n": i} for i, r in enumerate(pairs(20))]
    prep = s2s_data.prepare_data(DataConfig(train=str(frame_csv(tmp_path, rows))))
    assert (prep.report.text_column, prep.report.label_column) == ("long", "short")
    assert prep.splits["train"]["target"].str.split().str.len().eq(2).all()


def test_one_given_column_finds_the_other(tmp_path):
    rows = [{"a": r["source"], "b": r["target"], "n": i} for i, r in enumerate(pairs(20))]
    rep = s2s_data.prepare_data(DataConfig(train=str(frame_csv(tmp_path, rows)), label_column="a")).report
    assert (rep.text_column, rep.label_column) == ("b", "a")


@pytest.mark.parametrize("rows,cfg,message", [
    ([{"x": "a b", "y": "c", "z": "d e f"}] * 3, {}, r"could not tell the source and target columns apart"),
    ([{"source": "a b c", "target": 1}, {"source": "d e", "target": 2}], {}, r"target column 'target' holds numbers"),
    ([{"source": "a b c", "target": ""}, {"source": "d e", "target": ""}], {},
     r"target column 'target' is empty in every row"),
    ([{"source": "a b c", "target": "x"}], {"text_column": "nope"}, r"no column named 'nope' for the source"),
    ([{"source": "a", "target": "b"}, {"source": "a", "target": "b"}], {}, r"has 1 usable row"),
])
def test_bad_data_is_one_clear_sentence(tmp_path, rows, cfg, message):
    path = frame_csv(tmp_path, rows)
    with pytest.raises(data_mod.DataError, match=message) as e:
        s2s_data.prepare_data(DataConfig(train=str(path), **cfg))
    assert path.name in str(e.value)


def test_a_single_column_file_is_refused(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("source\nhello there\nsee you\n")
    with pytest.raises(data_mod.DataError, match="single column 'source'"):
        s2s_data.prepare_data(DataConfig(train=str(path)))


def test_validation_file_needs_the_training_columns(tmp_path):
    train = frame_csv(tmp_path, pairs(30))
    val = write_csv(tmp_path / "val.csv", [{"src": "the red car", "target": "red car"}])
    with pytest.raises(data_mod.DataError, match=r"val.csv: no column 'source'"):
        s2s_data.prepare_data(DataConfig(train=str(train), validation=str(val)))


# -------------------------------------------------------------- split --
def test_split_is_seeded_and_complete(tmp_path):
    rows = pairs(48) + [{"source": "  ", "target": "x"}, pairs(1)[0]]  # one empty source, one duplicate
    cfg = DataConfig(train=str(frame_csv(tmp_path, rows)))
    prep = s2s_data.prepare_data(cfg)
    sp, rep = prep.splits, prep.report
    assert {k: len(v) for k, v in sp.items()} == rep.rows == {"train": 38, "validation": 5, "test": 5}
    assert rep.label_counts == {k: {"rows": n} for k, n in rep.rows.items()} and prep.labels == []
    assert rep.dropped_empty == 1 and rep.dropped_duplicates == 1
    for df in sp.values():
        assert list(df.columns) == ["text", "source", "target"] and df["text"].equals(df["source"])
    everything = pd.concat(sp.values())
    assert sorted(everything["source"]) == sorted(r["source"] for r in pairs(48))
    again = s2s_data.prepare_data(cfg).splits
    assert all(again[k].equals(sp[k]) for k in sp)
    other = s2s_data.prepare_data(DataConfig(train=cfg.train, split_seed=1)).splits
    assert not other["test"].equals(sp["test"])
    assert len(s2s_data.prepare_data(DataConfig(train=cfg.train, max_rows=10)).splits["train"]) == 10


def test_files_for_validation_and_test_are_used_as_given(tmp_path):
    rows = pairs(48)
    train = frame_csv(tmp_path, rows[:40])
    val = write_csv(tmp_path / "val.csv", rows[40:44])
    test = write_csv(tmp_path / "test.csv", rows[44:])
    prep = s2s_data.prepare_data(DataConfig(train=str(train), validation=str(val), test=str(test)))
    assert prep.report.rows == {"train": 40, "validation": 4, "test": 4}
    assert prep.report.split_source["test"] == "test.csv"


def test_long_targets_are_warned_about(tmp_path, tiny_t5):
    rows = [{"source": r["source"], "target": " ".join([r["target"]] * 20)} for r in pairs(20)]
    tok = s2s_model.load_tokenizer(tiny_t5)
    rep = s2s_data.prepare_data(DataConfig(train=str(frame_csv(tmp_path, rows))), tokenizer=tok, max_length=64,
                                max_target_length=8).report
    assert any("of targets are longer than max_target_length=8" in w for w in rep.warnings)
    assert rep.token_lengths["max"] >= 7


# ----------------------------------------------------------- tokenise --
def test_tokenised_targets_and_padded_labels(tiny_t5):
    tok = s2s_model.load_tokenizer(tiny_t5)
    split = pd.DataFrame({"source": ["the red car is here", "a hat"], "target": ["open door", "a very long hat story"]})
    split["text"] = split["source"]
    ds = s2s_tokens.tokenize({"train": split}, tok, [], RunConfig(task="seq2seq", training=TrainingConfig(max_length=4),
                                                                    task_args={"max_target_length": 3}))["train"]
    assert "token_type_ids" not in ds.column_names
    assert all(len(x) <= 4 for x in ds["input_ids"])
    first, second = ds["labels"]
    assert first == tok("open door", add_special_tokens=False)["input_ids"] + [SEP_ID]  # no [CLS]; ends with [SEP]
    assert len(second) == 3 and CLS_ID not in second
    model = s2s_model.load_model(tiny_t5, [], tok)
    batch = s2s_tokens.collator(tok, model)([ds[0], ds[1]])
    assert batch["labels"].tolist()[0] == first + [-100] * (3 - len(first))
    assert batch["decoder_input_ids"][0, 0].item() == PAD_ID  # T5 starts decoding from its pad token


# ------------------------------------------------------------ metrics --
def test_identical_outputs_score_100_and_disjoint_ones_0():
    refs = ["turn off kitchen lights", "open garage door", "check attic fan"]
    assert s2s_training.text_metrics(refs, refs) == pytest.approx({"bleu": 100.0, "chrf": 100.0, "rougeL": 100.0,
                                                          "exact_match": 1.0})  # a share (0-1), as in SFT
    wrong = s2s_training.text_metrics(["zzz qqq", "vvv", "xxx yyy"], refs)
    assert wrong["bleu"] == 0 and wrong["rougeL"] == 0 and wrong["exact_match"] == 0 and wrong["chrf"] < 5


def test_rouge_l_is_the_lcs_f_measure():
    assert s2s_training.rouge_l("a b c d", "a c d e") == pytest.approx(0.75)  # LCS a c d: P = R = 3/4
    assert s2s_training.rouge_l("The Cat sat", "the cat") == pytest.approx(2 * 1 * (2 / 3) / (1 + 2 / 3))
    assert s2s_training.rouge_l("", "") == 1.0 and s2s_training.rouge_l("", "x") == 0.0


def test_metrics_decode_generated_ids_and_labels(tiny_t5):
    tok = s2s_model.load_tokenizer(tiny_t5)
    ids = tok(["red car", "blue hat"], add_special_tokens=False)["input_ids"]
    generated = [[PAD_ID, *ids[0], SEP_ID], [PAD_ID, *ids[1], SEP_ID, PAD_ID]]
    labels = [[*ids[0], SEP_ID, -100], [*ids[1], SEP_ID]]
    width = max(map(len, generated + labels))
    pad = lambda rows, v: [r + [v] * (width - len(r)) for r in rows]  # noqa: E731
    ev = type("P", (), {"predictions": pad(generated, PAD_ID), "label_ids": pad(labels, -100)})()
    assert s2s_training.metrics_fn(tok)(ev)["exact_match"] == 1.0  # a share, like every share in the studio


def test_task_contract():
    task = get_task("seq2seq")
    assert task.model.peft_task_type == "SEQ_2_SEQ_LM" and task.metrics.best[0] == "chrf"
    assert set(task.metrics.plot) <= set(task.metrics.best)
    assert task.model.catalog_models == (models.find_entry(task.model.default_model).name,)
    cfg = RunConfig.from_dict({"task": "seq2seq", "data": {"train": str(SAMPLE)}})
    assert cfg.resolved().model == "minilm-seq2seq" and cfg.selection_metric() == "chrf"
    assert format_prediction("src", {"output": "out"}) == "out\tsrc"
    assert any("AutoPeftModelForSeq2SeqLM" in line for line in card_usage(True))


# ------------------------------------------------------------ methods --
@pytest.mark.parametrize("method", trainable_here(s2s.TASK.model.method_names()))
def test_every_method_trains_the_tiny_t5(tiny_t5, method):
    """A few optimizer steps on one batch at the method's learning rate lower the loss, and the model generates."""
    import torch

    tok = s2s_model.load_tokenizer(tiny_t5)
    model = methods.apply(s2s_model.load_model(tiny_t5, [], tok), method, {}, s2s.TASK.model.peft_task_type,
                          total_steps=20)
    trainable, total = methods.count_parameters(model)
    assert 0 < trainable <= total and (trainable < total) == (method != "full")
    rows = pairs(8)
    batch = s2s_tokens.collator(tok, model)([
        {"input_ids": tok(r["source"], return_token_type_ids=False)["input_ids"],
         "labels": s2s_tokens.encode_targets(tok, [r["target"]], 8)[0]} for r in rows])
    batch.pop("token_type_ids", None)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                            lr=methods.METHODS[method].learning_rate * 2)

    def loss_now() -> float:
        model.eval()  # no dropout, no AdaLoRA regulariser: a loss that only the weights move
        with torch.no_grad():
            return model(**batch).loss.item()

    before = loss_now()
    for _ in range(6):
        model.train()
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss_now() < before
    out = predict(model, tok, [r["source"] for r in rows[:3]], max_new_tokens=4)
    assert len(out) == 3 and all(isinstance(o["output"], str) for o in out)


def test_freeze_trains_the_top_decoder_blocks(tiny_t5):
    tok = s2s_model.load_tokenizer(tiny_t5)
    model = methods.apply(s2s_model.load_model(tiny_t5, [], tok), "freeze", {"trainable_layers": 1},
                          s2s.TASK.model.peft_task_type)
    trained = {n.split(".")[0] + "." + n.split(".")[1] + "." + n.split(".")[2]
               for n, p in model.named_parameters() if p.requires_grad and ".block." in n}
    assert trained == {"decoder.block.1"}


# --------------------------------------------------------- a full run --
@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_t5):
    root = tmp_path_factory.mktemp("s2s-run")
    csv_path = write_csv(root / "pairs.csv", pairs(40))
    store = Store(root / "runs")
    raw = tiny_config(tiny_t5, csv_path, "lora", epochs=2, batch_size=8, max_target_length=8, max_new_tokens=6)
    cfg = RunConfig.from_dict({"task": "seq2seq", **raw})
    run_id = store.create(cfg)
    try:
        st = store.wait(run_id, timeout=400)
    finally:
        kill_active(store)
    rd = store.run_dir(run_id)
    assert st["status"] == "completed", (st, (rd / "train.log").read_text()[-3000:])
    return store, run_id, rd, csv_path


def test_the_run_logs_generation_metrics_and_reports_on_test(finished):
    store, run_id, rd, _ = finished
    records = read_jsonl(rd / "metrics.jsonl")
    evals = [r for r in records if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [4, 8]  # 32 training pairs in batches of 8, 2 epochs
    for e in evals:
        assert {"eval_loss", "eval_bleu", "eval_chrf", "eval_rougeL"} <= set(e)
        assert all(0 <= e[f"eval_{m}"] <= 100 for m in ("bleu", "chrf", "rougeL"))
    st = json.loads((rd / "status.json").read_text())
    assert st["best_metric_name"] == "chrf" and st["best_metric"] == max(e["eval_chrf"] for e in evals)
    report = json.loads((RunFolder(rd).report).read_text())
    test = pd.read_parquet(rd / "data" / "test.parquet")
    rows = read_jsonl(rd / "test_predictions.jsonl")
    assert report["task"] == "seq2seq" and report["n"] == len(rows) == len(test) == 4
    assert [r["text"] for r in rows] == test["source"].tolist()
    assert [r["reference"] for r in rows] == test["target"].tolist()
    assert (report["metrics"]
            == pytest.approx(s2s_training.text_metrics([r["output"] for r in rows], [r["reference"] for r in rows])))
    assert records[-1]["test_chrf"] == report["metrics"]["chrf"]
    # Did it help? The untrained base generated from the same test sources before the first step.
    assert set(report["base"]["metrics"]) == set(report["metrics"])
    assert records[-1]["base_test_chrf"] == report["base"]["metrics"]["chrf"]
    meta = json.loads((rd / "model" / "studio_model.json").read_text())
    assert meta["task"] == "seq2seq" and meta["peft"] and meta["task_args"]["max_new_tokens"] == 6


def test_the_reloaded_run_generates_what_the_test_report_shows(finished):
    _, _, rd, _ = finished
    rows = read_jsonl(rd / "test_predictions.jsonl")
    inference.forget(rd)
    preds = inference.predict(rd, [r["text"] for r in rows], max_new_tokens=6)
    assert [p["output"] for p in preds] == [r["output"] for r in rows]
    shorter = inference.predict(rd, [rows[0]["text"]], max_new_tokens=1)[0]["output"]
    assert len(shorter.split()) <= 1


def _greedy(model, tok, texts):
    enc = tok(texts, return_tensors="pt", padding=True, return_token_type_ids=False)
    return model.generate(**enc, max_new_tokens=6, do_sample=False, num_beams=1).tolist()


def _logits(model, tok, texts):
    """Teacher-forced next-token scores: finer than greedy tokens, which a small adapter may not change."""
    import torch

    enc = tok(texts, return_tensors="pt", padding=True, return_token_type_ids=False)
    with torch.no_grad():
        return model(**enc, labels=enc["input_ids"]).logits


def test_adapter_and_merged_exports_reload_and_generate_alike(finished, tmp_path):
    import torch
    from peft import AutoPeftModelForSeq2SeqLM
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    _, _, rd, _ = finished
    assert export.export_kinds(rd)[:2] == ["adapter", "merged"]
    texts = [r["text"] for r in read_jsonl(rd / "test_predictions.jsonl")]
    folders = {}
    for kind in ("adapter", "merged"):
        with zipfile.ZipFile(export.build_zip(rd, kind, tmp_path)) as zf:
            zf.extractall(tmp_path / kind)
        folders[kind] = tmp_path / kind
    card = (folders["merged"] / "README.md").read_text()
    assert "pipeline_tag: text2text-generation" in card and "| chrf |" in card
    tok = AutoTokenizer.from_pretrained(str(folders["merged"]))
    adapter = AutoPeftModelForSeq2SeqLM.from_pretrained(str(on_own_copy_of_base(folders["adapter"], rd))).eval()
    merged = AutoModelForSeq2SeqLM.from_pretrained(str(folders["merged"])).eval()
    run = inference.load(rd).model
    assert _greedy(merged, tok, texts) == _greedy(adapter, tok, texts) == _greedy(run, tok, texts)
    torch.testing.assert_close(_logits(merged, tok, texts), _logits(adapter, tok, texts), atol=1e-4, rtol=1e-4)
    with adapter.disable_adapter():  # the adapter does change the base, so agreeing above means something
        assert not torch.allclose(_logits(adapter, tok, texts), _logits(merged, tok, texts), atol=1e-4)


def _studio(*args, runs_dir, timeout=600):
    cmd = [sys.executable, "-m", "studio.cli", "--runs-dir", str(runs_dir), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), cwd=str(ROOT))


def test_cli_data_and_predict(finished, tmp_path):
    store, run_id, _, csv_path = finished
    proc = _studio("data", csv_path, "--task", "seq2seq", "--json", runs_dir=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert (rep["text_column"], rep["label_column"]) == ("source", "target") and rep["rows"]["train"] == 32
    proc = _studio("predict", run_id, "the red car is over there", "--max-new-tokens", "3", runs_dir=store.root)
    assert proc.returncode == 0, proc.stderr
    output, text = proc.stdout.rstrip("\n").split("\t")
    assert text == "the red car is over there" and len(output.split()) <= 3


def test_cli_trains_a_tiny_config(tiny_t5, tmp_path):
    csv_path = write_csv(tmp_path / "pairs.csv", pairs(20))
    config = {"task": "seq2seq",
              **tiny_config(tiny_t5, csv_path, "full", epochs=1, max_target_length=6, max_new_tokens=4)}
    (tmp_path / "run.json").write_text(json.dumps(config))
    runs = tmp_path / "runs"
    try:
        proc = _studio("train", tmp_path / "run.json", "--json", runs_dir=runs)
    finally:
        kill_active(Store(runs))
    assert proc.returncode == 0, proc.stderr[-3000:]
    kinds = [json.loads(line)["kind"] for line in proc.stdout.splitlines()]
    assert kinds[0] == "start" and "eval" in kinds and kinds[-1] == "test"


def test_reproduce_script_retrains_the_run_to_its_scores(finished, tmp_path):
    """The exported script (Seq2SeqTrainer generating at each evaluation, sacrebleu) reaches the run's test scores."""
    *_, rd, _ = finished
    got, want, folder = run_reproduce_script(rd, tmp_path)
    # The run's own split, column for column (text is the source as a person reads it).
    assert set(json.loads((folder / "data" / "test.jsonl").read_text().splitlines()[0])) == {"text", "source", "target"}
    assert set(got) == {"bleu", "chrf", "rougeL", "exact_match"}
    # Same seed, same code, same machine: the generated outputs score the same.
    assert got == pytest.approx(want, abs=0.5), (got, want)


# ------------------------------------------------------------- catalog --
@pytest.fixture(scope="module")
def minilm_seq2seq():
    return models.resolve("minilm-seq2seq")


@pytest.mark.slow
def test_the_catalog_base_is_built_once_and_loads_as_seq2seq(minilm_seq2seq, tmp_path, monkeypatch):
    from transformers import EncoderDecoderModel

    path = Path(minilm_seq2seq)
    assert path == models.built_target("minilm-seq2seq") and (path / "model.safetensors").exists()
    built = (path / "model.safetensors").stat().st_mtime_ns
    assert models.resolve("minilm-seq2seq") == path and (path / "model.safetensors").stat().st_mtime_ns == built
    tok = s2s_model.load_tokenizer(path)
    model = s2s_model.load_model(path, [], tok)
    assert isinstance(model, EncoderDecoderModel)
    assert ((model.config.decoder_start_token_id, model.config.pad_token_id, model.config.eos_token_id)
            == (CLS_ID, PAD_ID, SEP_ID))
    assert model.config.decoder.add_cross_attention and model.config.decoder.is_decoder
    layer = model.decoder.bert.encoder.layer[0]  # warm start: cross-attention begins as a copy of self-attention
    assert layer.crossattention.self.query.weight.equal(layer.attention.self.query.weight)
    # Without materialize, create() only checks the source and returns where the worker will build it.
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path))
    assert models.resolve("minilm-seq2seq", materialize=False) == tmp_path / "models" / "minilm-seq2seq"
    assert not (tmp_path / "models" / "minilm-seq2seq").exists()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["lora", "ia3", "prefix", "prompt", "freeze"])
def test_methods_on_the_catalog_base(minilm_seq2seq, method):
    """The methods that need architecture knowledge (IA3's modules, prefix/prompt's layer counts, freeze's stack)."""
    tok = s2s_model.load_tokenizer(minilm_seq2seq)
    model = methods.apply(s2s_model.load_model(minilm_seq2seq, [], tok), method, {}, s2s.TASK.model.peft_task_type,
                          total_steps=20)
    trainable, total = methods.count_parameters(model)
    assert 0 < trainable < total
    if method == "freeze":  # the top two decoder blocks train, no encoder block
        blocks = {".".join(n.split(".")[:5]) for n, p in model.named_parameters() if p.requires_grad and ".layer." in n}
        assert blocks == {"decoder.bert.encoder.layer.4", "decoder.bert.encoder.layer.5"}
    batch = s2s_tokens.collator(tok, model)([{"input_ids": tok("turn the lights off please",
                                                               return_token_type_ids=False)["input_ids"],
                                              "labels": s2s_tokens.encode_targets(tok, ["lights off"], 8)[0]}])
    model(**batch).loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    assert len(predict(model, tok, ["open the door"], max_new_tokens=3)[0]["output"].split()) <= 3


@pytest.mark.slow
def test_reproduce_script_builds_the_catalog_base_as_the_studio_does(finished, minilm_seq2seq, tmp_path):
    """A run on minilm-seq2seq (on no hub) exports a script that builds that base itself from MiniLM."""
    import importlib.util
    import shutil
    import sys

    from studio.export import reproduce

    *_, rd, _ = finished
    copy = tmp_path / rd.name
    shutil.copytree(rd, copy, ignore=shutil.ignore_patterns("checkpoints", "model"))
    cfg = json.loads((copy / "config.json").read_text())
    cfg["model"] = "minilm-seq2seq"
    (copy / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "reproduce_s2s.py").write_text(reproduce.script_and_packages(copy)[0])
    spec = importlib.util.spec_from_file_location("reproduce_s2s", tmp_path / "reproduce_s2s.py")
    script = sys.modules["reproduce_s2s"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    base = script.write_minilm_seq2seq(tmp_path / "base", models.bundled_path(models.find_entry("minilm")))
    tok = script.load_tokenizer(base)
    built = script.load_model(base, [], tok).state_dict()
    cached = s2s_model.load_model(minilm_seq2seq, [], s2s_model.load_tokenizer(minilm_seq2seq)).state_dict()
    assert built.keys() == cached.keys() and all(built[k].equal(cached[k]) for k in cached)
    assert tok("a test")["input_ids"] == s2s_model.load_tokenizer(minilm_seq2seq)("a test")["input_ids"]
