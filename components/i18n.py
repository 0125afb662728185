"""English and Simplified Chinese, written where each component is built.

`t("Start", "开始")` returns a gr.I18n key and records both texts, so every
label keeps its translations next to it instead of in a detached table. The
browser picks the language; anything not translated falls back to English.
Messages composed at run time (engine errors, numbers) stay English.
"""

from __future__ import annotations

import hashlib

import gradio as gr

LOCALES = ("en", "zh-CN", "zh")  # "zh" catches zh-SG, zh-HK and bare "zh" browsers
_TEXTS: dict[str, dict[str, str]] = {loc: {} for loc in LOCALES}
_I18N = gr.I18n()


def t(en: str, zh: str):
    """A translatable text: English first, Simplified Chinese second."""
    key = "studio_" + hashlib.sha1(f"{en}\x00{zh}".encode()).hexdigest()[:12]
    _TEXTS["en"][key] = en
    _TEXTS["zh-CN"][key] = zh
    _TEXTS["zh"][key] = zh
    return _I18N(key)


def i18n() -> gr.I18n:
    """All texts recorded so far; call after the app is built and pass to launch(i18n=...)."""
    return gr.I18n(**{loc: dict(texts) for loc, texts in _TEXTS.items()})
