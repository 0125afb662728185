"""What a newcomer hits with real files, in headless Chromium (the findings of a first try, each checked).

CoNLL-2003 ships as train.txt; an SFT file under another task; SFT's charts; a headerless TSV; the training
log; the Chinese page at run time; base-vs-tuned figures; BIO tags out of order repaired in one click; a Chinese
file switching the English base to the multilingual one. Screenshots land in tests/_artifacts/screenshots/
(newcomer-*.png).
"""

from __future__ import annotations

import re
import shutil
import time

import pandas as pd
import pytest

from tests.components.test_browser import CHROMIUM, SHOTS, browser, chromium_present, open_tab, set_number, shot  # noqa: F401
from tests.components.test_browser_tasks import train
from tests.components.ui_support import ROOT

pytestmark = pytest.mark.slow
SAMPLES = ROOT / "assets" / "samples"
TRACES_JS = """(sel) => {
  const el = document.querySelector(sel + ' .js-plotly-plot');
  if (!el || !el.data) return null;
  const lay = el.layout || {};
  return {names: el.data.map(t => t.name), x: (lay.xaxis && lay.xaxis.title && lay.xaxis.title.text) || '',
          y: (lay.yaxis && lay.yaxis.title && lay.yaxis.title.text) || '',
          title: (lay.title && lay.title.text) || ''};
}"""


def traces(page, selector, ready=lambda t: True, timeout_s=30):
    """The chart's trace names and titles, once it is drawn and `ready` holds (a busy page draws late)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = page.evaluate(TRACES_JS, selector)
        if (found and ready(found)) or time.monotonic() > deadline:
            return found
        page.wait_for_timeout(250)


def new_page(browser, url, locale="en-US"):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, locale=locale)
    page.goto(url)
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    return page


def pick_task(page, label: str) -> None:
    page.locator("#data-task input").click()
    page.get_by_role("option", name=label, exact=True).click()


def upload(page, path) -> None:
    """Upload as a person would: a file already in the box is cleared first (its x), then the new one dropped."""
    if not page.locator("#data-upload input[type=file]").count():
        page.locator("#data-upload button[aria-label='Clear'], #data-upload .label-clear-button").first.click()
        page.wait_for_selector("#data-upload input[type=file]", state="attached", timeout=10_000)
    page.locator("#data-upload input[type=file]").set_input_files(str(path))


def status(page) -> str:
    return page.locator("#data-status").inner_text()


def take_the_offered_fix(page, refusal: str, button_id: str, shot_name: str):
    """The upload was refused with `refusal` and the one-click fix is offered: screenshot, click it; the button."""
    # The data check of an upload waits its turn behind others (a few at once): on a loaded machine, minutes.
    page.wait_for_selector(f"#data-status:has-text('{refusal}')", timeout=150_000)
    button = page.locator(f"#{button_id}")
    button.wait_for(state="visible", timeout=10_000)
    shot(page, shot_name)
    button.click()
    return button


def test_conll_files_named_txt_upload_and_a_refused_file_says_why(app, browser, tmp_path):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    pick_task(page, "Token classification (NER)")
    page.wait_for_selector("#data-status:has-text('Ready: ner_sample.conll')", timeout=60_000)
    train_txt = shutil.copy(SAMPLES / "ner_sample.conll", tmp_path / "train.txt")
    upload(page, train_txt)
    page.wait_for_selector("#data-status:has-text('Ready: train.txt')", timeout=60_000)
    shot(page, "newcomer-1-conll-txt")
    sheet = tmp_path / "budget.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not a table")
    upload(page, sheet)
    page.wait_for_selector("#data-status .studio-msg-error", timeout=30_000)
    assert "budget.xlsx: unsupported file type .xlsx" in status(page), status(page)
    assert "Ready" not in status(page)
    shot(page, "newcomer-2-refused")
    page.close()


def test_switching_the_task_says_what_happened_to_the_file(app, browser, tmp_path):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    pick_task(page, "Instruction tuning of a chat model (SFT)")
    page.wait_for_selector("#data-status:has-text('Ready: sft_sample.jsonl')", timeout=60_000)
    alpaca = shutil.copy(SAMPLES / "sft_sample.jsonl", tmp_path / "alpaca_data.jsonl")
    upload(page, alpaca)
    page.wait_for_selector("#data-status:has-text('Ready: alpaca_data.jsonl')", timeout=60_000)
    pick_task(page, "Token classification (NER)")
    page.wait_for_selector("#data-status:has-text('Switched to Token classification (NER)')", timeout=60_000)
    text = status(page)
    assert "alpaca_data.jsonl checked again for it" in text and "no column holds a list of tokens" in text, text
    assert "studio-msg-error" in page.locator("#data-status").inner_html()
    # The preview shows the file as read, never an empty table with placeholder headers.
    headers = page.locator("#data-preview thead th").all_inner_texts()
    assert not any(h.strip() in ("1", "2", "3") for h in headers), headers
    assert any("instruction" in h for h in headers), headers
    shot(page, "newcomer-3-task-switch")
    page.close()


def test_sft_charts_show_prompt_and_answer_tokens_and_turns(app, browser):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    pick_task(page, "Instruction tuning of a chat model (SFT)")
    page.wait_for_selector("#data-status:has-text('Ready: sft_sample.jsonl')", timeout=60_000)
    lengths = traces(page, "#data-lengths-plot", lambda t: set(t["names"]) == {"prompt", "answer"})
    bars = traces(page, "#data-counts-plot", lambda t: t["y"] == "conversations")
    assert set(lengths["names"]) == {"prompt", "answer"} and lengths["title"] == "Tokens per prompt and answer", lengths
    assert bars["x"] == "user turns per conversation" and bars["y"] == "conversations", bars
    assert "records" not in bars["names"] and "assistant_turns" not in str(bars)
    # max_length is empty by default: the data check says what the run will take, and why, also once it has
    # counted again with the SFT base the Model tab switched to (its empty field arrives as 0).
    page.wait_for_selector(".studio-card:has-text('SmolLM2')", timeout=60_000)
    page.wait_for_timeout(1000)
    summary = page.locator(".studio-card").first.inner_text()
    assert "Tokens per conversation" in summary, summary
    assert "max_length 64 from the data: 108 of 108 training records (100%) fit whole" in summary, summary
    shot(page, "newcomer-4-sft-charts")
    page.close()


def test_bio_tags_out_of_order_are_repaired_with_one_click(app, browser, tmp_path):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    pick_task(page, "Token classification (NER)")
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    lines = []
    for i in range(30):  # MSRA style: one character and its tag per line; one sentence starts its entity with I-
        name = ("I-PER" if i == 7 else "B-PER", "I-PER")
        lines += [f"李\t{name[0]}", f"明\t{name[1]}", "说\tO", "话\tO", ""]
    path = tmp_path / "msra_train.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    upload(page, path)
    button = take_the_offered_fix(page, "BIO tags out of order", "data-bio-fix", "newcomer-12-bio-out-of-order")
    page.wait_for_selector(":text('1 tag(s) were repaired')", timeout=60_000)
    assert "Ready: msra_train.txt" in status(page)
    assert page.locator("#data-repair-bio input").is_checked() and not button.is_visible()
    page.wait_for_timeout(2000)  # the charts redraw after the status
    shot(page, "newcomer-13-bio-repaired")
    page.close()


def test_records_that_cannot_be_read_are_left_out_with_one_click(app, browser, tmp_path):  # noqa: F811
    """The issue's preference set in small: chosen/rejected transcripts, two ending with a silent refusal (read),
    one whose user turn has no text (refused with the count; one click goes on without it)."""
    url, _ = app
    page = new_page(browser, url)
    pick_task(page, "Preference tuning of a chat model (DPO, ORPO, KTO)")
    page.wait_for_selector("#data-status:has-text('Ready: preference_sample.jsonl')", timeout=60_000)
    path = tmp_path / "refusals.jsonl"
    shutil.copy(ROOT / "tests" / "studio" / "tasks" / "bad_records" / "preference.jsonl", path)
    upload(page, path)
    button = take_the_offered_fix(page, "1 of the 30 records of refusals.jsonl cannot be read", "data-skip-fix",
                                  "newcomer-15-bad-record-refused")
    page.wait_for_selector(":text('1 record(s) could not be read and were left out')", timeout=60_000)
    assert "Ready: refusals.jsonl" in status(page)
    assert page.locator("#data-skip-bad-records input").is_checked() and not button.is_visible()
    page.wait_for_timeout(2000)  # the charts redraw after the status
    shot(page, "newcomer-16-bad-record-left-out")
    page.close()


def test_a_chinese_file_gets_the_multilingual_base(app, browser, tmp_path):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    upload(page, shutil.copy(SAMPLES / "hotel_reviews_zh.csv", tmp_path / "reviews.csv"))
    page.wait_for_selector("#data-status:has-text('Ready: reviews.csv')", timeout=60_000)
    open_tab(page, "Model & method")
    base = page.locator("#model-base")
    base.locator(":text('Picked for your data')").wait_for(timeout=30_000)
    assert "multilingual-e5-small" in base.locator("input").input_value()
    assert "minilm reads as unknown tokens" in base.inner_text()
    # The parameter count and memory estimate follow the new base.
    page.wait_for_selector("#param-count:has-text('intfloat/multilingual-e5-small')", timeout=60_000)
    shot(page, "newcomer-14-chinese-base")
    page.close()


def test_a_headerless_file_is_read_with_one_click(app, browser, tmp_path):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    rows = [("positive" if i % 2 else "negative", f"review {i}: the film was {'wonderful' if i % 2 else 'dreadful'} "
             "and I would tell my friends about it") for i in range(40)]
    path = tmp_path / "sentiment.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", header=False, index=False)
    upload(page, path)
    button = take_the_offered_fix(page, "seems to have no header row", "data-header-fix", "newcomer-5-headerless")
    page.wait_for_selector("#data-status:has-text('Ready: sentiment.tsv has 2 labels')", timeout=60_000)
    assert not page.locator("#data-header input").is_checked()
    assert not button.is_visible()
    shot(page, "newcomer-6-headerless-read")
    page.close()


def test_a_run_shows_base_beside_tuned_a_clean_log_and_a_chinese_page(app, browser, ui_tiny_model):  # noqa: F811
    url, _ = app
    page = new_page(browser, url)
    run_id = train(page, ui_tiny_model, "newcomer", epochs=2, max_length=32, learning_rate=3e-3)
    result = page.locator("#run-status .studio-run-result").inner_text()
    assert re.search(r"test accuracy [\d.]+ \(base [\d.]+\)", result), result
    log = page.locator("#train-log").inner_text()
    assert "new classification head: 2 tensors initialised" in log or "scoring the untrained base" in log, log
    assert "\x1b" not in log and "[1m" not in log and "| MISSING" not in log, log
    shot(page, "newcomer-7-train")
    page.close()

    zh = new_page(browser, url, locale="zh-CN")
    zh.wait_for_selector("#data-status:has-text('就绪')", timeout=60_000)  # the Data tab again, in Chinese
    counts = traces(zh, "#data-counts-plot", lambda t: t["title"] == "各标签行数")  # the status can land first
    assert counts["title"] == "各标签行数" and counts["x"] == "标签" and "训练集" in counts["names"], counts
    shot(zh, "newcomer-8-data-zh")
    open_tab(zh, "训练")
    zh.locator("#run-picker input").click()
    zh.get_by_role("option", name=re.compile(run_id)).click()
    zh.wait_for_selector("#run-status .studio-chip:has-text('已完成')", timeout=30_000)
    meta = zh.locator("#run-status .studio-run-meta").inner_text()
    assert "步" in meta and "step" not in meta, meta
    assert "基础模型" in zh.locator("#run-status .studio-run-result").inner_text()
    loss = traces(zh, "#loss-plot", lambda t: "训练损失" in t["names"])
    assert loss["x"] == "步数" and "训练损失" in loss["names"], loss
    shot(zh, "newcomer-9-train-zh")
    open_tab(zh, "运行记录")
    zh.locator("#runs-run input").click()
    zh.get_by_role("option", name=re.compile(run_id)).click()
    zh.wait_for_selector("#run-summary:has-text('基础模型（未训练）')", timeout=30_000)
    shot(zh, "newcomer-10-runs-zh")
    zh.close()
