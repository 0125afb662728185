"""A text the studio shows people, in English and Simplified Chinese, written where it is used.

One mechanism for every translated text: engine code that names something a page shows (a task's title,
a chart's axis, an operation's description) writes a `Text(en, zh)`; the UI turns it into the reader's
language (components.i18n: `t(text)` for labels, `Lang.of(request)(text)` for run-time text). What the
engine says in errors and logs stays English.
"""

from __future__ import annotations

from typing import NamedTuple


class Text(NamedTuple):
    """English first, Simplified Chinese second."""

    en: str
    zh: str

    def pick(self, zh: bool) -> str:
        return self.zh if zh else self.en
