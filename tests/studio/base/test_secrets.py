"""studio.base.secrets: the server's tokens held back from the web process and from workers that may not use them."""

from __future__ import annotations

import os

import pytest

from studio.base import secrets


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    """What withhold() changes, put back afterwards (every variable set first, so monkeypatch restores it)."""
    monkeypatch.setattr(secrets, "_held", {})
    monkeypatch.setattr(secrets, "_holder", False)
    for name in (*secrets.SECRET_NAMES, "HF_TOKEN_PATH", secrets.WITHHELD_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path))


def test_withheld_secrets_leave_the_environment_and_come_back_only_where_allowed(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", "hf_server_token")
    monkeypatch.setenv("WANDB_API_KEY", "wandb-key")
    moved = secrets.withhold()
    assert set(moved) == {"HF_TOKEN", "WANDB_API_KEY"}
    assert "HF_TOKEN" not in os.environ and "WANDB_API_KEY" not in os.environ
    assert os.environ["HF_TOKEN_PATH"] == secrets.NO_TOKEN_FILE  # huggingface_hub finds no stored login either
    assert secrets.can_hand_out()
    env = {"PATH": "/bin", "HF_TOKEN": "leaked?"}
    assert secrets.for_worker(env, server=False) == {"PATH": "/bin"}
    assert secrets.for_worker(env, server=False, token="hf_person")["HF_TOKEN"] == "hf_person"
    assert secrets.for_worker(env, server=True) == {"PATH": "/bin", "HF_TOKEN": "hf_server_token",
                                                    "WANDB_API_KEY": "wandb-key"}
    monkeypatch.setattr(secrets, "_holder", False)  # a worker of the app: it cannot hand them out
    assert not secrets.can_hand_out()


def test_the_stored_hub_login_is_held_back_too(tmp_path):
    (tmp_path / "token").write_text("hf_stored_login\n")
    secrets.withhold()
    assert secrets.server_secrets() == {"HF_TOKEN": "hf_stored_login"}
