"""studio.training.head_init: the classification head starts from class prototypes."""

from __future__ import annotations

import numpy as np
import torch

from studio.tasks.text_classification import model as tc_model
from studio.training import head_init
from tests.support import separable_rows

LABELS = ["billing", "shipping", "technical"]


def _data():
    rows = separable_rows(20, tuple(LABELS), seed=11, words=(3, 8))
    return [r["text"] for r in rows], [LABELS.index(r["label"]) for r in rows]


def _accuracy(model, tok, texts, y):
    with torch.no_grad():
        logits = model.eval()(**tok(texts, padding=True, return_tensors="pt")).logits
    return float((logits.argmax(-1).numpy() == np.array(y)).mean())


def test_prototypes_classify_before_any_training_where_a_random_head_guesses(tiny_bert):
    texts, y = _data()
    tok = tc_model.load_tokenizer(tiny_bert)
    torch.manual_seed(0)
    model = tc_model.load_model(tiny_bert, LABELS, tok)
    random_acc = _accuracy(model, tok, texts, y)
    assert head_init.init_from_prototypes(model, tok, texts, y, len(LABELS), max_length=32, seed=0)
    proto_acc = _accuracy(model, tok, texts, y)
    assert proto_acc >= 0.8 and proto_acc > random_acc + 0.2, (random_acc, proto_acc)


def test_large_bases_average_fewer_rows_per_class(tiny_bert, monkeypatch):
    texts, y = _data()
    tok = tc_model.load_tokenizer(tiny_bert)
    model = tc_model.load_model(tiny_bert, LABELS, tok)
    seen = []
    handle = model.register_forward_pre_hook(lambda mod, args, kwargs: seen.append(kwargs["input_ids"].shape[0]),
                                             with_kwargs=True)
    try:
        head_init.init_from_prototypes(model, tok, texts, y, len(LABELS), max_length=32, per_class=16)
        assert sum(seen) == 16 * len(LABELS)
        seen.clear()
        monkeypatch.setattr(head_init, "LARGE_MODEL_PARAMETERS", 0)  # the tiny model now counts as large
        head_init.init_from_prototypes(model, tok, texts, y, len(LABELS), max_length=32, per_class=16)
        assert sum(seen) == head_init.LARGE_MODEL_ROWS_PER_CLASS * len(LABELS)
    finally:
        handle.remove()


def test_a_head_that_is_not_a_plain_linear_is_left_alone(tiny_bert):
    texts, y = _data()
    tok = tc_model.load_tokenizer(tiny_bert)
    model = tc_model.load_model(tiny_bert, LABELS, tok)
    model.classifier = torch.nn.Sequential(torch.nn.Linear(32, 3))
    before = model.classifier[0].weight.clone()
    assert not head_init.init_from_prototypes(model, tok, texts, y, len(LABELS), max_length=32)
    assert torch.equal(model.classifier[0].weight, before)


def test_a_flash_attention_model_computes_its_prototypes_with_sdpa_on_the_cpu(tiny_bert, monkeypatch):
    """The head starts before the Trainer moves the model to its GPU, and flash-attention cannot run on CPU
    tensors: the prototype passes take SDPA and the model keeps flash-attention for training. (flash-attn is not
    installed here: switching kernels is recorded rather than checked by transformers.)"""
    texts, y = _data()
    tok = tc_model.load_tokenizer(tiny_bert)
    model = tc_model.load_model(tiny_bert, LABELS, tok)
    monkeypatch.setattr(model, "set_attn_implementation",
                        lambda name: setattr(model.config, "_attn_implementation", name), raising=False)
    model.config._attn_implementation = "flash_attention_2"
    seen = []
    forward = model.forward

    def recording(*args, **kw):
        seen.append(model.config._attn_implementation)
        return forward(*args, **kw)

    monkeypatch.setattr(model, "forward", recording)
    assert head_init.init_from_prototypes(model, tok, texts, y, len(LABELS), max_length=32, seed=0)
    assert seen and set(seen) == {"sdpa"}
    assert model.config._attn_implementation == "flash_attention_2"
