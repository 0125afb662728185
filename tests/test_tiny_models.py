"""The tiny offline checkpoints from tests/tiny_models.py load and run."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

try:  # works whether or not tests/ is a package
    from tests.tiny_models import VOCAB_SIZE, make_tiny_bert, make_tiny_llama, make_tiny_t5
except ImportError:  # pragma: no cover - depends on pytest import mode
    from tiny_models import VOCAB_SIZE, make_tiny_bert, make_tiny_llama, make_tiny_t5

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import (  # noqa: E402
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

TEXTS = ["my card was charged twice, please refund it", "hello"]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny_models")


def test_bert_sequence_classification(tiny_root):
    path = make_tiny_bert(tiny_root / "bert")
    config = AutoConfig.from_pretrained(path)
    assert config.model_type == "bert"
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (32, 2, 2)
    assert config.vocab_size == VOCAB_SIZE

    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    tok = AutoTokenizer.from_pretrained(path)
    assert len(tok) == VOCAB_SIZE
    enc = tok(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**enc, labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 3)
    assert torch.isfinite(out.loss)


def test_llama_causal_lm_and_chat_template(tiny_root):
    path = make_tiny_llama(tiny_root / "llama")
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "llama"
    vocab = model.config.vocab_size
    assert vocab == len(tok) < VOCAB_SIZE // 5  # the cut vocabulary: the output layer is most of a tiny model
    assert tok.convert_ids_to_tokens([0, 100, 101, 102]) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    assert tok.unk_token_id not in tok("Refund my order #4521, thanks!")["input_ids"]  # any text still tokenizes
    ids = (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id)
    assert ids == (model.config.pad_token_id, model.config.bos_token_id, model.config.eos_token_id)
    assert len(set(ids)) == 3

    enc = tok(TEXTS, return_tensors="pt", padding=True)
    assert "token_type_ids" not in enc
    with torch.no_grad():
        out = model(**enc, labels=enc["input_ids"])
    assert out.logits.shape == (*enc["input_ids"].shape, vocab)
    assert torch.isfinite(out.loss)

    messages = [{"role": "user", "content": "where is my parcel?"}]
    prompt = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert "where is my parcel" in prompt and prompt.endswith("assistant: ")
    # transformers 5: apply_chat_template(tokenize=True) returns a BatchEncoding by default
    chat = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**chat, max_new_tokens=4, do_sample=False)
    assert gen.shape[1] > chat["input_ids"].shape[1]


def test_t5_seq2seq(tiny_root):
    path = make_tiny_t5(tiny_root / "t5")
    model = AutoModelForSeq2SeqLM.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    assert model.config.model_type == "t5"
    vocab = model.config.vocab_size
    assert vocab == len(tok) < VOCAB_SIZE // 5
    assert model.config.decoder_start_token_id == tok.pad_token_id
    assert model.config.eos_token_id == tok.eos_token_id

    enc = tok(TEXTS, return_tensors="pt", padding=True)
    labels = tok(["billing", "greeting"], return_tensors="pt", padding=True)["input_ids"]
    with torch.no_grad():
        out = model(**enc, labels=labels)
        gen = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert out.logits.shape == (*labels.shape, vocab)
    assert torch.isfinite(out.loss)
    assert (gen[:, 0] == tok.pad_token_id).all()


def test_idempotent_and_deterministic(tmp_path):
    first = make_tiny_bert(tmp_path / "a")
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert make_tiny_bert(first) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    second = make_tiny_bert(tmp_path / "b")
    assert (first / "model.safetensors").read_bytes() == (second / "model.safetensors").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # temp dirs cleaned
