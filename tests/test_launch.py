"""launch.py: flags and their environment variables reach launch(); who may come in (local, accounts, Hugging Face
sign-in, a read-only demo) and under which policy; serving beyond this machine without a login is refused."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_launch():
    spec = importlib.util.spec_from_file_location("studio_launch", ROOT / "launch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class FakeApp:
    def __init__(self):
        self.kwargs = None

    def launch(self, **kwargs):
        self.kwargs = kwargs


@pytest.fixture
def launched(monkeypatch, tmp_path):
    """Run launch.main with build_app replaced, returning what launch() was given."""
    pytest.importorskip("gradio")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import components.app as app_mod
    from studio.base import secrets

    monkeypatch.setattr(secrets, "_held", {})
    monkeypatch.setattr(secrets, "_holder", False)
    for var in ("STUDIO_HOST", "STUDIO_PORT", "STUDIO_SHARE", "STUDIO_AUTH", "STUDIO_RUNS_DIR", "STUDIO_MAX_FILE_MB",
                "STUDIO_TRUST_REMOTE_CODE", "STUDIO_ALLOW_LOCAL_MODELS", "STUDIO_AUTH_FILE", "STUDIO_ADMINS",
                "STUDIO_NO_LOGIN", "STUDIO_POLICY", "STUDIO_LIMITS", "STUDIO_MAX_ROWS", "SPACE_ID", "OAUTH_CLIENT_ID",
                "GRADIO_SERVER_NAME", "HF_TOKEN", "HF_TOKEN_PATH", "STUDIO_RAY", "STUDIO_CLUSTER_STORAGE",
                secrets.WITHHELD_ENV):
        # setenv first, so what main() writes into os.environ is undone after the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    built = {}

    def fake_build(runs_dir, **kw):
        built["runs_dir"] = runs_dir
        built.update(kw)
        built["app"] = FakeApp()
        return built["app"]

    monkeypatch.setattr(app_mod, "build_app", fake_build)
    monkeypatch.chdir(tmp_path)

    def run(argv, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        load_launch().main(argv)
        return built["app"].kwargs, built["runs_dir"]

    run.built = built
    return run


def test_defaults(launched, tmp_path):
    import os

    kw, runs_dir = launched([])
    assert kw["server_name"] is None and kw["server_port"] is None  # gradio's own defaults (and Spaces' env)
    assert kw["share"] is False and kw["auth"] is None
    assert launched.built["identity"].mode == "local" and os.environ["STUDIO_POLICY"] == "open"
    assert launched.built["limits"].runs_active is None
    assert kw["max_file_size"] == 1024 * 1024 * 1024
    assert runs_dir == (tmp_path / "runs").resolve()
    assert "i18n" in kw and kw["run_history"] is False


def test_environment_variables(launched, tmp_path):
    kw, runs_dir = launched([], {"STUDIO_HOST": "0.0.0.0", "STUDIO_PORT": "8123", "STUDIO_AUTH": "ann:pa:ss",
                                 "STUDIO_RUNS_DIR": str(tmp_path / "r"), "STUDIO_MAX_FILE_MB": "5"})
    assert (kw["server_name"], kw["server_port"]) == ("0.0.0.0", 8123)
    assert kw["auth"]("ann", "pa:ss") and not kw["auth"]("ann", "pa") and not kw["auth"]("bob", "pa:ss")
    assert kw["max_file_size"] == 5 * 1024 * 1024 and runs_dir == (tmp_path / "r").resolve()


def test_flags_win_over_environment(launched):
    kw, _ = launched(["--port", "9000", "--auth", "bob:pw"], {"STUDIO_PORT": "8123", "STUDIO_AUTH": "ann:x"})
    assert kw["server_port"] == 9000 and kw["auth"]("bob", "pw") and not kw["auth"]("ann", "x")


def test_several_accounts_an_accounts_file_and_admins(launched, tmp_path):
    from studio.base.accounts import Accounts

    Accounts.write_line(tmp_path / "accounts.txt", "carol", "pw-c", admin=True)
    kw, _ = launched(["--auth", "ann:pw-a", "--auth", "bob:pw-b", "--auth-file", str(tmp_path / "accounts.txt"),
                      "--admin", "ann"])
    identity = launched.built["identity"]
    assert identity.mode == "accounts" and all(kw["auth"](n, f"pw-{n[0]}") for n in ("ann", "bob", "carol"))
    req = lambda name: type("R", (), {"username": name})()  # noqa: E731
    assert identity.person(req("ann")).admin and identity.person(req("carol")).admin
    assert not identity.person(req("bob")).admin and identity.person(req("bob")).name == "bob"
    assert kw["auth_message"]


@pytest.mark.parametrize("argv,env,where", [
    (["--share"], {}, "a share link"),
    (["--host", "0.0.0.0"], {}, "0.0.0.0"),
    ([], {"GRADIO_SERVER_NAME": "0.0.0.0"}, "0.0.0.0"),
    ([], {"SPACE_ID": "someone/studio"}, "a Hugging Face Space"),
])
def test_serving_beyond_this_machine_without_a_login_is_refused(launched, argv, env, where):
    with pytest.raises(SystemExit, match=f"Refusing to serve {where} without a login.*--no-login"):
        launched(argv, env)


def test_no_login_is_an_explicit_choice_a_space_becomes_a_read_only_demo(launched, caplog):
    with caplog.at_level(logging.WARNING, logger="studio.launch"):
        kw, _ = launched(["--share", "--no-login"])
    assert kw["share"] is True and launched.built["identity"].mode == "shared"
    assert any("without --auth" in r.getMessage() for r in caplog.records)
    launched([], {"SPACE_ID": "someone/studio", "STUDIO_NO_LOGIN": "1"})
    identity = launched.built["identity"]
    assert identity.mode == "demo" and identity.person().read_only


def test_a_space_with_hugging_face_sign_in_knows_each_person(launched):
    launched(["--admin", "owner"], {"SPACE_ID": "someone/studio", "OAUTH_CLIENT_ID": "x"})
    identity = launched.built["identity"]
    assert identity.mode == "oauth"
    profile = type("P", (), {"username": "owner"})()
    token = type("T", (), {"token": "hf_oauth_token"})()
    person = identity.person(None, profile, token)
    assert person.name == "owner" and person.admin and person.token == "hf_oauth_token"
    assert identity.person(None, None, None).read_only  # not signed in: the demo


def test_a_public_server_gets_the_public_policy_its_limits_and_no_server_secrets(launched, monkeypatch):
    import json
    import os

    monkeypatch.setenv("HF_TOKEN", "hf_server_secret")
    kw, _ = launched(["--host", "0.0.0.0", "--auth", "ann:pw", "--limit", "epochs=50", "--max-file-mb", "500"])
    limits = launched.built["limits"]
    assert os.environ["STUDIO_POLICY"] == "public" and json.loads(os.environ["STUDIO_LIMITS"]) == {"epochs": "50"}
    assert limits.epochs == 50 and limits.runs_active == 2
    assert kw["max_file_size"] == 50 * 1024 * 1024  # the policy's upload_mb is lower than --max-file-mb
    assert os.environ["STUDIO_ALLOW_LOCAL_MODELS"] == "0"  # the policy refuses model folders on the server
    assert "HF_TOKEN" not in os.environ  # held back from the web process and every worker
    launched(["--policy", "open", "--auth", "ann:pw", "--host", "0.0.0.0"])
    assert launched.built["limits"].runs_active is None and os.environ["STUDIO_POLICY"] == "open"
    with pytest.raises(SystemExit, match="--limit"):
        launched(["--limit", "bogus=1"])


def test_remote_code_and_local_models_are_operator_flags(launched, caplog):
    import os

    launched([])
    assert os.environ["STUDIO_TRUST_REMOTE_CODE"] == "0" and os.environ["STUDIO_ALLOW_LOCAL_MODELS"] == "1"
    with caplog.at_level(logging.WARNING, logger="studio.launch"):
        launched(["--trust-remote-code", "--no-local-models"])
    assert os.environ["STUDIO_TRUST_REMOTE_CODE"] == "1" and os.environ["STUDIO_ALLOW_LOCAL_MODELS"] == "0"
    assert any("--trust-remote-code is on" in r.getMessage() for r in caplog.records)
    launched([], {"STUDIO_TRUST_REMOTE_CODE": "1", "STUDIO_ALLOW_LOCAL_MODELS": "0"})
    assert os.environ["STUDIO_TRUST_REMOTE_CODE"] == "1" and os.environ["STUDIO_ALLOW_LOCAL_MODELS"] == "0"


def test_ray_without_ray_or_without_a_cluster_is_refused_with_what_to_do(launched, monkeypatch):
    """--ray joins the cluster before the page starts; tests/components/panels/test_cluster_panel.py starts the
    studio on a real one."""
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "ray", None)  # as where Ray is not installed
        with pytest.raises(SystemExit, match=r"pip install 'studio\[ray\]'"):
            launched(["--ray", "127.0.0.1:6379"])
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SystemExit, match=f"No Ray cluster answers at 127.0.0.1:{port}"):
        launched([], env={"STUDIO_RAY": f"127.0.0.1:{port}"})
    assert "app" not in launched.built, "no page without its cluster"


def test_cluster_storage_is_checked_before_the_page_starts(launched, monkeypatch):
    """--cluster-storage (studio.runs.cluster.bucket) goes with --ray, and only as a URL an object store opens; the
    credentials a URL may carry are never repeated."""
    with pytest.raises(SystemExit, match="give --ray ADDRESS too"):
        launched(["--cluster-storage", "s3://runs/team"])
    with pytest.raises(SystemExit, match="--runs-dir on a file system every node mounts"):
        launched(["--ray", "127.0.0.1:1", "--cluster-storage", "file:///shared/runs"])
    with pytest.raises(SystemExit, match=r"cannot be opened") as e:
        launched([], env={"STUDIO_RAY": "127.0.0.1:1", "STUDIO_CLUSTER_STORAGE": "s3://KEY:SECRET@runs/t?bogus=1"})
    assert "SECRET" not in str(e.value) and "app" not in launched.built


def test_bad_auth_is_refused():
    with pytest.raises(SystemExit, match="user:password"):
        load_launch().parse_auth("no-colon")


def test_loopback_hosts():
    launch = load_launch()
    assert all(launch.is_loopback(h) for h in (None, "", "localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"))
    assert not any(launch.is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "studio.example.com"))


def test_requirements_txt_lists_every_project_dependency():
    """Spaces installs requirements.txt, not the project: it must name everything pyproject.toml does."""
    import re

    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    name = lambda spec: re.split(r"[<>=!~\[; ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")  # noqa: E731
    listed = {name(ln) for ln in (ROOT / "requirements.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")}
    assert {name(d) for d in deps} <= listed
