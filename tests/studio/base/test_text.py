"""studio.base.text: a Text is its English and carries its Chinese, wherever it goes."""

from __future__ import annotations

import json
import pickle

from studio.base.text import Text, pick


def test_a_text_reads_as_its_english_everywhere_a_string_does():
    t = Text("prompt", "提示")
    assert t == "prompt" and {t: 1}["prompt"] == 1 and f"{t}s" == "prompts" and json.dumps(t) == '"prompt"'
    assert ((t.en, t.zh, t.pick(True), pick(t, False), pick("plain", True))
            == ("prompt", "提示", "提示", "prompt", "plain"))


def test_a_text_keeps_its_chinese_across_processes():
    assert pickle.loads(pickle.dumps(Text("label", "标签"))).zh == "标签"
    assert Text("same").zh == "same"
