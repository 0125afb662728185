"""Commands for the person who runs the server: accounts, sharing a run, the policy's limits, setting the runs
folder right after a crash.

    studio accounts add NAME [--admin] --file accounts.txt     (asks for the password; --password-stdin for scripts)
    studio accounts list --file accounts.txt
    studio accounts remove NAME --file accounts.txt
    studio share RUN --with bob,carol | --with everyone | --private
    studio limits [--policy public] [--limit NAME=VALUE ...]
    studio recover

The command line on the machine itself is trusted: it sees every run, whoever owns it.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

from studio.base import limits as policy
from studio.base.access import Access, parse_readers
from studio.base.accounts import Accounts
from studio.base.api_keys import ApiKeys
from studio.base.errors import ConfigError
from studio.base.settings import field_help
from studio.cli.common import show
from studio.runs import upkeep


def add_commands(add) -> None:
    p = add("accounts", cmd_accounts, "Add, list or remove the accounts of a server with logins (launch.py "
                                      "--auth-file).")
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("name", nargs="?", help="The account's name (add, remove).")
    p.add_argument("--file", default=os.environ.get("STUDIO_AUTH_FILE"),
                   help="The accounts file (env STUDIO_AUTH_FILE); created, readable by its owner only.")
    p.add_argument("--admin", action="store_true", help="add: the account is an admin (sees and acts on every run).")
    p.add_argument("--password-stdin", action="store_true", help="add: read the password from standard input.")
    p = add("share", cmd_share, "Let others look at a run (read-only), or make it private again.")
    p.add_argument("run", help="Run id.")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--with", dest="readers", help="Account names, comma-separated, or `everyone`.")
    who.add_argument("--private", action="store_true", help="Nobody but its owner (and admins).")
    p = add("limits", cmd_limits, "What a policy allows each person who is not an admin (launch.py --policy, "
                                  "--limit).")
    p.add_argument("--policy", default=policy.policy_name(), choices=tuple(policy.POLICIES))
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE")
    add("recover", cmd_recover, "Set the runs folder right after a crash: list lost run folders again, drop rows "
                                "without folders, remove half-made folders; then start queued runs.")


def cmd_accounts(a, store) -> int:
    if not a.file:
        raise ConfigError("Give the accounts file: --file accounts.txt (or STUDIO_AUTH_FILE).")
    path = Path(a.file)
    if a.action == "list":
        accounts = Accounts.read(path) if path.exists() else Accounts()
        rows = [{"name": n, "admin": accounts.is_admin(n)} for n in sorted(accounts.hashes)]
        show(rows, a.json, "\n".join(f"{r['name']}{' (admin)' if r['admin'] else ''}" for r in rows) or "No accounts.")
        return 0
    if not a.name:
        raise ConfigError(f"accounts {a.action}: give the account's name.")
    if a.action == "remove":
        accounts = Accounts.read(path)
        if a.name not in accounts.hashes:
            raise ConfigError(f"There is no account {a.name!r} in {path}.")
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(ln for ln in lines if ln.split("#", 1)[0].strip().split(":")[0] != a.name) + "\n",
                        encoding="utf-8")
        revoked = ApiKeys(store.root).remove_all(a.name)
        print(f"removed {a.name}" + (f" and revoked their {revoked} API key(s)" if revoked else ""), file=sys.stderr)
        return 0
    if a.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {a.name}: ")
        if getpass.getpass("Again: ") != password:
            raise ConfigError("The two passwords differ; nothing was written.")
    Accounts.write_line(path, a.name, password, admin=a.admin)
    print(f"{'admin ' if a.admin else ''}account {a.name} written to {path}", file=sys.stderr)
    return 0


def cmd_share(a, store) -> int:
    readers = () if a.private else parse_readers(a.readers)
    access: Access = store.share(a.run, readers)
    shown = ", ".join("everyone" if r == "*" else r for r in access.readers) or "nobody else"
    show(access.to_dict(), a.json, f"run {a.run}: owner {access.owner or '(none)'}; shared with {shown}")
    return 0


def cmd_limits(a, store) -> int:
    limits = policy.named(a.policy, policy.parse_changes(a.limit))
    rows = [{"name": f["name"], "value": getattr(limits, f["name"]), "help": f["help"]}
            for f in field_help(policy.Limits)]
    text = "\n".join(f"{r['name']:<16} {str(r['value']) if r['value'] is not None else 'no limit':<10} {r['help']}"
                     for r in rows)
    show(rows, a.json, f"policy {a.policy}:\n{text}")
    return 0


def cmd_recover(a, store) -> int:
    done = upkeep.recover(store)
    started = store.dispatch()
    show({**done, "started": started}, a.json,
         "\n".join(f"{k}: {', '.join(v) or '-'}" for k, v in {**done, "started": started}.items()))
    return 0
