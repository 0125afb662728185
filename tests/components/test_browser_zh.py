"""The page in Simplified Chinese, read the way a person reads it: no English sentence left anywhere.

One app, one browser page in zh-CN: every tab, every closed panel opened, the fields' help texts, the data check
of the bundled sample (with max_length lowered so it warns) and of the NER sample (split by sentence). Every
visible text is searched for runs of English words; names (model ids, file names, LoRA, Hugging Face, code
identifiers, units) do not count. Screenshots land in tests/_artifacts/screenshots/ (zh-*.png).
"""

from __future__ import annotations

import re

import pytest

from tests.components.test_browser import SHOTS, browser, chromium_present  # noqa: F401

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow

# Everything a person reads: visible text nodes and the placeholders of visible fields. The data preview holds the
# file's own rows, the config box YAML: neither is the studio's text.
VISIBLE_TEXT_JS = """() => {
  const skip = '#data-preview, .cm-editor, .studio-log, [data-testid="code"]';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement, text = n.textContent.trim();
    if (text && el && !el.closest(skip) && el.checkVisibility({visibilityProperty: true})) out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (el.placeholder.trim() && !el.closest(skip) && el.checkVisibility({visibilityProperty: true}))
      out.push(el.placeholder.trim());
  }
  return out;
}"""
OPEN_PANELS_JS = """() => {
  let opened = 0;
  for (const b of document.querySelectorAll('button.label-wrap')) {
    const body = b.nextElementSibling;
    if (b.checkVisibility() && body && getComputedStyle(body).display === 'none') { b.click(); opened++; }
  }
  return opened;
}"""

# Names that are written the same in Chinese text (products, organisations).
NAMES = ("Hugging Face", "Weights & Biases")
# An English word standing alone: not part of an identifier, a file name, a path or a number (max_length,
# support_tickets.csv, all-MiniLM-L6-v2, bf16).
WORD = r"(?<![\w\-./@`'])[A-Za-z][a-z]*(?:'[a-z]+)?(?![\w\-/@`'])(?!\.\w)"
RUN = re.compile(rf"{WORD}(?:[ ;:()]+{WORD}){{2,}}")  # not across commas: a list of label names is no sentence
# A translation key that reached the page untranslated: the studio's (components.i18n) or gradio's own.
KEY = re.compile(r"^(?:studio_[0-9a-f]{12}|(?:common|errors|upload_text|dataframe|dropdown|file|plot|status|"
                 r"number|radio|checkbox|slider|label|login|code|audio|image|video|blocks)\.[a-z_]+)$")


def english(text: str) -> list[str]:
    """The runs of three or more English words in a text that read as a sentence (two of them lower case: "Hugging
    Face Hub" is a name, "Passes over the training data" is not)."""
    for name in NAMES:
        text = text.replace(name, " ")
    return [m.group(0) for m in RUN.finditer(text)
            if sum(w.islower() and len(w) > 1 for w in re.findall(r"[A-Za-z']+", m.group(0))) >= 2]


def test_the_detector_tells_sentences_from_names():
    assert english("Passes over the training data.") == ["Passes over the training data"]
    assert english("10% of msra_3k.txt (random by sentence, seed 42)") == ["random by sentence"]
    for fine in ("推送到 Hugging Face Hub", "每个文本的词元数（sentence-transformers/all-MiniLM-L6-v2）",
                 "LoRA Alpha 缩放", "数值格式：auto 在支持的 GPU 上选用 bf16 或 fp16",
                 "同时记录到 Weights & Biases（需要 `wandb login`）",
                 "best metric", "max_length 128", "processing | 5.7s", "billing, technical, shipping, account"):
        assert english(fine) == [], fine
    assert KEY.match("common.complete") and KEY.match("studio_0123456789ab") and not KEY.match("support_tickets.csv")


def read_page(page, where: str, seen: dict[str, str]) -> None:
    """Open every closed panel in view (panels inside panels too), then note each visible text by where it was."""
    for _ in range(3):
        if not page.evaluate(OPEN_PANELS_JS):
            break
        page.wait_for_timeout(300)
    for text in page.evaluate(VISIBLE_TEXT_JS):
        seen.setdefault(text, where)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(400)


@pytest.fixture(scope="module")
def app_options() -> dict:
    return {"prewarm": False}  # nothing trains here


def test_the_chinese_page_has_no_english_sentence(app, browser):  # noqa: F811
    url, _ = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=60_000)
    # The page is built in English; its load event redraws the data check for a Chinese reader (slow on a busy
    # machine): read it once that has arrived.
    page.wait_for_selector("text=分层抽样", timeout=60_000)
    seen: dict[str, str] = {}
    read_page(page, "数据", seen)
    for tab in ("数据", "模型与方法", "训练", "运行记录", "超参数搜索", "标注", "试用", "导出"):
        assert page.get_by_role("tab", name=tab, exact=True).is_visible(), tab
    assert page.get_by_text("内置示例数据").is_visible()
    assert "support_tickets.csv 的 10%（分层抽样，种子 42）" in seen  # the split descriptions

    # The Model tab: its help texts, then a max_length that the sample's texts pass, so the data check warns.
    open_tab(page, "模型与方法")
    read_page(page, "模型与方法", seen)
    assert "遍历训练数据的轮数。" in seen and "低秩更新的秩；越高学得越多，代价也越大。" in seen
    box = page.locator("#field-max_length input").first
    box.fill("16")
    box.press("Enter")
    page.wait_for_timeout(300)
    page.locator("#field-max_length input").first.press("Tab")
    open_tab(page, "训练")
    page.wait_for_timeout(1500)  # the run view's first tick draws the empty charts in Chinese
    read_page(page, "训练", seen)
    assert page.get_by_role("button", name="开始训练").is_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "zh-train.png"), full_page=True)
    open_tab(page, "数据")
    page.wait_for_selector("#data-warnings:has-text('max_length=16')", timeout=30_000)
    read_page(page, "数据（max_length=16）", seen)
    page.screenshot(path=str(SHOTS / "zh-data.png"), full_page=True)
    assert any("超过 max_length=16 个词元，将被截断" in text for text in seen), "the data check's warning"

    for tab in ("运行记录", "超参数搜索", "标注", "试用", "导出"):
        open_tab(page, tab)
        read_page(page, tab, seen)

    # Another task: the NER sample splits by sentence.
    open_tab(page, "数据")
    page.locator("#data-task input").click()
    page.get_by_role("option", name="词元分类（命名实体识别）", exact=True).click()
    page.wait_for_selector("#data-status:has-text('ner_sample.conll')", timeout=60_000)
    page.wait_for_selector("#data-status .studio-msg-ok", timeout=30_000)
    read_page(page, "数据（NER）", seen)
    assert "ner_sample.conll 的 10%（按句子随机，种子 42）" in seen
    open_tab(page, "模型与方法")
    read_page(page, "模型与方法（NER）", seen)
    page.screenshot(path=str(SHOTS / "zh-model-ner.png"), full_page=True)

    left = [f"{where}: {text!r} ({', '.join(english(text))})" for text, where in seen.items() if english(text)]
    keys = [f"{where}: {text!r}" for text, where in seen.items() if KEY.match(text)]
    assert not left and not keys, "English on the Chinese page:\n" + "\n".join(left + keys)
    assert not errors, errors
    page.close()

