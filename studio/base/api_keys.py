"""API keys: how a person's own programs act as them on the studio's OpenAI-compatible endpoint.

A key is `sk-studio-` and 43 random URL-safe characters, shown once when it is made. The keys file
(`api_keys.json` in the runs folder) holds only each key's SHA-256, its owner, a label and its last four
characters: a random key of 256 bits needs no slow hash, and a leaked file gives no key. People make and revoke
their own keys on the Export tab; the server's operator with `studio keys add|list|remove NAME`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

from studio.base import files
from studio.base.access import check_name
from studio.base.errors import ConfigError

PREFIX = "sk-studio-"
FILE_NAME = "api_keys.json"
MAX_KEYS_PER_PERSON = 20
MAX_LABEL = 80


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeys:
    """The keys file of one runs folder."""

    def __init__(self, runs_dir: Path):
        self.path = Path(runs_dir) / FILE_NAME

    def _read(self) -> list[dict[str, Any]]:
        try:
            raw = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        keys = raw.get("keys") if isinstance(raw, dict) else None
        return [k for k in keys or [] if isinstance(k, dict) and isinstance(k.get("sha256"), str)]

    def create(self, name: str, label: str = "") -> str:
        """A new key for the person `name`; the only time the key itself is seen."""
        try:
            check_name(name)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        label = " ".join(str(label or "").split())[:MAX_LABEL]
        key = PREFIX + secrets.token_urlsafe(32)
        with files.locked(self.path.with_suffix(".lock")):
            keys = self._read()
            if sum(k.get("name") == name for k in keys) >= MAX_KEYS_PER_PERSON:
                raise ConfigError(f"{name} already has {MAX_KEYS_PER_PERSON} API keys; remove one first.")
            keys.append({"id": secrets.token_hex(4), "name": name, "label": label, "sha256": _digest(key),
                         "last4": key[-4:], "created": time.time()})
            files.atomic_write_json(self.path, {"keys": keys})
        return key

    def owner(self, key: str) -> str | None:
        """Whose key this is, or None for no key of this folder's."""
        if not isinstance(key, str) or not key.startswith(PREFIX) or len(key) > 200:
            return None
        digest = _digest(key)
        for k in self._read():
            if hmac.compare_digest(k["sha256"], digest):
                return k.get("name")
        return None

    def listed(self, name: str | None = None) -> list[dict[str, Any]]:
        """The keys (never their digests) of one person, or of everyone."""
        return [{f: k.get(f) for f in ("id", "name", "label", "last4", "created")}
                for k in self._read() if name is None or k.get("name") == name]

    def remove_all(self, name: str) -> int:
        """Revoke every key of a person (their account is gone); how many."""
        with files.locked(self.path.with_suffix(".lock")):
            keys = self._read()
            kept = [k for k in keys if k.get("name") != name]
            if len(kept) != len(keys):
                files.atomic_write_json(self.path, {"keys": kept})
        return len(keys) - len(kept)

    def remove(self, name: str, key_id: str) -> bool:
        """Revoke one of the person's keys by its id; False where they have none by that id."""
        with files.locked(self.path.with_suffix(".lock")):
            keys = self._read()
            kept = [k for k in keys if not (k.get("name") == name and k.get("id") == key_id)]
            if len(kept) == len(keys):
                return False
            files.atomic_write_json(self.path, {"keys": kept})
        return True
