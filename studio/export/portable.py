"""What an export says of the machine it was made on: names, never paths.

A run's config and its saved model's facts name the files and folders it was made from on the server (its data
file in the uploads folder, a base model's folder): an exported config, model card, adapter or script carries only
their names, which tell the reader what was used and reveal nothing of the server's folders.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from studio.models import portable_base

FILE_FIELDS = (("data", "train"), ("data", "validation"), ("data", "test"), ("distill", "transfer"))


def portable_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A run config (as a dict) with its base as others load it and its files by name."""
    out = copy.deepcopy(raw)
    if isinstance(out.get("model"), str):
        out["model"] = portable_base(out["model"])
    for section, name in FILE_FIELDS:
        part = out.get(section)
        if isinstance(part, dict) and isinstance(part.get(name), str) and part[name]:
            part[name] = Path(part[name]).name
    return out


def portable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A saved model's studio_model.json with its base as others load it."""
    out = dict(meta)
    if isinstance(out.get("base_model"), str):
        out["base_model"] = portable_base(out["base_model"])
    return out
