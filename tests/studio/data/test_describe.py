"""studio.data.describe: the share of CJK letters in a data set and of tokens a tokenizer cannot read."""

from __future__ import annotations

import pandas as pd

from studio.data.describe import cjk_share, unknown_share


def test_the_cjk_share_counts_letters_of_every_script_and_reads_chats():
    assert cjk_share(["房间很干净", "服务很好"]) == 1.0
    assert cjk_share(["The room was clean.", "Great service!"]) == 0.0
    assert cjk_share(["こんにちは", "안녕하세요"]) == 1.0
    assert cjk_share(["房间 clean", "好 good"]) == 0.6  # 3 characters and 2 words; digits do not count
    assert cjk_share(["我用 iPhone 15 拍照"]) > 0.5
    chats = pd.Series([[{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]])
    assert cjk_share(chats) > 0.6  # four characters of text, two words of role names
    assert cjk_share([]) == 0.0 and cjk_share(["123 456"]) == 0.0


def test_the_unknown_share_is_what_the_tokenizer_reads_as_unk(tiny_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_bert)
    known = [w for w in tok.get_vocab() if w.isalpha()][:5]
    assert unknown_share([" ".join(known)], tok) == 0.0
    assert unknown_share(["房间 " + known[0]], tok) > 0.3
