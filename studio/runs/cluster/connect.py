"""Joining the Ray cluster named by --ray / STUDIO_RAY, once per process."""

from __future__ import annotations

import socket
import threading

from studio.base.cluster_address import RAY_ENV, ray_address
from studio.base.errors import ConfigError

NAMESPACE = "studio"  # the runs' actors are named in it, so any process of the studio finds them
INSTALL = "pip install 'studio[ray]' (Ray 2.60 with Ray Train)"
_LOCK = threading.Lock()


def require_ray():
    """The ray module, or a sentence saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--ray (or {RAY_ENV}) sends runs to a Ray cluster, and Ray is not installed here: "
                          f"{INSTALL}.") from None
    return ray


def _answers(address: str, timeout: float = 5.0) -> bool:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return True  # not host:port (auto, ray://...): Ray itself says what is wrong
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def connect(address: str | None = None, log_to_driver: bool = False, runtime_env: dict | None = None):
    """ray, joined to the cluster at `address` (default: STUDIO_RAY); a ConfigError that says what to do when Ray
    is missing or no cluster answers there. runtime_env: for the processes this one starts on the nodes (the first
    join decides)."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    address = address or ray_address()
    if address is None:
        raise ConfigError(f"No Ray cluster is named: start the studio with --ray ADDRESS (or set {RAY_ENV}).")
    with _LOCK:
        if ray.is_initialized():
            return ray
        if address != "auto" and not _answers(address):
            raise ConfigError(f"No Ray cluster answers at {address}: start its head there with `ray start --head "
                              f"--port {address.rpartition(':')[2]}`, or name the head's address (host:port).")
        try:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=log_to_driver, logging_level="ERROR",
                     **({"runtime_env": runtime_env} if runtime_env else {}))
        except ConnectionError as e:
            raise ConfigError(f"Could not join the Ray cluster at {address}: {e}") from None
    return ray


def node_address(ray, node_id: str) -> str:
    """The address the node was started with (`ray start --node-ip-address`), as the cluster lists it."""
    for n in ray.nodes():
        if n.get("NodeID") == node_id:
            return n.get("NodeManagerAddress") or "?"
    return ray.util.get_node_ip_address()


def connected() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()
