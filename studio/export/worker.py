"""Exports the page asks for, built in a process of their own: `python -m studio.export.worker zip|push ...`.

A merged, ONNX or GGUF export loads the whole model (an 8B base is 16 GB in bf16) and writes gigabytes; in the web
server that memory would stay with the server and a process the kernel kills for memory would be the server. Here
the child holds it and gives it back when it ends; the web thread only waits. The child answers on its last line
of output with one JSON object: {"path": ...} or {"url": ...}, or {"error": sentence, "kind": error class}.
The hub token of a push travels in the child's environment, never on its command line (`ps` shows that).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from studio.base import errors
from studio.base.errors import USER_ERRORS, ExportError
from studio.runs.store import worker_env

TOKEN_ENV = "STUDIO_PUSH_TOKEN"
TIMEOUT_S = 4 * 3600


def _run(args: list[str], env_extra: dict[str, str] | None = None, timeout: float = TIMEOUT_S) -> dict:
    env = {**worker_env(), **(env_extra or {})}
    try:
        done = subprocess.run([sys.executable, "-m", "studio.export.worker", *args], capture_output=True, text=True,
                              env=env, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ExportError(f"The export did not finish within {timeout / 3600:.0f} h and was stopped.") from None
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    answer = None
    if lines:
        try:
            answer = json.loads(lines[-1])
        except ValueError:
            answer = None
    if isinstance(answer, dict) and "error" in answer:
        cls = getattr(errors, str(answer.get("kind")), None)
        if not (isinstance(cls, type) and issubclass(cls, USER_ERRORS)):
            cls = ExportError
        raise cls(answer["error"])
    if done.returncode != 0 or not isinstance(answer, dict):
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        why = " (killed: out of memory?)" if done.returncode in (-9, 137) else ""
        raise ExportError(f"The export's process ended without finishing, exit {done.returncode}{why}"
                          + (f"; it said: {' | '.join(tail)[-400:]}" if tail else "."))
    return answer


def build_zip(run_dir: Path, kind: str, out_dir: Path) -> Path:
    """bundle.build_zip, in a child process: the zip's path, or the export's own error."""
    return Path(_run(["zip", str(run_dir), kind, str(out_dir)])["path"])


def push_to_hub(run_dir: Path, repo_id: str, token: str, kind: str = "adapter", private: bool = True) -> str:
    """bundle.push_to_hub, in a child process (the token in its environment only): the repository's URL."""
    return str(_run(["push", str(run_dir), kind, repo_id, "private" if private else "public"],
                    {TOKEN_ENV: token or ""})["url"])


def main(argv: list[str] | None = None) -> int:
    from studio.base import log_filter
    from studio.export import bundle

    argv = sys.argv[1:] if argv is None else argv
    log_filter.quiet_warnings()
    try:
        if argv[0] == "zip":
            run_dir, kind, out_dir = argv[1:4]
            answer = {"path": str(bundle.build_zip(Path(run_dir), kind, Path(out_dir)))}
        elif argv[0] == "push":
            run_dir, kind, repo_id, privacy = argv[1:5]
            token = os.environ.pop(TOKEN_ENV, "")
            answer = {"url": bundle.push_to_hub(Path(run_dir), repo_id, token, kind=kind, private=privacy == "private")}
        else:
            raise ExportError(f"Unknown export action {argv[0]!r}.")
    except USER_ERRORS as e:
        print(json.dumps({"error": str(e), "kind": type(e).__name__}), flush=True)
        return 2
    print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
