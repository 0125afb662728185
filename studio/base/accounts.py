"""Accounts of a server with logins: names, hashed passwords, and who is an admin.

An accounts file holds one account per line, `name:hash` or `name:hash:admin` (`#` starts a comment); the hash is
scrypt's (`scrypt$n$r$p$salt$digest`), so the file never holds a password. `studio accounts add NAME` writes a line
(asking for the password, or reading it from standard input); `launch.py --auth-file FILE` reads them, and
`--auth NAME:PASSWORD` adds an account on the command line (held hashed in memory, like the others).

Checking a password takes the same time whether or not the name exists, so names cannot be probed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.base.access import check_name
from studio.base.errors import ConfigError

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}  # about 16 MB and a few tens of milliseconds per check
ADMIN = "admin"


def hash_password(password: str, salt: bytes | None = None) -> str:
    if not password:
        raise ConfigError("A password cannot be empty.")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, **SCRYPT, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, hashed: str) -> bool:
    try:
        kind, n, r, p, salt, digest = hashed.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY = hash_password("not a password", salt=b"\0" * 16)  # what an unknown name is checked against


@dataclass
class Accounts:
    """Names to password hashes, and the admins among them."""

    hashes: dict[str, str] = field(default_factory=dict)
    admins: set[str] = field(default_factory=set)

    def add(self, name: str, password: str | None = None, hashed: str | None = None, admin: bool = False) -> None:
        try:
            check_name(name)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        self.hashes[name] = hashed or hash_password(password or "")
        if admin:
            self.admins.add(name)

    def verify(self, name: str, password: str) -> bool:
        """The login form's check (gradio's `auth` callable)."""
        hashed = self.hashes.get(name)
        ok = check_password(password or "", hashed or _DUMMY)
        return ok and hashed is not None

    def is_admin(self, name: str) -> bool:
        return name in self.admins

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def read(cls, path: str | Path) -> "Accounts":
        """An accounts file; a line that is not `name:hash[:admin]` is refused with its number."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"The accounts file {path} cannot be read ({e.strerror or e}).") from None
        out = cls()
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(":")
            if len(parts) not in (2, 3) or not parts[1].startswith("scrypt$") or (
                    len(parts) == 3 and parts[2] != ADMIN):
                raise ConfigError(f"{path} line {number}: write name:hash or name:hash:admin (studio accounts add "
                                  "writes such lines); passwords are never written in the file.")
            out.add(parts[0], hashed=parts[1], admin=len(parts) == 3)
        return out

    @staticmethod
    def write_line(path: str | Path, name: str, password: str, admin: bool = False) -> None:
        """Add (or replace) one account in an accounts file, created readable by its owner only."""
        try:
            check_name(name)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        path = Path(path)
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        kept = [ln for ln in lines if ln.split("#", 1)[0].strip().split(":")[0] != name]
        kept.append(f"{name}:{hash_password(password)}" + (f":{ADMIN}" if admin else ""))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(kept) + "\n")


def parse_login(value: str) -> tuple[str, str]:
    """'name:password' -> (name, password); the password may itself contain ':'."""
    name, sep, password = str(value).partition(":")
    if not sep or not name or not password:
        raise ConfigError("--auth / STUDIO_AUTH must look like name:password (give --auth once per account).")
    return name, password
