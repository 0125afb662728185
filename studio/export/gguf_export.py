"""GGUF: a chat run's merged model as one file that llama.cpp, Ollama and LM Studio load, measured against the run.

The adapter is merged into the base in memory, then every tensor is written with
the `gguf` library under its llama.cpp name (the library's own TensorNameMap for the
architecture), one tensor at a time, so the writer holds no second copy of the model.
The tokenizer (tokens, their kinds, merges, special ids), the chat template and the
token that ends an assistant turn go into the metadata; a `Modelfile` for Ollama
beside it. The written file is then read back and its weights put into the merged
model, so the export report says what the number format cost: next-token logits and
greedy replies of the file's weights against the run's own, not assumed.

What is written is what llama.cpp's converter writes for the same model: the q/k rows
of the llama layout reordered for its rotary kernel, norms and biases in f32, a
llama3 rope's frequency factors as `rope_freqs.weight`, tied output weights left to
the embedding. Only byte-level BPE tokenizers whose pre-tokenizer llama.cpp knows are
written (SentencePiece vocabularies are refused with a sentence, as are other
architectures).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np

from studio.base import files, runfolder
from studio.base.errors import ExportError
from studio.base.runfolder import MODEL_META_NAME, RunFolder
from studio.export.onnx_export import load_torch_model, model_config_of
from studio.export.portable import portable_meta
from studio.tasks import get_task

QUANTS = ("f16", "bf16", "q8_0")
GGUF_KINDS = tuple(f"gguf-{q}" for q in QUANTS)
GGUF_FILE = "model.gguf"
MODELFILE = "Modelfile"
REPORT_FILE = "export_report.json"


@dataclass(frozen=True)
class Layout:
    """How one transformers architecture is written: llama.cpp's architecture name, and whether its q/k rows are
    reordered (llama.cpp's llama kernel rotates interleaved pairs; transformers rotates halves)."""

    arch: str
    permuted_qk: bool


LAYOUTS = {"LlamaForCausalLM": Layout("llama", True), "MistralForCausalLM": Layout("llama", True),
           "Qwen2ForCausalLM": Layout("qwen2", False), "Qwen3ForCausalLM": Layout("qwen3", False)}

# llama.cpp names the pre-tokenizer (how text is split before BPE) by a hash of one text's token ids; it refuses a
# file whose name it does not know, so only these are written (convert_hf_to_gguf.py's table, for the bases here).
PRE_TOKENIZER_PROBE = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) "
    "✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 "
    "កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= "
    "нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure "
    "I'll make it, 'D you like some tea? We'Ve a'lL")
PRE_TOKENIZERS = {
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",      # SmolLM, SmolLM2
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",   # Llama 3, 3.1, 3.2
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",       # Qwen1.5, Qwen2, 2.5, 3
    "63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e": "tekken",      # Mistral Nemo
}

# Three short chats the export report compares the file's answers on (one in Chinese: many of the studio's people).
PROBES = (
    [{"role": "user", "content": "Give me three tips for a tidy desk."}],
    [{"role": "system", "content": "You answer in one sentence."},
     {"role": "user", "content": "Why is the sky blue?"}],
    [{"role": "user", "content": "用一句话介绍你自己。"}],
)
GREEDY_TOKENS = 16


def _quant_type(quant: str):
    import gguf

    return {"f16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16,
            "q8_0": gguf.GGMLQuantizationType.Q8_0}[quant]


def _file_type(quant: str):
    import gguf

    return {"f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
            "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[quant]


def _architecture(model_config: dict[str, Any]) -> str:
    return ((model_config.get("architectures") or [""])[0]) or ""


def why_not_gguf(meta: dict[str, Any], model_config: dict[str, Any]) -> str | None:
    """None where the run can be written as GGUF, else the sentence that says why not (what it is, what can be)."""
    card = get_task(meta.get("task")).card
    if not getattr(card, "gguf", False):
        return (f"GGUF holds decoder language models for llama.cpp and Ollama; a {card.model_kind} is not one "
                "(export it as merged, adapter or ONNX instead)")
    arch = _architecture(model_config)
    if arch not in LAYOUTS:
        return (f"its architecture {arch or 'unknown'} is not one the studio writes as GGUF yet (it writes "
                f"{', '.join(sorted(LAYOUTS))})")
    rope = _rope(model_config)
    if rope["type"] not in ("default", "llama3"):
        return f"its rope scaling {rope['type']!r} is not one the studio writes as GGUF yet (default and llama3 are)"
    return None


def _rope(cfg: dict[str, Any]) -> dict[str, Any]:
    """The rotary settings wherever this transformers version keeps them (rope_parameters, or rope_theta and
    rope_scaling)."""
    params = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    theta = params.get("rope_theta") or cfg.get("rope_theta") or 10000.0
    kind = params.get("rope_type") or params.get("type") or "default"
    return {**params, "theta": float(theta), "type": kind}


def _head_dim(cfg: dict[str, Any]) -> int:
    return int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for q and k: each head's two rotary halves interleaved (its converter's permute)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _llama3_rope_factors(cfg: dict[str, Any], rope: dict[str, Any]) -> np.ndarray:
    """The per-frequency divisors of a llama3 rope, which llama.cpp reads from a rope_freqs tensor."""
    dim = _head_dim(cfg)
    freqs = 1.0 / (rope["theta"] ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factor = float(rope.get("factor", 8.0))
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old = float(rope.get("original_max_position_embeddings", 8192))
    low_wave, high_wave = old / low, old / high
    out = []
    for f in freqs:
        wave = 2 * math.pi / f
        if wave < high_wave:
            out.append(1.0)
        elif wave > low_wave:
            out.append(factor)
        else:
            smooth = (old / wave - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


# An operator may name llama.cpp's pre-tokenizer for a BPE vocabulary the hash table below does not know.
PRE_TOKENIZER_ENV = "STUDIO_GGUF_PRE_TOKENIZER"


def pre_tokenizer(tokenizer) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer; an ExportError where it is not a BPE one it knows."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    kind = type(getattr(backend, "model", None)).__name__
    if kind != "BPE":
        raise ExportError(f"its tokenizer is a {kind or 'slow'} vocabulary; the studio writes GGUF for byte-level BPE "
                          "tokenizers (Llama 3, Qwen, SmolLM) only")
    digest = sha256(str(tokenizer.encode(PRE_TOKENIZER_PROBE)).encode()).hexdigest()
    named = os.environ.get(PRE_TOKENIZER_ENV, "").strip()
    if digest not in PRE_TOKENIZERS and named:
        # The operator's word for a vocabulary of their own that splits text as a known one does: llama.cpp's
        # converter has no such switch, and people patch its table instead.
        if named not in set(PRE_TOKENIZERS.values()):
            raise ExportError(f"{PRE_TOKENIZER_ENV}={named!r} is not a pre-tokenizer the studio writes; use one of "
                              f"{', '.join(sorted(set(PRE_TOKENIZERS.values())))}")
        return named
    if digest not in PRE_TOKENIZERS:
        raise ExportError("its tokenizer splits text in a way llama.cpp does not know by name (pre-tokenizer hash "
                          f"{digest[:12]}...); llama.cpp would refuse the file")
    return PRE_TOKENIZERS[digest]


def _vocabulary(tokenizer, vocab_size: int) -> tuple[list[str], list[int]]:
    """Every id's token and kind, as llama.cpp's converter lists them (holes in the ids as unused [PADn])."""
    import gguf

    reverse = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.get_added_vocab()
    decoder = tokenizer.added_tokens_decoder
    tokens, kinds = [], []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            kinds.append(gguf.TokenType.UNUSED)
            continue
        token = reverse[i]
        if token in added:
            special = decoder[i].special if i in decoder else False
            kinds.append(gguf.TokenType.CONTROL if special or (token.startswith("<|") and token.endswith("|>"))
                         else gguf.TokenType.USER_DEFINED)
        else:
            kinds.append(gguf.TokenType.NORMAL)
        tokens.append(token)
    return tokens, kinds


def _tensors(model, cfg: dict[str, Any], layout: Layout):
    """(gguf name, shape, hf name or None, a function giving its float32 array as llama.cpp lays it out) of every
    tensor the file holds, in order; the arrays are made only when asked for, one at a time."""
    import gguf

    names = gguf.get_tensor_name_map(_arch_enum(layout.arch), int(cfg["num_hidden_layers"]))
    tied = bool(cfg.get("tie_word_embeddings"))
    heads = int(cfg["num_attention_heads"])
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reads the output weights from the embedding when there is no output tensor
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ExportError(f"its weight {hf_name} has no GGUF name for the {layout.arch} architecture")
        n_head = (heads if hf_name.endswith(("q_proj.weight", "q_proj.bias")) else
                  kv_heads if hf_name.endswith(("k_proj.weight", "k_proj.bias")) else None)

        def array(tensor=tensor, n_head=n_head):
            data = tensor.detach().float().numpy()
            return _permute(data, n_head) if layout.permuted_qk and n_head else data

        yield name, tuple(tensor.shape), hf_name, array
    rope = _rope(cfg)
    if rope["type"] == "llama3":
        factors = _llama3_rope_factors(cfg, rope)
        yield "rope_freqs.weight", factors.shape, None, lambda: factors


def _arch_enum(arch: str):
    import gguf

    return next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)


def _encoded_type(name: str, shape: tuple[int, ...], quant: str):
    """The GGML type a tensor is written in: norms, biases and rope factors stay f32, as llama.cpp keeps them; a
    matrix whose rows do not split into the format's blocks falls back to f16."""
    import gguf

    if len(shape) < 2 or name == "rope_freqs.weight":
        return gguf.GGMLQuantizationType.F32
    qtype = _quant_type(quant)
    if shape[-1] % gguf.GGML_QUANT_SIZES[qtype][0]:
        return gguf.GGMLQuantizationType.F16
    return qtype


def _encoded(data: np.ndarray, qtype) -> np.ndarray:
    import gguf

    if qtype == gguf.GGMLQuantizationType.F32:
        return data.astype(np.float32)
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16)
    return gguf.quants.quantize(data, qtype)


def _info(shape: tuple[int, ...], qtype) -> tuple[tuple[int, ...], Any, int]:
    """(shape as the writer takes it, numpy dtype, bytes) of a tensor before it is encoded."""
    import gguf

    if qtype == gguf.GGMLQuantizationType.F32:
        return shape, np.float32, int(np.prod(shape)) * 4
    if qtype == gguf.GGMLQuantizationType.F16:
        return shape, np.float16, int(np.prod(shape)) * 2
    byte_shape = gguf.quant_shape_to_byte_shape(shape, qtype)
    return byte_shape, np.uint8, int(np.prod(byte_shape))


def write_gguf_file(model, tokenizer, cfg: dict[str, Any], path: Path, quant: str, name: str,
                    tokenizer_dir: Path) -> dict[str, str]:
    """Write the model as one GGUF file at path, one tensor at a time; returns {gguf name: hf name}."""
    import gguf
    import torch

    from studio.tasks.chat import end_of_turn_ids

    layout = LAYOUTS[_architecture(cfg)]
    pre = pre_tokenizer(tokenizer)
    writer = gguf.GGUFWriter(str(path), layout.arch)
    writer.add_name(name)
    writer.add_context_length(int(cfg.get("max_position_embeddings") or 2048))
    writer.add_embedding_length(int(cfg["hidden_size"]))
    writer.add_block_count(int(cfg["num_hidden_layers"]))
    writer.add_feed_forward_length(int(cfg["intermediate_size"]))
    writer.add_head_count(int(cfg["num_attention_heads"]))
    writer.add_head_count_kv(int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"]))
    writer.add_layer_norm_rms_eps(float(cfg.get("rms_norm_eps") or 1e-6))
    writer.add_rope_freq_base(_rope(cfg)["theta"])
    head_dim = _head_dim(cfg)
    writer.add_rope_dimension_count(head_dim)
    if layout.arch == "qwen3" or head_dim != cfg["hidden_size"] // cfg["num_attention_heads"]:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    vocab_size = int(cfg["vocab_size"])
    writer.add_vocab_size(vocab_size)
    writer.add_file_type(_file_type(quant))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tokens, kinds = _vocabulary(tokenizer, vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(kinds)
    special = gguf.SpecialVocab(str(tokenizer_dir), load_merges=True, n_vocab=vocab_size)
    if not special.merges:
        raise ExportError("its tokenizer has no BPE merges to write")
    special.chat_template = tokenizer.chat_template or special.chat_template
    special.add_to_gguf(writer, quiet=True)
    ends = end_of_turn_ids(tokenizer)
    if ends:
        writer.add_eot_token_id(ends[0])

    # Every tensor's name, type and size first (the header needs them), then each encoded and written in turn.
    names: dict[str, str] = {}
    with torch.no_grad():
        for gname, shape, hf_name, _ in _tensors(model, cfg, layout):
            qtype = _encoded_type(gname, shape, quant)
            shape, dtype, nbytes = _info(shape, qtype)
            writer.add_tensor_info(gname, shape, np.dtype(dtype), nbytes, raw_dtype=qtype)
            if hf_name is not None:
                names[gname] = hf_name
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for gname, shape, _, array in _tensors(model, cfg, layout):
            writer.write_tensor_data(_encoded(array(), _encoded_type(gname, shape, quant)))
    writer.close()
    return names


def load_gguf_weights(model, path: Path, cfg: dict[str, Any], names: dict[str, str]) -> None:
    """Put the file's weights (dequantized, q/k rows back in transformers' order) into the model in place: the
    model then answers as the file does, with no second copy of it in memory."""
    import gguf
    import torch

    layout = LAYOUTS[_architecture(cfg)]
    heads = int(cfg["num_attention_heads"])
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    params = model.state_dict()
    reader = gguf.GGUFReader(str(path))
    with torch.no_grad():
        for t in reader.tensors:
            hf_name = names.get(t.name)
            if hf_name is None:
                continue
            data = gguf.quants.dequantize(t.data, t.tensor_type).reshape(params[hf_name].shape)
            if layout.permuted_qk and hf_name.endswith(("q_proj.weight", "q_proj.bias")):
                data = _unpermute(data, heads)
            elif layout.permuted_qk and hf_name.endswith(("k_proj.weight", "k_proj.bias")):
                data = _unpermute(data, kv_heads)
            params[hf_name].copy_(torch.from_numpy(np.array(data, dtype=np.float32)))


def _answers(model, tokenizer) -> tuple[list[np.ndarray], list[list[int]]]:
    """Next-token logits over each probe's prompt, and its greedy reply's ids."""
    import torch

    from studio.tasks.chat import _prompt_ids, end_of_turn_ids

    stops = [i for i in [tokenizer.eos_token_id, *end_of_turn_ids(tokenizer)] if i is not None]
    logits, replies = [], []
    with torch.inference_mode():
        for messages in PROBES:
            ids = torch.tensor([_prompt_ids(tokenizer, messages)])
            logits.append(model(input_ids=ids).logits[0].float().numpy())
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=GREEDY_TOKENS,
                                 do_sample=False, temperature=None, top_p=None, top_k=None,
                                 eos_token_id=stops or None, pad_token_id=tokenizer.pad_token_id or (stops or [0])[0])
            replies.append(out[0, ids.shape[1]:].tolist())
    return logits, replies


def _same_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def measure(before: tuple[list[np.ndarray], list[list[int]]], after: tuple[list[np.ndarray], list[list[int]]]
            ) -> dict[str, Any]:
    """What the file's number format changed: logits (largest and mean absolute difference, the share of prompt
    positions whose most likely next token is the same) and greedy replies (tokens alike before they part)."""
    (ref, ref_replies), (got, got_replies) = before, after
    diff = np.concatenate([np.abs(a - b).ravel() for a, b in zip(ref, got)])
    top = np.concatenate([a.argmax(-1) == b.argmax(-1) for a, b in zip(ref, got)])
    alike = sum(_same_prefix(a, b) for a, b in zip(ref_replies, got_replies))
    total = sum(max(len(a), len(b)) for a, b in zip(ref_replies, got_replies))
    return {"probes": len(ref), "max_abs_logit_difference": float(diff.max()),
            "mean_abs_logit_difference": float(diff.mean()),
            "logit_spread": float(np.concatenate([a.ravel() for a in ref]).std()),
            "top1_agreement": float(top.mean()),
            "greedy_tokens_alike": alike, "greedy_tokens": total,
            "greedy_replies_identical": sum(a == b for a, b in zip(ref_replies, got_replies))}


# ------------------------------------------------------------------------------------------------ Ollama --
_SENTINELS = {"system": "\x1fSYS\x1f", "user1": "\x1fUSR1\x1f", "assistant1": "\x1fAST1\x1f",
              "user2": "\x1fUSR2\x1f"}


def ollama_template(tokenizer) -> str | None:
    """The chat template as an Ollama (Go) TEMPLATE, derived by rendering sample chats with the Jinja template:
    the text before, between and after each turn. None where the template is not turn-by-turn (the derived one
    would not render the same chats the same), so the Modelfile leaves it to Ollama's own reading of the file."""
    from studio.tasks.chat import render

    s = _SENTINELS
    try:
        with_sys = render(tokenizer, [{"role": "system", "content": s["system"]},
                                      {"role": "user", "content": s["user1"]},
                                      {"role": "assistant", "content": s["assistant1"]},
                                      {"role": "user", "content": s["user2"]}], add_generation_prompt=True)
        no_sys = render(tokenizer, [{"role": "user", "content": s["user1"]}], add_generation_prompt=True)
        closed = render(tokenizer, [{"role": "user", "content": s["user1"]},
                                    {"role": "assistant", "content": s["assistant1"]}])
    except Exception:  # noqa: BLE001 - a template that cannot render these has no turn-by-turn form here
        return None
    try:
        sys_head, rest = with_sys.split(s["system"])
        sys_to_user, rest = rest.split(s["user1"])
        user_to_assistant, rest = rest.split(s["assistant1"])
        assistant_to_user, gen = rest.split(s["user2"])
        head, user_to_gen = no_sys.split(s["user1"])
        after_assistant = closed.split(s["assistant1"])[1]
    except ValueError:
        return None
    pieces = {"sys_head": sys_head, "sys_to_user": sys_to_user, "head": head, "user_to_assistant": user_to_assistant,
              "assistant_to_user": assistant_to_user, "gen": gen, "after_assistant": after_assistant}
    if user_to_gen != gen or not _renders_alike(tokenizer, pieces):
        return None
    q = {k: _go_text(v) for k, v in pieces.items()}
    # One line, no trim markers: a "{{-" would also eat the newline a turn's own text ends with.
    return ("{{ if .System }}" + q["sys_head"] + "{{ .System }}" + q["sys_to_user"] + "{{ else }}" + q["head"]
            + "{{ end }}{{ range $i, $m := .Messages }}{{ $last := eq (len (slice $.Messages $i)) 1 }}"
            "{{ if eq .Role \"user\" }}{{ .Content }}{{ if $last }}" + q["gen"] + "{{ else }}"
            + q["user_to_assistant"] + "{{ end }}"
            "{{ else if eq .Role \"assistant\" }}{{ .Content }}{{ if $last }}" + q["after_assistant"]
            + "{{ else }}" + q["assistant_to_user"] + "{{ end }}{{ end }}{{ end }}")


def _go_text(text: str) -> str:
    """Literal text inside a Go template: only a '{{' would be read as an action."""
    return text.replace("{{", '{{ "{{" }}')


def _template_render(pieces: dict[str, str], system: str | None, turns: list[str]) -> str:
    """What the derived TEMPLATE writes for a chat (user and assistant turns alternating, the user's first), in
    Python: checked against the Jinja template before the TEMPLATE is used."""
    out = [pieces["sys_head"] + system + pieces["sys_to_user"] if system else pieces["head"]]
    for i, text in enumerate(turns):
        last = i == len(turns) - 1
        if i % 2 == 0:
            out.append(text + (pieces["gen"] if last else pieces["user_to_assistant"]))
        else:
            out.append(text + (pieces["after_assistant"] if last else pieces["assistant_to_user"]))
    return "".join(out)


def _renders_alike(tokenizer, pieces: dict[str, str]) -> bool:
    from studio.tasks.chat import render

    chats = [(None, ["Hello there", "Hi! How can I help?", "Tell me a joke"]),
             ("Be brief.", ["What is 2+2?", "4", "And 3+3?", "6"]),
             (None, ["Only one question"])]
    for system, turns in chats:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
        asks = len(turns) % 2 == 1
        try:
            want = render(tokenizer, messages, add_generation_prompt=asks)
        except Exception:  # noqa: BLE001
            return False
        if want != _template_render(pieces, system, turns):
            return False
    return True


def modelfile(tokenizer, template: str | None) -> str:
    """An Ollama Modelfile beside the GGUF file: FROM it, its TEMPLATE, and stop at the end of a turn."""
    from studio.tasks.chat import end_of_turn_ids

    stops = []
    for i in [*end_of_turn_ids(tokenizer), tokenizer.eos_token_id]:
        text = tokenizer.convert_ids_to_tokens(i) if i is not None else None
        if text and text not in stops:
            stops.append(text)
    lines = [f"FROM ./{GGUF_FILE}", ""]
    if template is not None:
        lines += ['TEMPLATE """' + template + '"""', ""]
    else:
        lines += ["# No TEMPLATE: this model's chat template is not turn by turn, so Ollama reads the one in the",
                  "# GGUF file's metadata (tokenizer.chat_template) as it does for any GGUF it imports.", ""]
    lines += [f'PARAMETER stop "{t}"' for t in stops]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ export --
def write_gguf(run_dir: Path, dest: Path, quant: str) -> dict[str, Any]:
    """The run as dest/model.gguf with a Modelfile, studio_model.json and the export report (returned): size and
    what the number format changed, measured by reading the file back."""
    run_dir, dest = Path(run_dir), Path(dest)
    if quant not in QUANTS:
        raise ExportError(f"Unknown GGUF number format {quant!r}; choose one of {', '.join(QUANTS)}.")
    meta = runfolder.model_meta(run_dir)
    cfg = model_config_of(run_dir)
    why = why_not_gguf(meta, cfg)
    if why:
        raise ExportError(f"Run {run_dir.name} cannot be exported as GGUF: {why}.")
    t0 = time.time()
    model, tok, _ = load_torch_model(run_dir, dtype="auto")  # merged, in the precision the base is stored in
    cfg = model.config.to_dict()  # the merged model's own (a tokenizer resized by the run included)
    cfg.setdefault("architectures", [_architecture(model_config_of(run_dir))])
    try:
        pre_tokenizer(tok)
    except ExportError as e:
        raise ExportError(f"Run {run_dir.name} cannot be exported as GGUF: {e}.") from None
    before = _answers(model, tok)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / GGUF_FILE
    run_name = json.loads(RunFolder(run_dir).config.read_text()).get("name") or run_dir.name
    names = write_gguf_file(model, tok, cfg, path, quant, run_name, RunFolder(run_dir).model)
    seconds = time.time() - t0
    original = int(sum(p.numel() * p.element_size() for p in model.state_dict().values()))
    if cfg.get("tie_word_embeddings") and "lm_head.weight" in model.state_dict():
        original -= int(model.lm_head.weight.numel() * model.lm_head.weight.element_size())
    original_dtype = str(next(model.parameters()).dtype).replace("torch.", "")
    load_gguf_weights(model, path, cfg, names)
    after = _answers(model, tok)
    template = ollama_template(tok)
    (dest / MODELFILE).write_text(modelfile(tok, template), encoding="utf-8")
    files.atomic_write_json(dest / MODEL_META_NAME, {**portable_meta(meta), "peft": False, "format": f"gguf-{quant}",
                                                     **({"merged_from": meta["method"]} if meta.get("peft") else {})})
    report = {"format": f"gguf-{quant}", "quant": quant, "architecture": LAYOUTS[_architecture(cfg)].arch,
              "size_bytes": path.stat().st_size, "original_size_bytes": original, "original_dtype": original_dtype,
              "ollama_template": template is not None, "export_seconds": round(seconds, 1),
              **measure(before, after)}
    report["size_ratio"] = round(report["size_bytes"] / max(original, 1), 4)
    files.atomic_write_json(dest / REPORT_FILE, report)
    return report


def card_section(report: dict[str, Any]) -> list[str]:
    """Model-card lines: the file, how to run it, and what its number format changed."""
    mb = 1024 * 1024
    return ["## GGUF export", "",
            f"`{GGUF_FILE}` in {report['quant']} for llama.cpp, Ollama and LM Studio, with a `{MODELFILE}` for "
            "Ollama (`ollama create my-model -f Modelfile`).", "",
            f"| | original ({report['original_dtype']}) | this file |", "|---|---:|---:|",
            f"| size | {report['original_size_bytes'] / mb:.1f} MB | {report['size_bytes'] / mb:.1f} MB |", "",
            describe(report), ""]


def card_usage() -> list[str]:
    """How to run the file (the card's usage block is Python: llama-cpp-python)."""
    return ["# ollama create my-model -f Modelfile && ollama run my-model", "from llama_cpp import Llama", "",
            f'llm = Llama(model_path="PATH/{GGUF_FILE}", n_ctx=2048)',
            'out = llm.create_chat_completion(',
            '    messages=[{"role": "user", "content": "Give me three tips for a tidy desk."}])',
            'print(out["choices"][0]["message"]["content"])']


def describe(report: dict[str, Any]) -> str:
    """One sentence: size beside the original's and what the number format changed in the answers."""
    mb = 1024 * 1024
    return (f"GGUF {report['quant']}: {report['size_bytes'] / mb:.1f} MB (original "
            f"{report['original_size_bytes'] / mb:.1f} MB {report['original_dtype']}); on {report['probes']} test "
            "chats the most likely next token is the "
            f"original's at {100 * report['top1_agreement']:.1f}% of positions (largest logit difference "
            f"{report['max_abs_logit_difference']:.2g}, mean {report['mean_abs_logit_difference']:.2g}), and greedy "
            f"replies keep {report['greedy_tokens_alike']} of {report['greedy_tokens']} tokens before they part "
            f"({report['greedy_replies_identical']} of {report['probes']} identical).")
