"""The operator's commands: accounts, sharing a run, the policy's limits, setting the runs folder right."""

from __future__ import annotations

import io
import json

from studio import cli
from studio.base.access import Person
from studio.base.accounts import Accounts
from studio.base.api_keys import ApiKeys
from studio.config import RunConfig
from studio.runs.store import Store
from tests.support import tiny_config


def test_accounts_are_written_hashed_listed_and_removed(tmp_path, monkeypatch, capsys):
    path = tmp_path / "accounts.txt"
    runs = ["--runs-dir", str(tmp_path / "runs")]
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert cli.main([*runs, "accounts", "add", "alice", "--admin", "--password-stdin", "--file", str(path)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("bobs pass\n"))
    assert cli.main([*runs, "accounts", "add", "bob", "--password-stdin", "--file", str(path)]) == 0
    assert "s3cret" not in path.read_text() and Accounts.read(path).verify("alice", "s3cret pass")
    capsys.readouterr()
    assert cli.main([*runs, "accounts", "list", "--file", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "alice", "admin": True}, {"name": "bob", "admin": False}]
    assert cli.main([*runs, "keys", "add", "bob", "--label", "script"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("sk-studio-") and ApiKeys(tmp_path / "runs").owner(key) == "bob"
    assert cli.main([*runs, "accounts", "remove", "bob", "--file", str(path)]) == 0
    assert set(Accounts.read(path).hashes) == {"alice"}
    assert "revoked their 1 API key" in capsys.readouterr().err and ApiKeys(tmp_path / "runs").owner(key) is None
    assert cli.main([*runs, "accounts", "add", "../x", "--password-stdin", "--file", str(path)]) == 2
    assert "is not an account name" in capsys.readouterr().err


def test_share_a_run_and_the_policys_limits(tmp_path, tiny_bert, separable_csv, capsys):
    store = Store(tmp_path / "runs")
    from studio.data.uploads import uploads_dir

    folder = uploads_dir(store.root, Person("alice"))
    folder.mkdir(parents=True)
    data = folder / "t.csv"
    data.write_bytes(separable_csv.read_bytes())
    run_id = store.as_person(Person("alice")).create(RunConfig.from_dict(tiny_config(tiny_bert, data)), start=False)
    runs = ["--runs-dir", str(store.root)]
    assert cli.main([*runs, "share", run_id, "--with", "bob, carol"]) == 0
    assert "shared with bob, carol" in capsys.readouterr().out
    assert [r["id"] for r in store.as_person(Person("bob")).list()] == [run_id]
    assert cli.main([*runs, "share", run_id, "--private"]) == 0
    assert store.as_person(Person("bob")).list() == []
    assert cli.main([*runs, "runs"]) == 0 and "alice" in capsys.readouterr().out  # the CLI sees all, with owners
    assert cli.main([*runs, "limits", "--policy", "public", "--limit", "epochs=50", "--json"]) == 0
    limits = {r["name"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert limits["epochs"] == 50 and limits["runs_active"] == 2 and limits["wandb"] is False


def test_recover_sets_the_runs_folder_right(tmp_path, tiny_bert, separable_csv, capsys):
    store = Store(tmp_path / "runs")
    run_id = store.create(RunConfig.from_dict(tiny_config(tiny_bert, separable_csv)), start=False)
    store.stop(run_id)
    with store._db(immediate=True) as db:
        db.execute("DELETE FROM runs")
    assert store.list() == []
    assert cli.main(["--runs-dir", str(store.root), "recover", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["adopted"] == [run_id] and [r["id"] for r in store.list()] == [run_id]
