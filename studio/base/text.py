"""A text the studio shows people, in English and Simplified Chinese, written where it is used.

One mechanism for every translated text: engine code that names something a page shows (a task's title, a
chart's axis, an operation's description) writes `Text("English", "中文")`. A Text *is* its English string (it
compares, hashes, prints and serialises as the English), so the CLI, logs, JSON and tests read it as they would
any string, and it carries its Chinese for the UI, which picks the reader's language (components.i18n: `t(text)`
for component labels, `Lang.of(request)(text)` for text made at run time; figures take `zh=`). What the engine
says in errors and logs stays English.
"""

from __future__ import annotations


class Text(str):
    """English, carrying its Simplified Chinese (`.zh`)."""

    zh: str

    def __new__(cls, en: str, zh: str | None = None) -> "Text":
        obj = super().__new__(cls, en)
        obj.zh = zh if zh is not None else str(en)
        return obj

    @property
    def en(self) -> str:
        return str(self)

    def pick(self, zh: bool) -> str:
        return self.zh if zh else str(self)

    def __reduce__(self):
        return (Text, (str(self), self.zh))

    def __repr__(self) -> str:
        return f"Text({str(self)!r}, {self.zh!r})"


def pick(text, zh: bool) -> str:
    """A Text in the chosen language; any other value as its string."""
    return text.pick(zh) if isinstance(text, Text) else str(text)
