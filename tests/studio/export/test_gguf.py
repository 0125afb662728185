"""GGUF export: files transformers reads back to the same model, the bundled SmolLM2's run through `studio export`,
an Ollama Modelfile, and a sentence for what cannot be written."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from studio import cli, export
from studio.base.errors import ExportError
from studio.config import RunConfig
from studio.export import gguf_export
from studio.runs.store import Store
from studio.tasks import chat
from tests.support import train_to_completion
from tests.tiny_models import make_tiny_bpe_chat

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"
QUESTION = [{"role": "user", "content": "Hello there, what is 2 + 2? 你好"}]
# The largest next-token logit difference allowed, as a share of the logits' spread: what each format rounds away.
TOLERANCE = {"f16": 0.01, "bf16": 0.05, "q8_0": 0.1}


def read_back(folder: Path, tokenizer: bool = True):
    """(model, tokenizer or None) as transformers reads the file: its own GGUF reader, independent of the studio's
    writer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf_export.GGUF_FILE, dtype=torch.float32)
    return model.eval(), (AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_export.GGUF_FILE)
                          if tokenizer else None)


def logits(model, tokenizer, messages=QUESTION) -> torch.Tensor:
    ids = torch.tensor([chat._prompt_ids(tokenizer, messages)])
    with torch.no_grad():
        return model(input_ids=ids).logits[0].float()


@pytest.mark.parametrize("architecture,quant,tied", [("llama", "f16", False), ("qwen2", "q8_0", True),
                                                      ("qwen3", "bf16", False)])
def test_a_written_file_reads_back_as_the_same_model(tmp_path_factory, monkeypatch, architecture, quant, tied):
    folder = make_tiny_bpe_chat(tmp_path_factory.mktemp("models") / f"{architecture}{tied}", architecture, tied)
    # A tiny vocabulary splits text as no real base does: name its split as the architecture's bases do, so the
    # test is about the weights' layout (the SmolLM2 run below goes through the real pre-tokenizer table).
    monkeypatch.setattr(gguf_export, "pre_tokenizer", lambda tok: "qwen2" if architecture != "llama" else "smollm")
    tok, model = chat.load_tokenizer(folder), chat.load_model(folder).eval()
    out = tmp_path_factory.mktemp("gguf")
    gguf_export.write_gguf_file(model, tok, model.config.to_dict(), out / gguf_export.GGUF_FILE, quant, "tiny",
                                folder)
    back = read_back(out, tokenizer=architecture == "llama")  # the vocabulary is the same in all three
    want, got = logits(model, tok), logits(back[0], tok)
    assert (want - got).abs().max() < TOLERANCE[quant] * want.std()
    assert (want - got).abs().max() > 0 or quant == "f16", "the format rounded something"
    if architecture == "llama":
        text = "Hello <|im_start|>user\nhi<|im_end|> 你好, 3.14! Give me three tips."
        assert back[1](text)["input_ids"] == tok(text)["input_ids"]
        assert back[1].chat_template == tok.chat_template

    import gguf

    fields = gguf.GGUFReader(str(out / gguf_export.GGUF_FILE)).fields
    assert fields["tokenizer.ggml.eot_token_id"].contents() == tok.convert_tokens_to_ids("<|im_end|>")
    assert fields["general.architecture"].contents() == architecture
    names = {t.name for t in gguf.GGUFReader(str(out / gguf_export.GGUF_FILE)).tensors}
    assert ("output.weight" in names) is not tied, "tied output weights are left to the embedding"


def test_the_rotary_reorder_is_undone_exactly():
    w = torch.arange(8 * 3, dtype=torch.float32).reshape(8, 3).numpy()
    moved = gguf_export._permute(w, 2)
    assert not (moved == w).all() and (gguf_export._unpermute(moved, 2) == w).all()


def test_the_ollama_template_is_made_only_where_its_pieces_render_chats_as_the_chat_template_does(tmp_path):
    """The Go string itself is not run here (no Go or Ollama): its pieces are checked by rendering test chats in
    Python against the Jinja template (gguf_export._renders_alike), and it is offered only where they match."""
    tok = chat.load_tokenizer(make_tiny_bpe_chat(tmp_path / "llama"))
    template = gguf_export.ollama_template(tok)
    assert template is not None and "{{-" not in template, "a trim marker would eat the turns' own newlines"
    assert template.count("<|im_start|>assistant\n") == 2  # the next-turn prompt and the one after a user turn
    tok.chat_template = ("{% for m in messages %}{% if loop.last %}LAST {% endif %}{{ m['content'] }}{% endfor %}")
    assert gguf_export.ollama_template(tok) is None, "a template that is not turn by turn is not guessed"
    assert "# No TEMPLATE" in gguf_export.modelfile(tok, None)


@pytest.fixture(scope="module")
def smollm2_run(tmp_path_factory):
    """The bundled SmolLM2 with LoRA trained a few steps on the SFT sample."""
    store = Store(tmp_path_factory.mktemp("gguf-runs"))
    cfg = {"task": "sft", "model": "smollm2", "method": "lora", "name": "desk-helper",
           "data": {"train": str(SAMPLE), "max_rows": 12},
           "training": {"epochs": 1, "batch_size": 8, "max_length": 32, "device": "cpu", "learning_rate": 1e-3,
                        "max_new_tokens": 4, "sample_prompts": 0, "logging_steps": 1}}
    run_id = train_to_completion(store, RunConfig.from_dict(cfg))
    return store, run_id


def test_studio_export_gguf_writes_a_file_that_answers_as_the_run(smollm2_run, tmp_path, capsys):
    store, run_id = smollm2_run
    run_dir = store.run_dir(run_id)
    assert set(gguf_export.GGUF_KINDS) <= set(export.export_kinds(run_dir))
    assert cli.main(["--runs-dir", str(store.root), "export", run_id, "--kind", "gguf", "--quant", "q8_0",
                     "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "GGUF q8_0:" in printed and "greedy replies keep" in printed
    zip_path = tmp_path / f"{run_id}-gguf-q8_0.zip"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "x")
    folder = tmp_path / "x"
    report = json.loads((folder / "export_report.json").read_text())
    assert report["size_bytes"] < 0.3 * report["original_size_bytes"], "q8_0 is about a quarter of fp32"
    assert report["top1_agreement"] >= 0.9 and report["probes"] == 3
    assert 0 < report["mean_abs_logit_difference"], "q8_0 rounds: a file that changed nothing was not read back"

    # The report's figures come from the written file read back (its tensors dequantized into the merged model);
    # transformers' own reader of the same files agrees with them (the tiny files above; bench/RESULTS.md "GGUF
    # export" for this SmolLM2: mean logit change 0.230 by the report, 0.232 by transformers).
    assert report["mean_abs_logit_difference"] < 0.05 * report["logit_spread"]
    assert report["max_abs_logit_difference"] < 0.3 * report["logit_spread"]

    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model.gguf") and 'PARAMETER stop "<|im_end|>"' in modelfile
    assert 'TEMPLATE """{{ if .System }}<|im_start|>system\n{{ .System }}<|im_end|>' in modelfile
    card = (folder / "README.md").read_text()
    assert "library_name: gguf" in card and "## GGUF export" in card and "ollama create" in card
    meta = json.loads((folder / "studio_model.json").read_text())
    assert meta["format"] == "gguf-q8_0" and meta["merged_from"] == "lora"


def test_what_cannot_be_gguf_is_refused_with_a_sentence(finished_run, tiny_llama, monkeypatch):
    store, run_id, _ = finished_run  # a text classifier on a tiny BERT
    run_dir = store.run_dir(run_id)
    assert not any(k.startswith("gguf") for k in export.export_kinds(run_dir))
    with pytest.raises(ExportError, match="cannot be exported as gguf-f16: GGUF holds decoder language models"):
        export.build_folder(run_dir, "gguf-f16", run_dir.parent / "never")
    meta = {"task": "sft"}
    assert "architecture GPT2LMHeadModel is not one" in gguf_export.why_not_gguf(
        meta, {"architectures": ["GPT2LMHeadModel"]})
    assert "rope scaling 'yarn'" in gguf_export.why_not_gguf(
        meta, {"architectures": ["Qwen2ForCausalLM"], "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})
    with pytest.raises(ExportError, match="WordPiece vocabulary"):
        gguf_export.pre_tokenizer(chat.load_tokenizer(tiny_llama))  # the MiniLM tokenizer the tiny Llama has
    with pytest.raises(ExportError, match="Unknown GGUF number format 'q4'"):
        gguf_export.write_gguf(run_dir, run_dir.parent / "never", "q4")


def test_an_operator_names_the_pre_tokenizer_of_a_vocabulary_of_their_own(tmp_path, monkeypatch):
    tok = chat.load_tokenizer(make_tiny_bpe_chat(tmp_path / "llama"))  # splits as no known base does
    with pytest.raises(ExportError, match="llama.cpp does not know by name"):
        gguf_export.pre_tokenizer(tok)
    monkeypatch.setenv(gguf_export.PRE_TOKENIZER_ENV, "smollm")
    assert gguf_export.pre_tokenizer(tok) == "smollm"
    monkeypatch.setenv(gguf_export.PRE_TOKENIZER_ENV, "gpt-9")
    with pytest.raises(ExportError, match="STUDIO_GGUF_PRE_TOKENIZER='gpt-9' is not a pre-tokenizer"):
        gguf_export.pre_tokenizer(tok)
