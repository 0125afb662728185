"""Where the bundled sample datasets live (assets/samples): files any run may read, whoever starts it."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"
