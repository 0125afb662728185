"""Model loading every task shares: a tokenizer that can pad, a model loaded safely, one with a head sized to the
labels.

Plain functions over transformers: reproduce scripts carry them as they are.
"""

from __future__ import annotations

from studio.base.policy import trust_remote_code


def padded_tokenizer(path, **kw):
    """The model's tokenizer; decoder-only bases (SmolLM2, Llama) ship without a pad token, and any token does
    (labels and attention masks mark the padding)."""
    from transformers import AutoTokenizer

    kw.setdefault("trust_remote_code", trust_remote_code())
    tok = AutoTokenizer.from_pretrained(str(path), **kw)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    quiet_length_warning(tok)
    return tok


def quiet_length_warning(tokenizer) -> None:
    """Silence transformers' "Token indices sequence length is longer than the specified maximum" warning: the
    studio counts untruncated lengths on purpose (the data check's histograms) and truncates when it trains, and
    says so itself; the warning only alarms."""
    warned = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True


def pretrained_model(auto_cls, path, tokenizer=None, **kw):
    """`auto_cls.from_pretrained(path)` as every task loads a base: from safetensors only (a pickle,
    pytorch_model.bin, can run code when unpickled), remote code as the operator's policy says, and the
    tokenizer's pad token where the model names none."""
    kw.setdefault("use_safetensors", True)
    kw.setdefault("trust_remote_code", trust_remote_code())
    model = auto_cls.from_pretrained(str(path), **kw)
    if tokenizer is not None and model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


def labelled_model(auto_cls, path, labels, tokenizer=None, **kw):
    """`auto_cls` (AutoModelFor...Classification) with a head over `labels` (pretrained_model's checks)."""
    id2label = dict(enumerate(labels))
    return pretrained_model(auto_cls, path, tokenizer, num_labels=len(labels), id2label=id2label,
                            label2id={l: i for i, l in id2label.items()}, ignore_mismatched_sizes=True, **kw)
