"""Runs on a Ray cluster: the studio's queue handed to Ray, which decides where and when each run trains.

With `launch.py --ray ADDRESS` (or `studio --ray ADDRESS`, or STUDIO_RAY), every queued run becomes Ray work that
asks for what its config needs; the registry and the run folders stay the truth, on storage every node reaches.

    connect    joining the cluster (a clear sentence where Ray is missing or nobody answers)
    asks       what a run asks Ray for: CPUs, GPUs, memory from the estimate, custom resources, a GPU type
    executor   the queue's side: submitting queued runs, killing them, telling whether their work is still there
    node       what runs on the node Ray picks: one detached actor per run, which starts the studio's own worker,
               says it is alive, and picks the run up again on another node when its node dies
    train      one run over several processes and nodes with Ray Train's TorchTrainer, restarted from its last
               checkpoint when a worker's node dies
    storage    whether every node reaches the runs folder, checked before the first run
    view       the nodes, what they have free and used, which runs are where, and what queued runs wait for

Imports: base, config (and ray, only here); nothing above runs.
"""

from studio.runs.cluster.connect import NAMESPACE, connect, connected, require_ray

__all__ = ["NAMESPACE", "connect", "connected", "require_ray"]
