"""studio.base.limits: the named policies, changing one limit, reading them from the environment."""

from __future__ import annotations

import json

import pytest

from studio.base import limits
from studio.base.errors import ConfigError


def test_the_public_policy_bounds_what_open_leaves_free():
    assert limits.OPEN.runs_active is None and limits.OPEN.wandb
    p = limits.PUBLIC
    assert p.runs_active and p.runs_running == 1 and p.num_processes == 1 and not p.multi_machine
    assert not p.wandb and not p.local_models and not p.server_secrets and p.wall_minutes and p.disk_gb


def test_one_limit_changes_and_each_is_checked():
    changed = limits.named("public", limits.parse_changes(["epochs=50", "wandb=true", "disk_gb=none"]))
    assert changed.epochs == 50 and changed.wandb and changed.disk_gb is None
    assert changed.runs_active == limits.PUBLIC.runs_active
    with pytest.raises(ConfigError, match="NAME one of"):
        limits.parse_changes(["no_such=1"])
    with pytest.raises(ConfigError, match="below the minimum"):
        limits.named("public", {"runs_active": 0})
    with pytest.raises(ConfigError, match="unknown policy"):
        limits.named("lax")


def test_the_environment_carries_the_policy_to_workers(monkeypatch):
    monkeypatch.setenv(limits.POLICY_ENV, "public")
    monkeypatch.setenv(limits.LIMITS_ENV, json.dumps({"epochs": 7}))
    got = limits.current()
    assert got.epochs == 7 and got.runs_active == limits.PUBLIC.runs_active
    monkeypatch.delenv(limits.POLICY_ENV)
    monkeypatch.delenv(limits.LIMITS_ENV)
    assert limits.current() == limits.OPEN
    assert any(line.startswith("runs_active = 2") for line in limits.describe(limits.PUBLIC))
