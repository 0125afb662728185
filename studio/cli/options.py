"""Command-line options generated from the settings dataclasses, so every flag says what the config field says.

    add_options(parser, DataConfig, only=("text_column", "label_column"))   # --text-column, --label-column
    cfg = build_from(a, DataConfig, train=a.train)                           # the dataclass, checked

A bool field that is on by default becomes --no-<name>; one off by default, --<name>. Help, types, choices
and defaults come from the fields (studio.base.settings).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from studio.base.settings import base_type, build, check_bounds, field_help


def _help(text: str) -> str:
    """A field's help as argparse's: it formats help with %, so a literal one ("40% of the steps") is written %%."""
    return text.replace("%", "%%")


def _dest(prefix: str, name: str) -> str:
    return f"{prefix.replace('-', '_')}{name}"


def add_options(parser: argparse.ArgumentParser, cls, only: tuple[str, ...] | None = None, skip: tuple[str, ...] = (),
                prefix: str = "", defaults: dict[str, Any] | None = None) -> None:
    """One option per field of `cls` (those in `only`, less `skip`); `defaults` override the fields' own."""
    for spec in field_help(cls):
        name = spec["name"]
        if (only is not None and name not in only) or name in skip or dataclasses.is_dataclass(spec["type"]):
            continue
        tp, _ = base_type(spec["type"])
        default = (defaults or {}).get(name, spec["default"])
        flag, dest = "--" + prefix + name.replace("_", "-"), _dest(prefix, name)
        if tp is bool:
            if default:
                parser.add_argument("--" + prefix + "no-" + name.replace("_", "-"), dest=dest, action="store_false",
                                    default=None, help=_help(f"Turn off: {spec['help']}"))
            else:
                parser.add_argument(flag, dest=dest, action="store_true", default=None, help=_help(spec["help"]))
            continue
        shown = f" (default {default})" if default not in (None, "") else ""
        parser.add_argument(flag, dest=dest, type=tp if tp in (int, float) else str, choices=spec.get("choices"),
                            default=None, metavar=None if spec.get("choices") else name.upper(),
                            help=_help(spec["help"] + shown))
        if defaults and name in defaults:
            parser.set_defaults(**{dest: defaults[name]})


def given(a: argparse.Namespace, cls, prefix: str = "") -> dict[str, Any]:
    """The fields of `cls` the command line set (None: left to the dataclass's default)."""
    return {f.name: getattr(a, _dest(prefix, f.name)) for f in dataclasses.fields(cls)
            if getattr(a, _dest(prefix, f.name), None) is not None}


def build_from(a: argparse.Namespace, cls, prefix: str = "", **fixed):
    """`cls` from the options the command line set and `fixed` values, checked against its bounds."""
    out = build(cls, {**given(a, cls, prefix), **fixed}, prefix)
    check_bounds(out, prefix.rstrip(".-") or cls.__name__)
    return out


def field_lines(cls, prefix: str, note: str = "") -> list[str]:
    """Each field as two help lines: `prefix.name (note; default ...) [choices or bounds]` and its help."""
    lines = []
    for f in field_help(cls):
        if dataclasses.is_dataclass(f["type"]):
            continue
        extra = ""
        if "choices" in f:
            extra = f" [{'|'.join(map(str, f['choices']))}]"
        elif "min" in f or "max" in f:
            extra = f" [{f.get('min', '')}..{f.get('max', '')}]"
        lines += [f"  {prefix}{f['name']} ({note + '; ' if note else ''}default {f['default']!r}){extra}",
                  f"      {f['help']}"]
    return lines
