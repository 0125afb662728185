"""Who is asking, and what they may see and change: people, owners, readers.

Every long-lived thing a person makes (a run, a sweep, a labelling project) records its owner in its folder's
`access.json` (and runs also in the registry, so lists stay cheap). A person sees what they own and what its owner
shared with them; they change only what they own. Admins see and change everything; the machine itself (the CLI,
scripts, workers: `LOCAL`) is trusted and sees all, as one person on a laptop always did. Visitors of a read-only
demo (`ANONYMOUS`) see what is shared with everyone and change nothing.

Something nobody can see is reported exactly like something that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.base.errors import AccessError, ReadOnlyError
from studio.base.files import atomic_write_json, read_json

ACCESS_FILE = "access.json"
EVERYONE = "*"  # a reader that stands for every signed-in person
MAX_READERS = 100  # names a thing may be shared with (beyond that: share it with everyone)
# Account names: what a login form, an accounts file or Hugging Face allows; never a path on its own.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_name(name: str) -> str:
    """A person's name as given, or a ValueError naming what a name may hold."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"{name!r} is not an account name: use 1-64 letters, digits, '.', '_' or '-', starting "
                         "with a letter or digit.")
    return name


@dataclass(frozen=True)
class Person:
    """Someone acting on the studio: a signed-in account, the machine itself, or a demo visitor."""

    name: str
    admin: bool = False       # sees and changes everything, within no quota
    trusted: bool = False     # the machine itself (CLI, scripts, workers): an admin that also uses the server's secrets
    read_only: bool = False   # a demo visitor: sees what is shared with everyone, changes nothing
    token: str | None = field(default=None, repr=False, compare=False)  # their own hub token (Hugging Face OAuth)

    @property
    def sees_all(self) -> bool:
        return self.admin or self.trusted

    @property
    def key(self) -> str:
        """A folder name for what is theirs (uploads, downloads): the name when it is a plain one, else a hash."""
        if NAME_RE.match(self.name) and self.name not in (".", ".."):
            return self.name
        return "h-" + hashlib.sha256(self.name.encode()).hexdigest()[:16]

    def check_can_write(self) -> None:
        if self.read_only:
            raise ReadOnlyError("This is a read-only demo: you can look at the shared runs and try them in the "
                                "Playground; sign in to upload data and train your own.")


LOCAL = Person("local", admin=True, trusted=True)
ANONYMOUS = Person("anonymous", read_only=True)


@dataclass(frozen=True)
class Access:
    """Who owns a thing and who else may look at it (read-only)."""

    owner: str | None = None            # None: made before owners were recorded; only admins see it
    readers: tuple[str, ...] = ()       # names, or EVERYONE

    def can_see(self, person: Person) -> bool:
        if person.sees_all:
            return True
        if person.read_only:
            return EVERYONE in self.readers
        return self.owner == person.name or EVERYONE in self.readers or person.name in self.readers

    def can_change(self, person: Person) -> bool:
        return person.sees_all or (not person.read_only and self.owner is not None and self.owner == person.name)

    def shared_with(self, readers) -> "Access":
        return Access(self.owner, tuple(dict.fromkeys(readers)))

    def to_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "readers": list(self.readers)}

    @classmethod
    def from_dict(cls, raw: Any) -> "Access":
        if not isinstance(raw, dict):
            return cls()
        owner = raw.get("owner")
        readers = raw.get("readers") or []
        return cls(owner if isinstance(owner, str) else None,
                   tuple(r for r in readers if isinstance(r, str)) if isinstance(readers, list) else ())


def owned_by(person: Person) -> Access:
    """What a new thing of `person`'s records: the machine's own things (LOCAL) have no owner, as before owners."""
    return Access(None if person.trusted else person.name)


def read_access(folder: Path) -> Access:
    return Access.from_dict(read_json(Path(folder) / ACCESS_FILE))


def write_access(folder: Path, access: Access) -> None:
    atomic_write_json(Path(folder) / ACCESS_FILE, access.to_dict())


def parse_readers(text: str | list[str] | None) -> tuple[str, ...]:
    """Readers as a person types them ("bob, carol", "everyone", empty for nobody), each name checked."""
    items = text if isinstance(text, (list, tuple)) else str(text or "").replace(";", ",").split(",")
    out = []
    if len(items) > MAX_READERS:
        raise AccessError(f"Share with at most {MAX_READERS} names (or with everyone).")
    for item in items:
        name = str(item).strip()
        if not name:
            continue
        if name.lower() in ("everyone", "all", EVERYONE):
            out.append(EVERYONE)
            continue
        try:
            out.append(check_name(name))
        except ValueError as e:
            raise AccessError(str(e)) from None
    return tuple(dict.fromkeys(out))


def check_see(access: Access, person: Person, noun: str, thing_id: str) -> None:
    """Nothing, or the same sentence a missing thing gets: what a person may not see, they cannot tell exists."""
    if not access.can_see(person):
        raise AccessError(f"No {noun} {thing_id} on this server.")


def check_change(access: Access, person: Person, noun: str, thing_id: str) -> None:
    check_see(access, person, noun, thing_id)
    person.check_can_write()
    if not access.can_change(person):
        whose = f"belongs to {access.owner}" if access.owner else "was made before owners were recorded"
        raise AccessError(f"{noun.capitalize()} {thing_id} {whose}; it is shared with you to look at, not to change.")
