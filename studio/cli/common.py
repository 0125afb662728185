"""What every command shares: printing (text or JSON), durations, reading config files with --set overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from studio.base.errors import ConfigError
from studio.config import RunConfig


def show(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text if text is not None else data)


def show_table(rows: list[dict], as_json: bool, empty: str, header: str, line: Callable[[dict], str]) -> int:
    """A listing command's output: the rows as JSON, or `empty` when there are none, or a header and a line a row."""
    if as_json:
        show(rows, True)
    elif not rows:
        print(empty)
    else:
        print(header)
        for r in rows:
            print(line(r))
    return 0


def fmt_dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def apply_overrides(raw: dict, sets: list[str]) -> dict:
    for item in sets or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: write it as key=value, e.g. training.epochs=1.")
        key, val = item.split("=", 1)
        try:
            import yaml

            value = yaml.safe_load(val)
        except Exception:
            value = val
        node = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return raw


def read_mapping(path: Path, what: str) -> dict:
    """A YAML or JSON file holding a mapping, or a ConfigError saying what is wrong with it."""
    from studio.base import plain_yaml

    if not path.is_file():
        raise ConfigError(f"{what} file {path} does not exist.")
    raw = plain_yaml.load(path.read_text(encoding="utf-8"), f"{what} file {path}")  # YAML is a superset of JSON
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} file {path} must hold a mapping of settings (like data: {{train: file.csv}}), "
                          f"not a {type(raw).__name__}.")
    return raw


def load_config(a) -> RunConfig:
    path = Path(a.config)
    raw = apply_overrides(read_mapping(path, "Config"), a.set)
    return RunConfig.from_dict(raw, base_dir=path.parent)
