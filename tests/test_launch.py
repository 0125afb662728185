"""launch.py: flags and their environment variables reach launch(), and sharing without auth warns."""

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

    for var in ("STUDIO_HOST", "STUDIO_PORT", "STUDIO_SHARE", "STUDIO_AUTH", "STUDIO_RUNS_DIR", "STUDIO_MAX_FILE_MB",
                "STUDIO_TRUST_REMOTE_CODE", "STUDIO_ALLOW_LOCAL_MODELS"):
        # setenv first, so what main() writes into os.environ is undone after the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    built = {}

    def fake_build(runs_dir):
        built["runs_dir"] = runs_dir
        built["app"] = FakeApp()
        return built["app"]

    monkeypatch.setattr(app_mod, "build_app", fake_build)
    monkeypatch.chdir(tmp_path)

    def run(argv, env=None):
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        load_launch().main(argv)
        return built["app"].kwargs, built["runs_dir"]

    return run


def test_defaults(launched, tmp_path):
    kw, runs_dir = launched([])
    assert kw["server_name"] is None and kw["server_port"] is None  # gradio's own defaults (and Spaces' env)
    assert kw["share"] is False and kw["auth"] is None
    assert kw["max_file_size"] == 1024 * 1024 * 1024
    assert runs_dir == (tmp_path / "runs").resolve()
    assert "i18n" in kw and kw["run_history"] is False


def test_environment_variables(launched, tmp_path):
    kw, runs_dir = launched([], {"STUDIO_HOST": "0.0.0.0", "STUDIO_PORT": "8123", "STUDIO_AUTH": "ann:pa:ss",
                                 "STUDIO_RUNS_DIR": str(tmp_path / "r"), "STUDIO_MAX_FILE_MB": "5"})
    assert (kw["server_name"], kw["server_port"], kw["auth"]) == ("0.0.0.0", 8123, ("ann", "pa:ss"))
    assert kw["max_file_size"] == 5 * 1024 * 1024 and runs_dir == (tmp_path / "r").resolve()


def test_flags_win_over_environment(launched):
    kw, _ = launched(["--port", "9000", "--auth", "bob:pw"], {"STUDIO_PORT": "8123", "STUDIO_AUTH": "ann:x"})
    assert kw["server_port"] == 9000 and kw["auth"] == ("bob", "pw")


def test_share_without_auth_warns(launched, caplog):
    with caplog.at_level(logging.WARNING, logger="studio.launch"):
        kw, _ = launched(["--share"])
    assert kw["share"] is True
    assert any("without --auth" in r.getMessage() for r in caplog.records)


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


def test_bad_auth_is_refused():
    with pytest.raises(SystemExit, match="user:password"):
        load_launch().parse_auth("no-colon")


def test_requirements_txt_lists_every_project_dependency():
    """Spaces installs requirements.txt, not the project: it must name everything pyproject.toml does."""
    import re

    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    name = lambda spec: re.split(r"[<>=!~\[; ]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")  # noqa: E731
    listed = {name(ln) for ln in (ROOT / "requirements.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")}
    assert {name(d) for d in deps} <= listed
