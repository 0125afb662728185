"""Helpers for the UI tests (imported as tests.components.ui_support; fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "assets" / "samples" / "support_tickets.csv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(runs_dir: Path, auth=None, **build_kwargs):
    """build_app() served on a free local port (behind `auth`, as gradio's launch takes it, when given); yields its
    URL and closes it afterwards."""
    from components.app import build_app, launch_options

    app = build_app(runs_dir, **build_kwargs)
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=free_port(),
                           max_file_size="20mb", auth=auth, **launch_options(app))
    try:
        yield url
    finally:
        app.close()


def launch_server(runs_dir: Path, log: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`python launch.py --port P --runs-dir D [extra]` in a session of its own; (process, URL) once it answers."""
    port = free_port()
    env = {**os.environ, "STUDIO_ALLOW_LOCAL_MODELS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("STUDIO_RUNS_DIR", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--port", str(port),
                                 "--runs-dir", str(runs_dir), *extra],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(ROOT), env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    end = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() > end:
            proc.kill()
            raise AssertionError(f"server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def stop_active_runs(runs_dir: Path) -> None:
    """Kill whatever is still sweeping or training when a test ends, so no driver or worker outlives the test
    session."""
    from studio import sweeps
    from studio.runs.store import open_store
    from tests.support import kill_active

    store = open_store(runs_dir)
    for s in sweeps.list_sweeps(store):
        if s["status"] in sweeps.ACTIVE:
            sweeps.kill(store, s["id"])
    kill_active(store)


def as_upload(path: Path) -> str:
    """A copy of a file where gradio keeps what clients upload (a handler reads only files from there: see
    components.context.received), as gradio hands it to a handler."""
    import shutil
    import uuid

    from gradio import utils as gradio_utils

    folder = Path(gradio_utils.get_upload_folder()) / f"test-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return str(shutil.copy(path, folder / Path(path).name))
