"""The one split policy of every task, and the seeded splits it is made of.

    1. validation and test come from their own files when the config gives them;
    2. else each takes its share of the training rows (data.validation_fraction, data.test_fraction), seeded by
       data.split_seed: stratified by the label where the task has one per row, so every split keeps the
       balance, else at random (NER sentences, conversations, pairs);
    3. a split with neither a file nor a share evaluates on the other held-out split;
    4. data.max_rows then samples the training split, the same way (stratified or at random), seeded.
A data set with no held-out rows at all (both shares 0, no files) prepares for a look, but a run refuses it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studio.base.errors import DataError
from studio.base.text import Text

HELD_OUT = ("validation", "test")
UNIT_ZH = {"sentence": "句子", "question": "问题", "conversation": "对话", "pair": "数据对"}  # what a split draws


def random_split(df: pd.DataFrame, fractions: dict[str, float], seed: int, name: str,
                 unit: str = "row") -> dict[str, pd.DataFrame]:
    """Seeded random split; every held-out split with a share gets at least one `unit` and train keeps one."""
    held = [k for k, f in fractions.items() if f > 0]
    if len(df) < len(held) + 1:
        raise DataError(f"{name} has {len(df)} usable {unit}(s), too few to split into train and {' and '.join(held)}; "
                        f"add {unit}s or provide validation/test files.")
    order = np.random.default_rng(seed).permutation(len(df))
    out, start = {}, 0
    for i, split in enumerate(held):
        k = max(1, int(round(len(df) * fractions[split])))
        k = min(k, len(df) - start - (len(held) - i))  # leave one for each later split and one for train
        out[split] = df.iloc[np.sort(order[start:start + k])].reset_index(drop=True)
        start += k
    out["train"] = df.iloc[np.sort(order[start:])].reset_index(drop=True)
    return out


def stratified_split(df: pd.DataFrame, fractions: dict[str, float], seed: int, name: str,
                     by: str = "label") -> dict[str, pd.DataFrame]:
    """Split per class (column `by`) so each split keeps the class balance; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    held = [s for s, f in fractions.items() if f > 0]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("train", *held)}
    need = 1 + len(held)
    for label, idx in sorted(df.groupby(by).indices.items()):
        n = len(idx)
        if n < need:
            raise DataError(f"{name}: class {label!r} has {n} row{'s' if n != 1 else ''}, too few to split into train "
                            f"and {' and '.join(held)} (needs {need}); add rows for it, remove it, or provide "
                            "validation/test files.")
        idx = rng.permutation(idx)
        start = 0
        for i, split in enumerate(held):
            k = max(1, int(round(n * fractions[split])))
            k = min(k, n - start - (len(held) - i - 1) - 1)  # leave one row for each later split and one for train
            parts[split].append(idx[start:start + k])
            start += k
        parts["train"].append(idx[start:])
    return {split: df.iloc[np.sort(np.concatenate(chunks)) if chunks
                           else np.array([], dtype=int)].reset_index(drop=True)
            for split, chunks in parts.items()}


def sample_rows(df: pd.DataFrame, n: int, seed: int, by: str | None = None) -> pd.DataFrame:
    """At most n rows, seeded: per class of column `by` in proportion (each class keeps one), else at random."""
    if len(df) <= n:
        return df
    rng = np.random.default_rng(seed)
    if by is None:
        return df.iloc[np.sort(rng.choice(len(df), n, replace=False))].reset_index(drop=True)
    frac = n / len(df)
    keep = [rng.choice(idx, size=max(1, int(round(len(idx) * frac))), replace=False)
            for _, idx in sorted(df.groupby(by).indices.items())]
    return df.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def split_rows(frames: dict[str, pd.DataFrame], source: dict[str, str], cfg, name: str, unit: str = "row",
               stratify: str | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """The policy above: `frames` holds train and the splits read from their own files, `source` where each came
    from; returns every split (train, validation, test, in that order, where there are any) and its source.

    cfg is a data.DataConfig; stratify names the label column to keep balanced (None: random)."""
    frames, source = dict(frames), dict(source)
    fractions = {k: getattr(cfg, f"{k}_fraction") for k in HELD_OUT if k not in frames}
    if any(f > 0 for f in fractions.values()):
        cut = stratified_split(frames["train"], fractions, cfg.split_seed, name, by=stratify) if stratify else \
            random_split(frames["train"], fractions, cfg.split_seed, name, unit=unit)
        whole = unit in ("row", "record")
        how = "stratified" if stratify else f"random{' by ' + unit if not whole else ''}"
        how_zh = "分层抽样" if stratify else "随机" if whole else f"按{UNIT_ZH.get(unit, unit)}随机"
        frames.update(cut)
        for k in cut:
            if k != "train":
                share = int(round(fractions[k] * 100))
                source[k] = Text(f"{share}% of {name} ({how}, seed {cfg.split_seed})",
                                 f"{name} 的 {share}%（{how_zh}，种子 {cfg.split_seed}）")
    for k in HELD_OUT:
        other = "test" if k == "validation" else "validation"
        if k not in frames and other in frames:
            frames[k], source[k] = frames[other], source[other]
    if cfg.max_rows:
        frames["train"] = sample_rows(frames["train"], cfg.max_rows, cfg.split_seed, by=stratify)
    return {k: frames[k] for k in ("train", *HELD_OUT) if k in frames}, source


def check_held_out(splits: dict[str, pd.DataFrame], name: str) -> None:
    """A run evaluates and reports on held-out rows: refuse data with none."""
    if not any(k in splits for k in HELD_OUT):
        raise DataError(f"{name}: no rows are held out for validation or test (both shares are 0 and no file is "
                        "given); give a validation or test file, or a data.validation_fraction above 0.")
