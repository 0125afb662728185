"""What one person may use on this server: quotas and bounds, gathered in a named policy the operator can loosen.

    open     no limit: a laptop, or a team server whose people all trust each other (the default on 127.0.0.1)
    public   a public Space or a shared link: small runs, one at a time per person, nothing that reaches beyond
             the server (the default wherever the studio listens beyond this machine)

The operator picks one (`launch.py --policy public`, env STUDIO_POLICY) and changes any limit of it
(`--limit epochs=20 --limit wandb=true`, env STUDIO_LIMITS as JSON); workers and sweep drivers inherit both through
the environment. Admins and the machine itself (the CLI) have no limits. Each limit's help says what it bounds;
`studio limits` and the README list them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from studio.base.errors import ConfigError
from studio.base.settings import build, check_bounds, field_help, setting

POLICY_ENV = "STUDIO_POLICY"
LIMITS_ENV = "STUDIO_LIMITS"


@dataclass(frozen=True)
class Limits:
    """Per person, on this server; None (or true for a permission) leaves it unlimited."""

    runs_active: int | None = setting(None, "Runs one person may have queued or training at once; more are refused "
                                      "until one ends.",
                                      zh="每人同时排队或训练中的运行数上限；超出时新的运行会被拒绝，"
                                         "直到有运行结束。", min=1)
    runs_running: int | None = setting(None, "Runs of one person that train at the same time; the rest wait in the "
                                       "queue (others' runs go first).",
                                       zh="每人同时训练的运行数上限；其余运行在队列中等待（先让其他人的运行）。", min=1)
    disk_gb: float | None = setting(None, "Disk one person's runs, sweeps, labelling projects and uploads may take, "
                                    "in GB; a new run or upload beyond it is refused.",
                                    zh="每人的运行、搜索、标注项目和上传文件可占用的磁盘空间（GB）；"
                                       "超出后新的运行或上传会被拒绝。", min=0.01)
    model_billions: float | None = setting(None, "Largest base model, in billions of parameters (counted from its "
                                           "config on the meta device, no weights read).",
                                           zh="基础模型的最大规模，以十亿参数计（在 meta 设备上根据其配置统计，"
                                              "不读取权重）。", min=0.001)
    epochs: float | None = setting(None, "Most epochs one run may train.", zh="单个运行最多可训练的轮数。", min=0.01)
    max_length: int | None = setting(None, "Longest training.max_length (tokens per example).",
                                     zh="training.max_length 的上限（每个样本的词元数）。", min=8)
    num_processes: int | None = setting(None, "Most processes (GPUs) one run may use.",
                                        zh="单个运行最多可用的进程（GPU）数。", min=1)
    wall_minutes: float | None = setting(None, "Longest one run may train, in minutes; it is then stopped with a "
                                         "checkpoint (resume continues it, within the same limit).",
                                         zh="单个运行最长训练时间（分钟）；到时会保存检查点并停止（继续训练时仍受同一限"
                                            "制）。", min=0.01)
    sweep_trials: int | None = setting(None, "Most trials one sweep may run.",
                                       zh="单次超参数搜索最多可运行的试验数。", min=1)
    benchmarks_running: int | None = setting(None, "Benchmark jobs (Runs tab, `studio eval`) of one person that run "
                                             "at the same time; another is refused until one ends.",
                                             zh="每人同时运行的基准测试任务数（“运行”标签页、`studio eval`）；"
                                                "超出时会被拒绝，直到有任务结束。", min=1)
    benchmark_minutes: float | None = setting(None, "Longest one benchmark job may run, in minutes; it is then "
                                              "stopped and says so (fewer questions per benchmark fit).",
                                              zh="单个基准测试任务最长运行时间（分钟）；到时会停止并说明原因"
                                                 "（可减少每个基准的题目数）。", min=0.1)
    upload_mb: float | None = setting(None, "Largest file one person may upload, in MB.",
                                      zh="每人可上传的最大文件大小（MB）。", min=0.001)
    rows: int | None = setting(None, "Most rows a data file may have (counted before it is read whole; Parquet from "
                               "its metadata).",
                               zh="数据文件最多可有的行数（在完整读取之前统计；Parquet 文件读取其元数据）。", min=1)
    multi_machine: bool = setting(True, "Runs may span several machines (num_machines above 1, a rendezvous "
                                  "address that this server dials).",
                                  zh="运行可以跨多台机器（num_machines 大于 1，本服务器会连接的汇合地址）。")
    wandb: bool = setting(True, "Runs may log to Weights & Biases.", zh="运行可以记录到 Weights & Biases。")
    local_models: bool = setting(True, "Base models may be folders on this server (else catalog models and hub "
                                 "ids only).",
                                 zh="基础模型可以是本服务器上的文件夹（否则只能用模型目录中的模型和 Hub ID）。")
    server_secrets: bool = setting(True, "Runs may use this server's own HF_TOKEN and W&B key; off, each person's "
                                   "runs use only their own Hugging Face sign-in.",
                                   zh="运行可以使用本服务器自己的 HF_TOKEN 和 W&B 密钥；关闭时，"
                                      "每个人的运行只使用自己的 Hugging Face 登录。")

    def changed(self, **changes: Any) -> "Limits":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


OPEN = Limits()
PUBLIC = Limits(runs_active=2, runs_running=1, disk_gb=5.0, model_billions=1.0, epochs=20.0, max_length=1024,
                num_processes=1, wall_minutes=60.0, sweep_trials=8, benchmarks_running=1, benchmark_minutes=30.0,
                upload_mb=50.0, rows=200_000,
                multi_machine=False, wandb=False, local_models=False, server_secrets=False)
POLICIES = {"open": OPEN, "public": PUBLIC}


def named(policy: str, changes: dict[str, Any] | None = None) -> Limits:
    """A named policy with some of its limits changed (each checked: a name it has, a value within bounds)."""
    if policy not in POLICIES:
        raise ConfigError(f"policy: unknown policy {policy!r}; choose one of {', '.join(POLICIES)}.")
    base = POLICIES[policy]
    if not changes:
        return base
    changed = build(Limits, {**base.to_dict(), **changes}, "limit.")
    check_bounds(changed, "limit")
    return changed


def parse_changes(items: list[str] | None) -> dict[str, Any]:
    """`--limit NAME=VALUE` pairs as a mapping ("none" or "" lifts a limit)."""
    out: dict[str, Any] = {}
    names = {f["name"] for f in field_help(Limits)}
    for item in items or []:
        name, sep, value = str(item).partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in names:
            raise ConfigError(f"--limit {item!r}: write NAME=VALUE with NAME one of {', '.join(sorted(names))}.")
        value = value.strip()
        out[name] = None if value.lower() in ("", "none", "unlimited") else value
    return out


def current() -> Limits:
    """The limits this process runs under (STUDIO_POLICY and STUDIO_LIMITS; open when unset)."""
    raw = os.environ.get(LIMITS_ENV, "").strip()
    try:
        changes = json.loads(raw) if raw else {}
    except ValueError:
        raise ConfigError(f"{LIMITS_ENV} is not JSON: {raw[:80]!r}.") from None
    return named(os.environ.get(POLICY_ENV, "").strip() or "open", changes if isinstance(changes, dict) else {})


def policy_name() -> str:
    return os.environ.get(POLICY_ENV, "").strip() or "open"


def describe(limits: Limits) -> list[str]:
    """One line per limit that is set: what the page's policy note and `studio limits` list."""
    out = []
    for f in field_help(Limits):
        v = getattr(limits, f["name"])
        default = f["default"]
        if v is None or v == default:
            continue
        out.append(f"{f['name']} = {v}: {f['help']}")
    return out
