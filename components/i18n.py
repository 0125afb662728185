"""English and Simplified Chinese, written where each text is.

`t("Start", "开始")` returns a gr.I18n key and records both texts, so every component label keeps its
translations next to it instead of in a detached table; the browser picks the language.

Text composed at run time (a status, a message, a figure's axes) cannot be an I18n key: handlers take
the request, `Lang.of(request)` reads the browser's language from it, and `lang(en, zh)` picks the text
to send. Figures come from studio.serve.plots in English; `localise_figure` puts their axis titles, legend names
and notes into the reader's language. What engine errors and warnings say stays English (they are the
same for the CLI and the API); the page leads them with a sentence in the reader's language. Logs and the
plain-data API endpoints (run_status, run_metrics) stay English.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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

    def __call__(self, en: str, zh: str) -> str:
        return zh if self.zh else en

    def lead(self, en: str, zh: str, detail: str) -> str:
        """A sentence in the reader's language before an engine message (which stays English)."""
        return f"{self(en, zh)} {detail}" if self.zh else detail


EN = Lang()

# What studio.serve.plots writes on figures, in Chinese (axis titles, legend names, notes on empty figures).
PLOT_ZH = {
    "step": "步数", "loss": "损失", "score": "得分", "learning rate": "学习率", "label": "标签", "rows": "行数",
    "split": "划分", "tag": "标签", "predicted": "预测", "true": "真实", "train": "训练集", "validation": "验证集",
    "test": "测试集", "texts": "文本", "prompt": "提示", "answer": "回答", "source": "源文本", "target": "目标文本",
    "sentences": "句子", "conversations": "对话", "sources": "源文本", "tokens": "词元",
    "user turns per conversation": "每段对话的用户轮数",
    "tokens per text": "每条文本的词元数", "tokens per sentence": "每个句子的词元数",
    "tokens per conversation": "每段对话的词元数", "tokens per source": "每条源文本的词元数",
    "training loss": "训练损失", "validation loss": "验证损失", "validation accuracy": "验证准确率",
    "validation F1 (macro)": "验证 F1（宏平均）", "validation precision": "验证精确率", "validation recall": "验证召回率",
    "validation perplexity": "验证困惑度", "validation BLEU": "验证 BLEU", "validation chrF": "验证 chrF",
    "validation ROUGE-L": "验证 ROUGE-L", "validation token accuracy": "验证词元准确率",
    "validation entity F1 (micro)": "验证实体 F1（微平均）", "validation entity precision": "验证实体精确率",
    "validation entity recall": "验证实体召回率",
    "The loss appears here after the first logging step.": "第一次记录日志后，这里会显示损失。",
    "Validation scores appear here after the first evaluation.": "第一次评估后，这里会显示验证指标。",
    "The learning-rate schedule appears here once training starts.": "训练开始后，这里会显示学习率变化。",
    "Load data to see how its labels are distributed.": "加载数据后，这里会显示标签分布。",
    "Token lengths appear here once the model's tokenizer is available.": "模型的分词器可用后，这里会显示词元长度。",
    "The confusion matrix appears when a run has finished its test evaluation.": "运行完成测试评估后，这里会显示混淆矩阵。",
    "Pick two or more runs and press Compare.": "选择两个或更多运行，然后点击“比较”。",
    "Pick runs that have logged this metric to compare them.": "请选择记录了该指标的运行进行比较。",
}


def localise_figure(fig, lang: Lang):
    """The figure with its axis titles, legend names and notes in the reader's language (unknown text stays)."""
    if not lang.zh:
        return fig
    tr = lambda text: PLOT_ZH.get(text, text) if isinstance(text, str) else text  # noqa: E731
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = tr(trace.name)
    fig.for_each_xaxis(lambda ax: ax.update(title_text=tr(ax.title.text)) if ax.title.text else None)
    fig.for_each_yaxis(lambda ax: ax.update(title_text=tr(ax.title.text)) if ax.title.text else None)
    for note in fig.layout.annotations or ():
        note.text = tr(note.text)
    return fig
