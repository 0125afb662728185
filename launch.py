"""Start the studio in the browser.

    python launch.py                       # http://127.0.0.1:7860, runs in ./runs
    python launch.py --host 0.0.0.0 --port 8080 --auth alice:secret --runs-dir /data/runs

Every flag has an environment variable (the flag wins): STUDIO_HOST, STUDIO_PORT,
STUDIO_SHARE, STUDIO_AUTH ("user:password"), STUDIO_RUNS_DIR, STUDIO_MAX_FILE_MB,
STUDIO_TRUST_REMOTE_CODE (--trust-remote-code), STUDIO_ALLOW_LOCAL_MODELS=0 (--no-local-models).
On Hugging Face Spaces nothing needs setting: Gradio's own GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are used when STUDIO_HOST / STUDIO_PORT are not given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # run from anywhere without installing
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("studio.launch")
TRUE = ("1", "true", "yes", "on")


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password); the password may itself contain ':'."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("--auth / STUDIO_AUTH must look like user:password")
    return user, password


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="launch.py", description="Start the fine-tuning studio in the browser.")
    ap.add_argument("--host", default=env("STUDIO_HOST"),
                    help="Interface to listen on; 0.0.0.0 for every interface (env STUDIO_HOST; default 127.0.0.1).")
    ap.add_argument("--port", type=int, default=int(env("STUDIO_PORT")) if env("STUDIO_PORT") else None,
                    help="Port (env STUDIO_PORT; default 7860, or the next free one).")
    ap.add_argument("--share", action="store_true", default=(env("STUDIO_SHARE") or "").lower() in TRUE,
                    help="Also open a temporary public gradio.live link (env STUDIO_SHARE=1).")
    ap.add_argument("--auth", default=env("STUDIO_AUTH"), metavar="USER:PASSWORD",
                    help="Require this login (env STUDIO_AUTH).")
    ap.add_argument("--runs-dir", default=env("STUDIO_RUNS_DIR") or "runs",
                    help="Folder for runs, uploads and the registry (env STUDIO_RUNS_DIR; default ./runs).")
    ap.add_argument("--max-file-mb", type=float, default=float(env("STUDIO_MAX_FILE_MB") or 1024),
                    help="Largest upload accepted, in MB (env STUDIO_MAX_FILE_MB; default 1024).")
    ap.add_argument("--trust-remote-code", action="store_true",
                    default=(env("STUDIO_TRUST_REMOTE_CODE") or "").lower() in TRUE,
                    help="Let models run Python code from their repositories (env STUDIO_TRUST_REMOTE_CODE=1; default "
                         "off). Only on a server where every user is trusted.")
    ap.add_argument("--no-local-models", action="store_true",
                    default=(env("STUDIO_ALLOW_LOCAL_MODELS") or "1").lower() in ("0", "false", "no", "off"),
                    help="Refuse model folders on this machine; catalog models and hub ids only "
                         "(env STUDIO_ALLOW_LOCAL_MODELS=0). Set it on public deployments.")
    return ap


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    a = build_parser().parse_args(argv)
    auth = parse_auth(a.auth)
    if a.share and not auth:
        log.warning("Sharing a public link without --auth: anyone with the link can train, delete and export runs.")
    # The engine and the workers it starts read these from the environment.
    os.environ["STUDIO_TRUST_REMOTE_CODE"] = "1" if a.trust_remote_code else "0"
    os.environ["STUDIO_ALLOW_LOCAL_MODELS"] = "0" if a.no_local_models else "1"
    if a.trust_remote_code:
        log.warning("--trust-remote-code is on: models may run code from their repositories on this machine.")
    # The engine reads the same limit when it checks files, so page and engine agree.
    os.environ["STUDIO_MAX_FILE_MB"] = f"{a.max_file_mb:g}"
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    runs_dir = Path(a.runs_dir).expanduser().resolve()
    # Workers started by this server find the same registry through the environment.
    os.environ["STUDIO_RUNS_DIR"] = str(runs_dir)

    from components.app import build_app, launch_options

    app = build_app(runs_dir)
    log.info("runs folder: %s", runs_dir)
    app.launch(server_name=a.host, server_port=a.port, share=a.share, auth=auth,
               max_file_size=int(a.max_file_mb * 1024 * 1024), **launch_options())


if __name__ == "__main__":
    main()
