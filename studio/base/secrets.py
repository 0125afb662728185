"""The server's own secrets (its Hugging Face token, its W&B key): held back from everyone who may not use them.

On a server many people use, `withhold()` (launch.py calls it before anything else is imported) takes the secrets out
of the process environment and keeps them here, and points huggingface_hub at a token file that does not exist, so
nothing in the web process, and no worker or spare started from it, uses them by accident. A run whose owner may
use them (the machine itself, an admin, or everyone where the policy's `server_secrets` allows it) gets them back in
its own worker's environment (`for_worker`); a person signed in with Hugging Face gets their own token there instead.
Secrets are never written to a file by the studio.
"""

from __future__ import annotations

import os

# Variables that carry credentials: never inherited by a worker that may not use them.
SECRET_NAMES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_API_TOKEN", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE")
WITHHELD_ENV = "STUDIO_SECRETS_WITHHELD"
NO_TOKEN_FILE = os.path.join(os.sep, "nonexistent", "studio-no-token")  # huggingface_hub finds no stored login there

_held: dict[str, str] = {}
_holder = False  # this process withheld them (the app): it alone can hand them to a worker


def withhold() -> list[str]:
    """Move the server's secrets out of os.environ (the stored hub login included); the names moved."""
    moved = []
    for name in SECRET_NAMES:
        value = os.environ.pop(name, None)
        if value:
            _held[name] = value
            moved.append(name)
    if "HF_TOKEN" not in _held:
        stored = _stored_hub_token()
        if stored:
            _held["HF_TOKEN"] = stored
            moved.append("HF_TOKEN (stored login)")
    os.environ["HF_TOKEN_PATH"] = NO_TOKEN_FILE
    os.environ[WITHHELD_ENV] = "1"
    global _holder
    _holder = True
    return moved


def withheld() -> bool:
    return os.environ.get(WITHHELD_ENV) == "1"


def can_hand_out() -> bool:
    """This process can give a worker the server's secrets: nothing was withheld (they are in the environment as
    ever), or this is the process that withheld them."""
    return not withheld() or _holder


def _stored_hub_token() -> str | None:
    path = os.environ.get("HF_TOKEN_PATH") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "token")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def server_secrets() -> dict[str, str]:
    """The server's secrets: those held back, or, where nothing was withheld (one person's machine), the
    environment's own."""
    if withheld():
        return dict(_held)
    return {k: os.environ[k] for k in SECRET_NAMES if os.environ.get(k)}


def without_secrets(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in SECRET_NAMES}


def on_node(env: dict[str, str], handed: dict | None) -> dict[str, str]:
    """A worker's environment on a node of a Ray cluster, from the node's own and what the studio handed its run
    (`{"uses": "server" | "own" | "none", "env": {...}}`, see Store.handed_secrets). The node's own secrets (and its
    stored hub login) stand in for the server's where the run may use those, as an operator who puts a token on
    the nodes means; a run that may not gets none of them. Work from before secrets were handed counts as "none"."""
    handed = handed or {}
    uses = handed.get("uses", "none")
    out = dict(env) if uses == "server" else without_secrets(env)
    if uses != "server":
        out["HF_TOKEN_PATH"] = NO_TOKEN_FILE  # nor the node's stored login
    out.update({k: v for k, v in (handed.get("env") or {}).items() if k in SECRET_NAMES and v})
    return out


def for_worker(env: dict[str, str], server: bool, token: str | None = None) -> dict[str, str]:
    """A worker's environment with only the secrets its run may use: the server's (server=True), or the owner's own
    hub token, or none."""
    out = without_secrets(env)
    if server:
        out.update(server_secrets())
    if token:
        out["HF_TOKEN"] = token
    return out
