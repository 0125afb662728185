"""A run's splits on disk: Parquet files in its data/ folder, exactly what it trained and was tested on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from studio.data.report import PreparedData


def save_splits(data: PreparedData, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, df in data.splits.items():
        df.to_parquet(folder / f"{k}.parquet", index=False)


def load_splits(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
