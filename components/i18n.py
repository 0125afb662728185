"""English and Simplified Chinese, written where each text is: one mechanism, studio.base.text.Text.

`t("Start", "开始")` (or `t(text)` for a Text the engine wrote) returns a gr.I18n key and records both texts,
so every component label keeps its translations next to it instead of in a detached table; the browser picks
the language.

Text composed at run time (a status, a message) cannot be an I18n key: handlers take the request,
`Lang.of(request)` reads the browser's language from it, and `lang(en, zh)` or `lang(text)` picks the text to
send. Figures are drawn in the reader's language by studio.views.plots itself (`zh=lang.zh`). What engine errors
say stays English (they are the same for the CLI and the API); the page leads them with a sentence in the
reader's language. What the page shows as content is a Text at its source: every setting's help
(`setting(..., zh=)`), the data check's warnings, the split descriptions, the memory estimate. Logs and the
plain-data API endpoints (run_status, run_metrics) stay English; tests/components/test_browser_zh.py reads the
whole Chinese page for English sentences.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import gradio as gr

from studio.base.text import Text

LOCALES = ("en", "zh-CN", "zh")  # "zh" catches zh-SG, zh-HK and bare "zh" browsers
_TEXTS: dict[str, dict[str, str]] = {loc: {} for loc in LOCALES}
_I18N = gr.I18n()
# Keys gradio's own page uses that its zh-CN table lacks (the page would show the key itself).
GRADIO_GAPS = {"common.complete": ("Complete", "完成")}


def t(en: str, zh: str | None = None):
    """A translatable text: English first, Simplified Chinese second (or a Text, which carries both)."""
    en, zh = _pair(en, zh)
    key = "studio_" + hashlib.sha1(f"{en}\x00{zh}".encode()).hexdigest()[:12]
    _TEXTS["en"][key] = en
    _TEXTS["zh-CN"][key] = zh
    _TEXTS["zh"][key] = zh
    return _I18N(key)


def i18n() -> gr.I18n:
    """All texts recorded so far; call after the app is built and pass to launch(i18n=...)."""
    gaps = {loc: {key: pair[loc != "en"] for key, pair in GRADIO_GAPS.items()} for loc in LOCALES}
    return gr.I18n(**{loc: {**gaps[loc], **texts} for loc, texts in _TEXTS.items()})


@dataclass(frozen=True)
class Lang:
    """The reader's language for text made at run time: call it with the English and the Chinese."""

    zh: bool = False

    @classmethod
    def of(cls, request: gr.Request | None) -> "Lang":
        """Chinese when the browser asks for it first (Accept-Language); English otherwise, and for API clients."""
        headers = getattr(request, "headers", None) or {}
        first = (headers.get("accept-language") or "").split(",")[0].strip().lower()
        return cls(zh=first.startswith("zh"))

    def __call__(self, en: str, zh: str | None = None) -> str:
        en, zh = _pair(en, zh)
        return zh if self.zh else en

    def lead(self, en: str, zh: str, detail: str) -> str:
        """A sentence in the reader's language before an engine message (which stays English)."""
        return f"{self(en, zh)} {detail}" if self.zh else detail


EN = Lang()


def _pair(en, zh: str | None) -> tuple[str, str]:
    """(English, Chinese) of two strings, or of a Text given alone."""
    if zh is None:
        return str(en), en.zh if isinstance(en, Text) else str(en)
    return str(en), zh
