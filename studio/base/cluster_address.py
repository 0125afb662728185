"""Which Ray cluster this studio sends its runs to, if any: `launch.py --ray ADDRESS`, `studio --ray ADDRESS` or the
STUDIO_RAY environment variable (`auto` joins the cluster this machine belongs to). Unset: the studio's own queue
on this machine. Read here, at the bottom of the house, because the checks of a config (studio.config.machine) differ
on a cluster, where Ray and not this machine decides where each process trains."""

from __future__ import annotations

import os
import re

from studio.base.errors import ConfigError

RAY_ENV = "STUDIO_RAY"
STORAGE_ENV = "STUDIO_CLUSTER_STORAGE"
# Set by a run's actor for its worker where run folders travel through object storage: the actor (by name) that
# gives the ranks of a run over several nodes their copies of it. The name only: the worker never holds the URL.
COPIES_ENV = "STUDIO_RUN_COPIES"


def ray_address() -> str | None:
    """The cluster's address, or None for the studio's own queue."""
    value = (os.environ.get(RAY_ENV) or "").strip()
    return value or None


def cluster_storage() -> str | None:
    """The object storage run folders travel through to the cluster's nodes (`--cluster-storage URL`), or None
    where every node mounts the runs folder itself."""
    value = (os.environ.get(STORAGE_ENV) or "").strip()
    return value or None


def parse_resources(text: str, field: str = "training.cluster_resources") -> dict[str, float]:
    """'name:amount, other:2' as a dict; a ConfigError naming the field and the fix otherwise."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        name, sep, amount = part.partition(":")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][\w.\-]{0,63}", name):
            raise ConfigError(f"{field}: {part!r} is not name:amount; write e.g. 'a100_pool:1' (letters, digits, "
                              "_ . - in the name).")
        if name in ("CPU", "GPU", "memory", "object_store_memory") or name.startswith("node:"):
            raise ConfigError(f"{field}: {name} is set by the run itself (training.cluster_cpus, the device, the "
                              "memory estimate); list only custom resources here.")
        try:
            value = float(amount)
        except ValueError:
            raise ConfigError(f"{field}: the amount of {name} must be a number, not {amount.strip()!r}.") from None
        if not 0 < value <= 10_000:
            raise ConfigError(f"{field}: the amount of {name} must be above 0 and at most 10000.")
        out[name] = value
    return out
