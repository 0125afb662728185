"""Who is asking: each request's person, from how this server lets people in.

    local     127.0.0.1 without logins: one person, the machine's own (sees and does everything, as ever)
    accounts  logins (--auth, --auth-file): the name gradio's login form checked; admins from the accounts file or
              --admin
    oauth     a Hugging Face Space with `hf_oauth: true`: the person signed in with Hugging Face (their own token
              reaches the hub for their runs); visitors who have not signed in look at a read-only demo
    demo      a Space started with --no-login: everyone is a visitor of a read-only demo
    shared    --no-login beyond a Space (a server behind its own gate): everyone is one person, "anyone", under
              the server's policy

The person is worked out on the server for every event (studio.base.access.Person); nothing the page sends can
change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.base.access import ANONYMOUS, LOCAL, Person, check_name
from studio.base.accounts import Accounts

MODES = ("local", "accounts", "oauth", "demo", "shared")
SHARED = Person("anyone")


@dataclass(frozen=True)
class Identity:
    mode: str = "local"
    accounts: Accounts | None = field(default=None, compare=False)
    admins: frozenset[str] = frozenset()

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"identity mode {self.mode!r}; one of {', '.join(MODES)}")

    @property
    def signs_in(self) -> bool:
        return self.mode in ("accounts", "oauth")

    def person(self, request: Any = None, profile: Any = None, token: Any = None) -> Person:
        """The person behind one event: gradio's checked login name, or the Hugging Face profile of the session."""
        if self.mode == "local":
            return LOCAL
        if self.mode == "shared":
            return SHARED
        if self.mode == "demo":
            return ANONYMOUS
        if self.mode == "accounts":
            name = getattr(request, "username", None)
            if not name:
                return ANONYMOUS  # gradio's login guards every route: only a request without a session gets here
            admin = name in self.admins or bool(self.accounts and self.accounts.is_admin(name))
            return Person(name, admin=admin)
        # oauth
        name = getattr(profile, "username", None) if profile is not None else None
        if not name:
            return ANONYMOUS
        try:
            check_name(name)
        except ValueError:
            return ANONYMOUS
        return Person(name, admin=name in self.admins, token=getattr(token, "token", None) or None)

    def describe(self, person: Person) -> str:
        """One line for the page's header: who the page acts for."""
        if self.mode == "local":
            return ""
        if person.read_only:
            return ("Read-only demo: you can look at the shared runs and try them. Sign in to train your own."
                    if self.mode == "oauth" else "Read-only demo: you can look at the shared runs and try them.")
        role = " (admin)" if person.admin else ""
        return f"Signed in as {person.name}{role}." if self.signs_in else f"Everyone here acts as {person.name}."
