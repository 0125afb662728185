"""How a model name becomes something from_pretrained loads: a catalog entry's folder, a local folder (checked:
safetensors only, no remote code unless allowed), or a hub id that is cached or reachable.

Bundled models' hub ids resolve to the hub's own copy when it is already in the local Hugging Face cache, else
to the bundled copy, so a config written offline runs unchanged elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.base.errors import ModelError
from studio.base.policy import hub_offline, local_models_allowed, trust_remote_code
from studio.models.bundled import bundled_path
from studio.models.catalog import bundled_available, find_entry

PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def check_folder(folder: Path, name: str) -> None:
    """Refuse a model folder whose weights are pickles, or whose code the operator has not allowed to run."""
    folder = Path(folder)
    if not any(folder.glob("*.safetensors")):
        pickles = sorted(f.name for pat in PICKLED_WEIGHTS for f in folder.glob(pat))
        if pickles:
            raise ModelError(f"{name} holds its weights only as {pickles[0]} (a Python pickle, which can run code when "
                             "loaded); the studio loads safetensors only: convert it with "
                             "model.save_pretrained(folder, safe_serialization=True) and point at that folder.")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(config, dict) and config.get("auto_map") and not trust_remote_code():
        raise ModelError(f"{name} needs custom code from its repository to load (auto_map in config.json), which this "
                         "server does not run; pick another model, or start the server with --trust-remote-code "
                         "(STUDIO_TRUST_REMOTE_CODE=1) if you trust its code.")


def check_hub(hub_id: str, timeout: float = 10.0, token: str | bool | None = None, cached_ok: bool = True) -> None:
    """For a hub id not in the local cache: make sure the hub can be reached and has it, before a run exists.

    token: whose hub access this is (a person's own token; False: anonymous; None: huggingface_hub's default).
    cached_ok=False asks the hub even for a cached model: the cache may hold a gated or private model that the
    server's token fetched, which a person without access to it must not use."""
    if (cached_ok and _hub_cached(hub_id) is not None) or Path(hub_id).exists():
        return
    if hub_offline():
        if not cached_ok and _hub_cached(hub_id) is not None:
            raise ModelError(f"{hub_id} is in this server's cache, but whether you may use it cannot be checked while "
                             "the hub is off (HF_HUB_OFFLINE); pick a catalog model.")
        raise _unreachable(hub_id, "offline mode: HF_HUB_OFFLINE is set")
    try:
        from huggingface_hub import HfApi

        info = HfApi().model_info(hub_id, timeout=timeout, token=token)
    except Exception as e:  # translate the client's error into one sentence
        names = {c.__name__ for c in type(e).__mro__}
        if "GatedRepoError" in names:  # before: huggingface_hub's GatedRepoError is a RepositoryNotFoundError
            raise ModelError(f"{hub_id} is a gated model; accept its terms on the hub, then sign in with that "
                             "Hugging Face account (on your own server: set HF_TOKEN).") from None
        if names & {"RepositoryNotFoundError", "RevisionNotFoundError"}:
            raise ModelError(f"There is no model {hub_id!r} on the Hugging Face Hub (or it is private); "
                             "check the id.") from None
        raise _unreachable(hub_id, type(e).__name__) from None
    files = [s.rfilename for s in (getattr(info, "siblings", None) or [])]
    if files and not any(f.endswith(".safetensors") for f in files):
        raise ModelError(f"{hub_id} publishes no safetensors weights, only pickles, which the studio does not load; "
                         "pick a model with model.safetensors.")


def _unreachable(hub_id: str, why: str) -> ModelError:
    return ModelError(f"Model {hub_id!r} is not in this server's Hugging Face cache and the hub is unreachable "
                      f"({why}); pick a catalog model or a local folder, or download it where the hub can be reached.")


def _hub_cached(hub_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        p = Path(snapshot_download(hub_id, local_files_only=True))
        return p if (p / "config.json").exists() else None
    except Exception:
        return None


def resolve(name: str, allow_local: bool | None = None, materialize: bool = True) -> Path | str:
    """Turn a model name into something `from_pretrained` loads.

    Returns a local folder for catalog entries and local paths, or the hub id
    unchanged for any other name (loaded, and then cached, by transformers).
    A local folder is refused where the server does not allow them (allow_local,
    by default the operator's choice: studio.base.policy.local_models_allowed).
    With materialize=False a bundled model that needs a one-time conversion is
    only checked, not converted, so a Start button can return at once and the
    worker converts it.
    """
    name = (name or "").strip()
    if not name:
        raise ModelError("No model given: pick one from the catalog or type a hub id or a local folder.")
    entry = find_entry(name)
    if entry is not None:
        cached = _hub_cached(entry.hub_id)
        if cached is not None:
            return cached
        if bundled_available(entry):
            return bundled_path(entry, materialize)
        return entry.hub_id
    p = Path(name).expanduser()
    if p.exists() or name.startswith((".", "/", "~")):
        if not (local_models_allowed() if allow_local is None else allow_local):
            raise ModelError("Local model folders are disabled on this server; pick a catalog model or a hub id "
                             f"instead of {name!r}.")
        if not p.is_dir():
            raise ModelError(f"Model folder {name} does not exist.")
        if not (p / "config.json").exists():
            raise ModelError(f"Model folder {name} has no config.json; point at a folder saved with save_pretrained.")
        check_folder(p, f"Model folder {name}")
        return p.resolve()
    if name.count("/") > 1 or any(c in name for c in ' \\:*?"<>|'):
        raise ModelError(f"{name!r} is neither a catalog model, a hub id (owner/name) nor an existing folder.")
    cached = _hub_cached(name)
    if cached is not None:
        check_folder(cached, name)
    elif hub_offline():  # transformers would fail later with a stack trace; say it now, before any run exists
        raise _unreachable(name, "offline mode: HF_HUB_OFFLINE is set")
    return name
