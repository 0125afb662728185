"""studio.views.data_check: what the Data tab shows is what a run will get."""

from __future__ import annotations

from pathlib import Path

from studio.config import DataConfig
from studio.views import data_check

SAMPLE = Path(__file__).resolve().parents[3] / "assets" / "samples" / "support_tickets.csv"



def test_datacheck_reports_splits_and_tokens():
    check = data_check.check(DataConfig(train=str(SAMPLE)), model="sentence-transformers/all-MiniLM-L6-v2",
                             max_length=64)
    assert check.ok and (check.text_column, check.label_column) == ("text", "label")
    assert check.report.rows == {"train": 192, "validation": 24, "test": 24}
    assert len(check.token_lengths) == 192 and max(check.token_lengths) < 64
    assert "support_tickets.csv" in data_check.list_samples()


def test_datacheck_keeps_the_preview_when_the_columns_are_wrong(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("text,label\n" + "".join(f"row {i},{'ab'[i % 2]}\n" for i in range(20)))
    check = data_check.check(DataConfig(train=str(f), text_column="label", label_column="label"))
    assert not check.ok and "two different columns" in check.error
    assert check.preview is not None and check.columns == ["text", "label"]


def test_a_file_of_another_task_is_named_with_the_task_that_reads_it(tmp_path):
    import shutil

    check = data_check.check(DataConfig(train=str(SAMPLE.parent / "ner_sample.conll")))
    assert not check.ok and "Text classification does not read .conll files" in check.error
    assert "Token classification (NER) does: pick that task" in check.error
    conll = shutil.copy(SAMPLE.parent / "ner_sample.conll", tmp_path / "train.txt")  # CoNLL-2003 ships as .txt
    assert data_check.check(DataConfig(train=str(conll)), task="token-classification").ok


def test_sft_charts_show_what_training_sees(tmp_path):
    """SFT's length chart is its prompt and answer tokens (adding up to the whole conversations the summary
    describes); its bar chart counts conversations by user turns, not 'records' and 'assistant_turns'."""
    check = data_check.check(DataConfig(train=str(SAMPLE.parent / "sft_sample.jsonl")),
                            model="sentence-transformers/all-MiniLM-L6-v2", task="sft")
    assert check.ok and set(check.length_series) == {"prompt", "answer"}
    whole = [p + a for p, a in zip(check.length_series["prompt"], check.length_series["answer"])]
    assert whole == check.token_lengths
    assert check.report.token_lengths["max"] == max(whole)
    x_title, y_title, bars = check.count_bars
    assert (x_title, y_title) == ("user turns per conversation", "conversations")
    assert set(bars) == {"train", "validation", "test"} and sum(bars["train"].values()) == check.report.rows["train"]


ZH_SAMPLE = SAMPLE.parent / "hotel_reviews_zh.csv"


def test_chinese_texts_with_an_english_tokenizer_get_a_sentence_naming_the_multilingual_base():
    check = data_check.check(DataConfig(train=str(ZH_SAMPLE)), model="minilm", max_length=64)
    assert check.ok and check.report.cjk_share > 0.9
    assert check.unknown_share > 0.3
    unreadable = [w for w in check.report.warnings if "[UNK]" in w]
    assert len(unreadable) == 1 and "multilingual-e5-small" in unreadable[0], check.report.warnings
    assert "multilingual-e5-small" in unreadable[0].zh and "未知词" in unreadable[0].zh
    english = data_check.check(DataConfig(train=str(SAMPLE)), model="minilm", max_length=64)
    assert english.report.cjk_share == 0.0 and not any("[UNK]" in w for w in english.report.warnings)


def test_the_multilingual_base_reads_the_chinese_sample_without_unknown_tokens():
    check = data_check.check(DataConfig(train=str(ZH_SAMPLE)), model="multilingual-e5-small", max_length=64)
    assert check.ok and check.unknown_share == 0.0
    assert not any("[UNK]" in w for w in check.report.warnings)


def test_counting_long_texts_prints_no_transformers_length_warning(tmp_path, capfd):
    """The studio says itself which texts are cut; transformers' "Token indices sequence length is longer than
    the specified maximum" line (printed while untruncated lengths are counted) only alarms."""
    f = tmp_path / "long.csv"
    f.write_text("text,label\n" + "".join(f"{'word ' * 700}{i},{'ab'[i % 2]}\n" for i in range(20)))
    check = data_check.check(DataConfig(train=str(f)), model="minilm", max_length=64)
    assert check.ok and max(check.token_lengths) > 512
    assert any("truncat" in w.lower() or "cut" in w.lower() for w in check.report.warnings), check.report.warnings
    assert "Token indices sequence length" not in capfd.readouterr().err
