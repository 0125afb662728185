"""The studio's cache folder: converted and built base models, base scores, embeddings, the datasets cache."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("STUDIO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "studio")
    return Path(root)
