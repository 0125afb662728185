"""YAML as people write configs: plain values, lists and mappings; no anchors, aliases or tags.

An alias (`*a`) repeats a node by reference, so a few hundred bytes of nested aliases expand into billions of values
once anything walks them (the "billion laughs"): a config or a sweep space from the page is read here, which refuses
aliases and anchors outright, bounds the text's size and nesting, and says so in one sentence. YAML's JSON subset
reads as before.
"""

from __future__ import annotations

from typing import Any

import yaml

from studio.base.errors import ConfigError

MAX_BYTES = 1_000_000
MAX_DEPTH = 50


class _Refused(Exception):
    pass


class PlainLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases and deep nesting as it composes the document."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _Refused("aliases (*name)")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _Refused("anchors (&name)")
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nesting deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(text: str, what: str = "config") -> Any:
    """The YAML (or JSON) document in `text`, or a ConfigError naming `what` and the problem."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_BYTES // 1_000_000} MB; that is not a config.")
    try:
        return yaml.load(text, Loader=PlainLoader)  # noqa: S506 - PlainLoader is a SafeLoader
    except _Refused as e:
        raise ConfigError(f"{what} uses YAML {e}, which the studio does not read; write the values out.") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{what} is not valid YAML or JSON: {e}") from None
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply to be a config.") from None
