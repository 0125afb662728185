"""`studio cluster`: the Ray cluster the runs go to (`studio --ray ADDRESS` or STUDIO_RAY): its nodes with what they
have free and used, which runs train where, what queued runs wait for; `--check` asks every node whether it reaches
the runs folder."""

from __future__ import annotations

import json

from studio.base.errors import ConfigError
from studio.runs.cluster import storage, view


def cmd_cluster(a, store) -> int:
    if not store.cluster:
        raise ConfigError("No Ray cluster is named: `studio --ray ADDRESS cluster` (or set STUDIO_RAY); without one "
                          "the studio queues runs on this machine (`studio runs`).")
    if a.check:
        storage.forget()
    snap = view.snapshot(store)
    if a.json:
        print(json.dumps(snap, indent=2, default=str))
    else:
        print(view.text(snap))
    return 1 if a.check and snap.get("storage") else 0


def add_commands(add) -> None:
    p = add("cluster", cmd_cluster, "The Ray cluster runs go to (--ray): nodes, free and used resources, runs on "
                                    "each, what queued runs wait for.")
    p.add_argument("--check", action="store_true", help="Ask every node again whether it reaches the runs folder, "
                                                        "or the object storage of --cluster-storage (exit code 1 when "
                                                        "one does not).")
