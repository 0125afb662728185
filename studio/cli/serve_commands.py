"""Commands that serve finished runs to other programs: serve (an OpenAI-compatible endpoint) and keys."""

from __future__ import annotations

import hmac
import ipaddress
import os
import sys

from studio.base.access import LOCAL
from studio.base.api_keys import ApiKeys
from studio.base.errors import ConfigError
from studio.cli.common import show

BACKENDS = ("transformers", "vllm")


def add_commands(add) -> None:
    p = add("serve", cmd_serve, "Serve finished chat runs on an OpenAI-compatible endpoint (/v1/models, "
                                "/v1/chat/completions) until stopped. Every request must bring the key in "
                                "STUDIO_API_KEY, where it is set, or one made with `studio keys add`; it must be set "
                                "to listen beyond this machine.", json_flag=False)
    p.add_argument("runs", nargs="+", metavar="RUN", help="Run ids (completed runs of a chat task).")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1: this machine only).")
    p.add_argument("--port", type=int, default=8000, help="Port (default 8000).")
    p.add_argument("--backend", choices=BACKENDS, default="transformers",
                   help="transformers (default; CPU or GPU) or vllm (a CUDA GPU with vLLM installed: the base with "
                        "the run's LoRA adapter).")
    p = add("keys", cmd_keys, "Make, list or remove the API keys that act as a person on the OpenAI-compatible "
                              "endpoint.")
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("name", nargs="?", help="The person's account name (add, remove; list: only theirs).")
    p.add_argument("--id", dest="key_id", help="remove: the key's id, as `studio keys list` shows it.")
    p.add_argument("--label", default="", help="add: what the key is for (shown in lists).")


def cmd_keys(a, store) -> int:
    keys = ApiKeys(store.root)
    if a.action == "list":
        rows = keys.listed(a.name)
        show(rows, a.json, "\n".join(f"{r['id']}  {r['name']}  ...{r['last4']}  {r['label']}" for r in rows)
             or "No API keys.")
        return 0
    if not a.name:
        raise ConfigError(f"keys {a.action}: give the person's account name.")
    if a.action == "remove":
        if not a.key_id or not keys.remove(a.name, a.key_id):
            raise ConfigError(f"{a.name} has no API key with id {a.key_id!r}; `studio keys list {a.name}` lists them.")
        print(f"removed key {a.key_id} of {a.name}", file=sys.stderr)
        return 0
    key = keys.create(a.name, a.label)
    print(key)
    print(f"API key for {a.name}: shown this once, keep it secret.", file=sys.stderr)
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(a, store) -> int:
    from studio.runs.endpoint import chat_runs, completions_for, person_of_key
    from studio.serve.openai_api import routes

    if not 1 <= a.port <= 65535:
        raise ConfigError(f"--port {a.port} is not a port (1-65535).")
    # The server's own key comes from the environment only: a command-line argument would show in `ps`.
    api_key = os.environ.get("STUDIO_API_KEY") or None
    if not api_key and not _loopback(a.host):
        raise ConfigError(f"Serving on {a.host} reaches other machines: set STUDIO_API_KEY so only "
                          "programs with the key are answered.")
    served = {r["id"] for r in chat_runs(store, a.runs)}
    for run_id in a.runs:
        if run_id not in served:
            info = store.get(run_id)  # a missing run says so here
            raise ConfigError(f"Run {run_id} cannot be served: it is a {info.get('status')} run of the "
                              f"{info.get('task')} task; only completed runs of a chat task answer.")
    if a.backend == "vllm":
        from studio.serve import vllm_backend

        served_runs = vllm_backend.ServedRuns(store, a.runs)
    else:
        served_runs = None
    completions = completions_for(store.root, a.runs, served=served_runs)
    keys_person = person_of_key(store.root)

    def person(key: str):
        if api_key and hmac.compare_digest(key.encode(), api_key.encode()):
            return LOCAL
        return keys_person(key)

    import uvicorn
    from fastapi import FastAPI

    app = FastAPI(routes=routes(completions, person, without_key=None if api_key else LOCAL),
                  title="studio", docs_url=None, redoc_url=None, openapi_url=None)
    print(f"Serving {', '.join(a.runs)} at http://{a.host}:{a.port}/v1 ({a.backend}); Ctrl+C stops.",
          file=sys.stderr)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


