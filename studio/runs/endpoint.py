"""The OpenAI-compatible endpoint over a runs folder: which runs a person may call, and who an API key is.

serve.openai_api answers requests; this binds it to the Store (what each person may see) and to the keys file,
for the app's server and for `studio serve`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from studio.base.access import Person
from studio.base.api_keys import ApiKeys
from studio.base.errors import RunError
from studio.runs.store import Store
from studio.serve.openai_api import Completions, routes
from studio.serve.playground import Chat
from studio.serve.shared_bases import ServedRuns
from studio.tasks import get_task


def chat_runs(store: Store, only: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The completed runs of chat tasks the store's person may see (newest first), or only those named."""
    wanted = set(only) if only is not None else None
    out = []
    for r in store.list():
        if r.get("status") != "completed" or (wanted is not None and r["id"] not in wanted):
            continue
        try:
            chats = get_task(r.get("task")).capability(Chat) is not None
        except Exception:  # noqa: BLE001 - a run of a task this version no longer has: not callable
            chats = False
        if chats:
            out.append({"id": r["id"], "created": r.get("created_at"), "owner": r.get("owner")})
    return out


def completions_for(runs_dir: Path, only: Iterable[str] | None = None, served: ServedRuns | None = None
                    ) -> Completions:
    """Answers from the runs of one folder, each person's own (only: the runs `studio serve` was given)."""
    base = Store(Path(runs_dir))
    only = list(only) if only is not None else None

    def run_dir_of(person: Person, run_id: str) -> Path:
        if only is not None and run_id not in only:
            raise RunError(f"No run {run_id} on this server.")  # as for a missing run: nothing more is said
        info = base.as_person(person).get(run_id)
        if info.get("status") != "completed":
            raise RunError(f"Run {run_id} is {info.get('status')}; only completed runs answer.")
        return Path(info["dir"])

    def runs_of(person: Person) -> list[dict[str, Any]]:
        return chat_runs(base.as_person(person), only)

    return Completions(run_dir_of, runs_of, served or ServedRuns())


def person_of_key(runs_dir: Path, admins: Callable[[], set[str]] = set,
                  known: Callable[[str], bool] | None = None) -> Callable[[str], Person | None]:
    """The person an API key of this runs folder belongs to (an admin where the accounts say so); with `known`, only
    while they still have an account (a removed account's keys stop working at once)."""
    keys = ApiKeys(runs_dir)

    def person(key: str) -> Person | None:
        name = keys.owner(key)
        if name is None or (known is not None and not known(name)):
            return None
        return Person(name, admin=name in admins())

    return person


def endpoint_routes(runs_dir: Path, without_key: Person | None = None, admins: Callable[[], set[str]] = set,
                    only: Iterable[str] | None = None, known: Callable[[str], bool] | None = None) -> list:
    """The /v1 routes for a server of this runs folder."""
    return routes(completions_for(runs_dir, only), person_of_key(runs_dir, admins, known), without_key)
