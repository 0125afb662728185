"""A run's checkpoints: which one a resume continues from (only a whole one counts)."""

from __future__ import annotations

import json
from pathlib import Path

from studio.base.runfolder import RunFolder


def last_checkpoint(run_dir: Path) -> Path | None:
    ck = RunFolder(Path(run_dir)).checkpoints
    if not ck.is_dir():
        return None
    cands = []
    for p in ck.glob("checkpoint-*"):
        try:
            step = int(p.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if _complete(p):
            cands.append((step, p))
    return max(cands)[1] if cands else None


def _complete(checkpoint: Path) -> bool:
    """trainer_state.json is written last, so a checkpoint torn by a crash or a full disk lacks it or holds
    half of it; only a whole one can be resumed from."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def checkpoint_step(ckpt: Path | None) -> int | None:
    try:
        return int(Path(ckpt).name.rsplit("-", 1)[1]) if ckpt else None
    except (IndexError, ValueError):
        return None
