"""Typed settings: dataclass fields that document themselves, and reading them from JSON/YAML with checks.

Every settings dataclass of the studio (each config section, a task's own settings, a sweep's, label review's)
declares its fields with `setting(default, help, min=, max=, choices=)`. The help text and bounds are the one
source for `studio train --help`, the UI's widgets and tooltips, and validation (`check_bounds`); `build` reads a
mapping into the dataclass, converting scalars to the declared types and naming the field that is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

from studio.base.errors import ConfigError
from studio.base.text import Text


@dataclasses.dataclass(frozen=True)
class NoSettings:
    """Settings of something that takes none (a method such as full fine-tuning, a task without its own)."""


def setting(default, help: str, zh: str | None = None, **meta):
    """A documented field: its default, a sentence of help (with `zh` its Simplified Chinese: the help is then a
    Text, which the UI shows in the reader's language), and optionally min, max and choices."""
    if zh is not None:
        help = Text(help, zh)
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def base_type(tp) -> tuple[type, bool]:
    """(the type without None, whether None is allowed): `int | None` -> (int, True)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(tp))
    return tp, False


def field_help(cls) -> list[dict[str, Any]]:
    """Every field of a settings dataclass: name, type, default, help and bounds (for --help, docs and forms)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        out.append({"name": f.name, "type": hints[f.name], "default": default, **dict(f.metadata)})
    return out


def check_bounds(obj, prefix: str) -> None:
    """Each field's value against its choices, min and max; a ConfigError names `prefix.field`."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        meta = f.metadata
        if "choices" in meta and v not in meta["choices"]:
            raise ConfigError(f"{prefix}.{f.name}: {v!r} is not one of {', '.join(map(str, meta['choices']))}.")
        if "min" in meta and isinstance(v, (int, float)) and v < meta["min"]:
            raise ConfigError(f"{prefix}.{f.name}: {v} is below the minimum {meta['min']}.")
        if "max" in meta and isinstance(v, (int, float)) and v > meta["max"]:
            raise ConfigError(f"{prefix}.{f.name}: {v} is above the maximum {meta['max']}.")


def _number(tp, value, where: str):
    kind = "a whole number" if tp is int else "a number"
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected {kind}, got {value!r}.")
    if isinstance(value, (int, float)) and (tp is float or isinstance(value, int) or value.is_integer()):
        return tp(value)
    if isinstance(value, str):
        try:
            return tp(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected {kind}, got {value!r}.")


def coerce(tp, value, where: str):
    """A JSON/YAML value as the field's declared type, or a ConfigError saying which field is wrong."""
    tp, optional = base_type(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: a value is required.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ConfigError(f"{where}: expected true or false, got {value!r}.")
    if tp in (int, float):
        return _number(tp, value, where)
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected text, got {type(value).__name__}.")
        return str(value)
    if tp is dict or typing.get_origin(tp) is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of settings, got {type(value).__name__}.")
        return dict(value)
    return value


def known(name: str, names, limit: int = 240) -> str:
    """Every known name, or, where they would not fit in one line, the closest ones first."""
    names = set(names)
    listed = ", ".join(sorted(names))
    if len(listed) <= limit:
        return listed
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.4)
    return f"{', '.join(close)} and {len(names) - len(close)} more (`studio train --help` lists them)"


def build(cls, raw: Any, prefix: str = ""):
    """`cls` from a mapping: unknown names refused, nested dataclasses built in turn, values coerced.

    A field whose metadata says `joined` (a comma-separated text) also takes a YAML list."""
    where = prefix.rstrip(".") or "config"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {type(raw).__name__}.")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        hint = f"known ones are {known(unknown[0], names)}" if names else "it takes none"
        raise ConfigError(f"{prefix}{unknown[0]}: unknown setting; {hint}.")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            continue
        value, tp = raw[f.name], hints[f.name]
        if f.metadata.get("joined") and isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        if dataclasses.is_dataclass(tp):
            kwargs[f.name] = build(tp, value, f"{prefix}{f.name}.")
        else:
            kwargs[f.name] = coerce(tp, value, f"{prefix}{f.name}")
    return cls(**kwargs)
