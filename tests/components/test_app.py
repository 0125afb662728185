"""components.app: what build_app sets up around the tabs (the tabs themselves: tests/components/tabs/)."""

from __future__ import annotations

from studio.runs import prewarm
from studio.runs.store import worker_env


def test_the_spare_worker_starts_under_the_settings_its_runs_will_have(tmp_path, monkeypatch):
    """gr.Blocks sets HF_HUB_DISABLE_TELEMETRY (read when huggingface_hub imports): a spare started before the
    page was built was stale from the first run on, so every run spawned a fresh worker."""
    from components.app import build_app

    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    seen = []
    monkeypatch.setattr(prewarm, "enable", lambda store: seen.append(prewarm.env_fingerprint(worker_env())))
    build_app(tmp_path / "runs", prewarm=True)
    assert seen == [prewarm.env_fingerprint(worker_env())]
    assert "HF_HUB_DISABLE_TELEMETRY" in seen[0], "the test sees the setting gradio makes"
