"""studio.cli.options: the command line's flags and help come from the settings dataclasses."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from studio.base.errors import ConfigError
from studio.cli import build_parser, config_help
from studio.cli.options import add_options, build_from
from studio.config import SECTIONS, DataConfig, RunConfig
from studio.sweeps import SweepSettings
from studio.tasks import all_tasks


def parser_for(cls, **kw) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_options(p, cls, **kw)
    return p


def test_every_data_field_has_its_flag_with_the_fields_help():
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["data"].format_help().split())
    for f in dataclasses.fields(DataConfig):
        if f.name != "train":
            flag = ("--no-" if f.default is True else "--") + f.name.replace("_", "-")
            assert flag in help_text, flag
            assert " ".join(f.metadata["help"].split())[:40] in help_text


def test_flags_build_the_dataclass_with_its_types_and_checks():
    p = parser_for(DataConfig, skip=("train",))
    got = build_from(p.parse_args(["--no-header", "--validation-fraction", "0.2", "--max-rows", "50"]), DataConfig,
                     train="x.csv")
    assert (got.header, got.validation_fraction, got.max_rows, got.split_seed) == (False, 0.2, 50, 42)
    with pytest.raises(ConfigError, match="validation_fraction: 0.9 is above the maximum 0.5"):
        build_from(p.parse_args(["--validation-fraction", "0.9"]), DataConfig, train="x.csv")
    with pytest.raises(SystemExit):  # a choice the field does not offer
        parser_for(SweepSettings).parse_args(["--sampler", "annealing"])


def test_train_help_lists_every_section_and_every_tasks_own_settings():
    text = config_help()
    for prefix, cls in {"": RunConfig, **{f"{k}.": v for k, v in SECTIONS.items()}}.items():
        for f in dataclasses.fields(cls):
            if not dataclasses.is_dataclass(f.type) and f.name not in SECTIONS:
                assert f"  {prefix}{f.name} (default" in text, prefix + f.name
    for task in all_tasks():
        for f in dataclasses.fields(task.settings):
            assert f"task_args.{f.name} ({task.name}; default" in text
    assert "distill.temperature" in text


def test_every_commands_help_prints():
    """`studio sweep --help` once ended in a traceback (a field's help said "40% of the steps" and argparse formats
    help with %): every command's and subcommand's help is formatted here, and shows that help as written."""
    def walk(parser: argparse.ArgumentParser, path: str):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")

    seen = {path: parser.format_help() for path, parser in walk(build_parser(), "studio")}
    assert {"studio train", "studio sweep", "studio accounts", "studio recover"} <= set(seen)
    assert "40% of the steps" in " ".join(seen["studio sweep"].split())
