"""Start the studio in the browser.

    python launch.py                       # http://127.0.0.1:7860, runs in ./runs, one local person
    python launch.py --host 0.0.0.0 --auth-file accounts.txt --admin alice --runs-dir /data/runs

Who may do what (README "Public deployment"):
- On 127.0.0.1 without logins, nothing changes: one person, who sees and does everything.
- Logins: --auth NAME:PASSWORD (repeat it for several accounts) and --auth-file FILE (lines written by
  `studio accounts add`, passwords hashed); --admin NAME makes an admin, who sees and acts on every run.
- A Hugging Face Space with `hf_oauth: true` in its README front matter: people sign in with Hugging Face.
- Listening beyond this machine (0.0.0.0, --share, a Space) without any login is refused, unless the operator says
  --no-login: a Space then runs as a read-only demo; another server lets everyone act as one person.
- --policy public (the default wherever the studio listens beyond this machine) bounds what each person who is not
  an admin may use; --limit NAME=VALUE loosens (or tightens) one limit (`studio limits` lists them).

Every flag has an environment variable (the flag wins): STUDIO_HOST, STUDIO_PORT, STUDIO_SHARE, STUDIO_AUTH
("name:password"), STUDIO_AUTH_FILE, STUDIO_ADMINS ("alice,bob"), STUDIO_NO_LOGIN=1, STUDIO_POLICY,
STUDIO_LIMITS (JSON), STUDIO_RUNS_DIR, STUDIO_MAX_FILE_MB, STUDIO_TRUST_REMOTE_CODE (--trust-remote-code),
STUDIO_ALLOW_LOCAL_MODELS=0 (--no-local-models). On Hugging Face Spaces Gradio's own GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT are used when STUDIO_HOST / STUDIO_PORT are not given.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
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
    """'name:password' -> (name, password); the password may itself contain ':'."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("--auth / STUDIO_AUTH must look like user:password")
    return user, password


def is_loopback(host: str | None) -> bool:
    """Only this machine can reach a server listening here."""
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="launch.py", description="Start the fine-tuning studio in the browser.")
    ap.add_argument("--host", default=env("STUDIO_HOST"),
                    help="Interface to listen on; 0.0.0.0 for every interface (env STUDIO_HOST; default 127.0.0.1).")
    ap.add_argument("--port", type=int, default=int(env("STUDIO_PORT")) if env("STUDIO_PORT") else None,
                    help="Port (env STUDIO_PORT; default 7860, or the next free one).")
    ap.add_argument("--share", action="store_true", default=(env("STUDIO_SHARE") or "").lower() in TRUE,
                    help="Also open a temporary public gradio.live link (env STUDIO_SHARE=1).")
    ap.add_argument("--auth", action="append", default=None, metavar="NAME:PASSWORD",
                    help="An account; give it once per account (env STUDIO_AUTH: one).")
    ap.add_argument("--auth-file", default=env("STUDIO_AUTH_FILE"), metavar="FILE",
                    help="Accounts, one per line as `studio accounts add` writes them (env STUDIO_AUTH_FILE).")
    ap.add_argument("--admin", action="append", default=None,
                    metavar="NAME", help="An admin (sees and acts on every run); repeat for several (env "
                                         "STUDIO_ADMINS, comma-separated). On a Space: Hugging Face user names.")
    ap.add_argument("--no-login", action="store_true", default=(env("STUDIO_NO_LOGIN") or "").lower() in TRUE,
                    help="Listen beyond this machine without any login (env STUDIO_NO_LOGIN=1): a Space becomes a "
                         "read-only demo; elsewhere everyone acts as one person. Refused without it.")
    ap.add_argument("--policy", default=env("STUDIO_POLICY"), choices=("open", "public"),
                    help="Limits for people who are not admins (env STUDIO_POLICY): public (the default when the "
                         "studio listens beyond this machine) or open (none).")
    ap.add_argument("--limit", action="append", default=None, metavar="NAME=VALUE",
                    help="Change one limit of the policy, e.g. --limit epochs=50 --limit wandb=true (env "
                         "STUDIO_LIMITS as JSON); `studio limits` lists them.")
    ap.add_argument("--runs-dir", default=env("STUDIO_RUNS_DIR") or "runs",
                    help="Folder for runs, uploads and the registry (env STUDIO_RUNS_DIR; default ./runs).")
    ap.add_argument("--max-file-mb", type=float, default=float(env("STUDIO_MAX_FILE_MB") or 1024),
                    help="Largest upload accepted, in MB (env STUDIO_MAX_FILE_MB; default 1024; the policy's "
                         "upload_mb, where lower, wins).")
    ap.add_argument("--trust-remote-code", action="store_true",
                    default=(env("STUDIO_TRUST_REMOTE_CODE") or "").lower() in TRUE,
                    help="Let models run Python code from their repositories (env STUDIO_TRUST_REMOTE_CODE=1; default "
                         "off). Only on a server where every user is trusted.")
    ap.add_argument("--allow-reward-code", action="store_true",
                    default=(env("STUDIO_ALLOW_REWARD_CODE") or "").lower() in TRUE,
                    help="Let reinforcement-learning runs score replies with a Python file of their person's (the code "
                         "reward; env STUDIO_ALLOW_REWARD_CODE=1; default off; never under the public policy). Only on "
                         "a server where every user is trusted.")
    ap.add_argument("--ray", default=env("STUDIO_RAY"), metavar="ADDRESS",
                    help="Send runs to this Ray cluster (host:port of its head, or auto for the cluster this machine "
                         "belongs to; env STUDIO_RAY): Ray places each run where what it asks for is free, and one "
                         "run may train across nodes. Needs `pip install 'studio[ray]'` and a runs folder every node "
                         "reaches at the same path. Default: the studio's own queue on this machine.")
    ap.add_argument("--cluster-storage", default=env("STUDIO_CLUSTER_STORAGE"), metavar="URL",
                    help="With --ray, where the nodes share no file system with this machine: each run's folder "
                         "travels to its node and back through this object storage (s3://bucket/prefix, gs://..., "
                         "abfs://...; env STUDIO_CLUSTER_STORAGE). The runs folder stays on this machine.")
    ap.add_argument("--no-local-models", action="store_true",
                    default=(env("STUDIO_ALLOW_LOCAL_MODELS") or "1").lower() in ("0", "false", "no", "off"),
                    help="Refuse model folders on this machine; catalog models and hub ids only "
                         "(env STUDIO_ALLOW_LOCAL_MODELS=0). The public policy turns it on.")
    return ap


def join_cluster(address: str, runs_dir: Path, bucket_url: str | None = None) -> None:
    """Join the Ray cluster and check that every node reaches the runs folder (or the object storage runs travel
    through), or SystemExit saying what to do."""
    from studio.base.cluster_address import RAY_ENV, STORAGE_ENV
    from studio.base.errors import ConfigError
    from studio.runs.cluster import bucket, connect, storage

    os.environ[RAY_ENV] = address  # the engine's Stores and every config check read it
    if bucket_url:
        try:
            os.environ[STORAGE_ENV] = bucket.check_url(bucket_url)
        except ValueError as e:
            raise SystemExit(str(e)) from None
    try:
        ray = connect(address)
        runs_dir.mkdir(parents=True, exist_ok=True)
        problem = storage.problem(runs_dir, bucket_url)  # checked once here; the queue asks again when nodes change
    except ConfigError as e:
        raise SystemExit(str(e)) from None
    if problem:
        raise SystemExit(problem)
    alive = [n for n in ray.nodes() if n.get("Alive")]
    log.info("Ray cluster at %s: %d node(s), %s", address, len(alive), ray.cluster_resources())


def identity_of(a, public: bool, host: str | None = None):
    """How this server tells people apart (components.identity), or SystemExit with what to set."""
    from components.identity import Identity
    from studio.base.accounts import Accounts, parse_login
    from studio.base.errors import ConfigError

    try:
        accounts = Accounts.read(a.auth_file) if a.auth_file else Accounts()
        for value in a.auth:
            name, password = parse_login(value)
            accounts.add(name, password)
    except ConfigError as e:
        raise SystemExit(str(e)) from None
    admins = frozenset(a.admin)
    space = bool(os.environ.get("SPACE_ID"))
    if len(accounts):
        return Identity("accounts", accounts, admins)
    if space and os.environ.get("OAUTH_CLIENT_ID"):
        return Identity("oauth", None, admins)
    if public:
        if not a.no_login:
            where = "a Hugging Face Space" if space else ("a share link" if a.share else f"{host or a.host}")
            raise SystemExit(
                f"Refusing to serve {where} without a login: anyone who reaches it could act on every run. Give "
                "accounts (--auth NAME:PASSWORD, --auth-file FILE), on a Space set `hf_oauth: true` in the README "
                "front matter, or say --no-login to serve it anyway (a Space is then a read-only demo).")
        return Identity("demo" if space else "shared", None, admins)
    return Identity("local")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    a = build_parser().parse_args(argv)
    # Repeatable flags: given on the command line, they replace their environment variable (the flag wins).
    a.auth = a.auth if a.auth is not None else ([os.environ["STUDIO_AUTH"]] if os.environ.get("STUDIO_AUTH") else [])
    a.admin = a.admin if a.admin is not None else [
        n.strip() for n in (os.environ.get("STUDIO_ADMINS") or "").split(",") if n.strip()]
    a.limit = a.limit or []
    for value in a.auth:
        parse_auth(value)  # the old sentence for a malformed --auth, before anything else
    host = a.host or os.environ.get("GRADIO_SERVER_NAME")
    public = bool(a.share or os.environ.get("SPACE_ID") or not is_loopback(host))
    identity = identity_of(a, public, host)

    from studio.base import limits as policy
    from studio.base import secrets
    from studio.base.errors import ConfigError

    policy_name = a.policy or ("public" if public else "open")
    try:
        changes = {**json.loads(os.environ.get(policy.LIMITS_ENV) or "{}"), **policy.parse_changes(a.limit)}
        limits = policy.named(policy_name, changes)
    except (ConfigError, ValueError) as e:
        raise SystemExit(str(e)) from None
    # The engine and the workers it starts read these from the environment.
    os.environ[policy.POLICY_ENV] = policy_name
    os.environ[policy.LIMITS_ENV] = json.dumps({k: v for k, v in changes.items()})
    os.environ["STUDIO_TRUST_REMOTE_CODE"] = "1" if a.trust_remote_code else "0"
    no_local = a.no_local_models or (identity.mode != "local" and not limits.local_models)
    os.environ["STUDIO_ALLOW_LOCAL_MODELS"] = "0" if no_local else "1"
    if a.trust_remote_code:
        log.warning("--trust-remote-code is on: models may run code from their repositories on this machine.")
    os.environ["STUDIO_ALLOW_REWARD_CODE"] = "1" if a.allow_reward_code and policy_name != "public" else "0"
    if a.allow_reward_code and policy_name == "public":
        log.warning("--allow-reward-code is ignored under the public policy: nobody's code runs on a public server.")
    elif a.allow_reward_code:
        log.warning("--allow-reward-code is on: reinforcement-learning runs may run their person's Python code on "
                    "this machine.")
    if a.share and identity.mode in ("shared", "demo"):
        log.warning("Sharing a public link without --auth: anyone with the link can use this studio (--no-login).")
    max_mb = min(a.max_file_mb, limits.upload_mb) if limits.upload_mb is not None else a.max_file_mb
    # The engine reads the same limit when it checks files, so page and engine agree.
    os.environ["STUDIO_MAX_FILE_MB"] = f"{max_mb:g}"
    if limits.rows is not None:
        os.environ["STUDIO_MAX_ROWS"] = str(limits.rows)
    if identity.mode != "local":
        # Many people, one server: the server's own tokens are kept from the web process and every worker; runs
        # that may use them get them back (studio.base.secrets).
        held = secrets.withhold()
        if held:
            log.info("server secrets held back from people's runs: %s", ", ".join(held))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    runs_dir = Path(a.runs_dir).expanduser().resolve()
    # Workers started by this server find the same registry through the environment.
    os.environ["STUDIO_RUNS_DIR"] = str(runs_dir)
    if a.cluster_storage and not a.ray:
        raise SystemExit("--cluster-storage is where runs travel to the nodes of a Ray cluster: give --ray ADDRESS "
                         "too.")
    if a.ray:
        join_cluster(a.ray, runs_dir, a.cluster_storage)

    from components.app import build_app, launch_options

    app = build_app(runs_dir, identity=identity, limits=limits)
    log.info("runs folder: %s; people: %s; policy: %s", runs_dir, identity.mode, policy_name)
    for line in policy.describe(limits):
        log.info("limit %s", line)
    auth = identity.accounts.verify if identity.mode == "accounts" else None
    app.launch(server_name=a.host, server_port=a.port, share=a.share, auth=auth,
               auth_message="Sign in to the studio." if auth else None,
               max_file_size=int(max_mb * 1024 * 1024), **launch_options(app))


if __name__ == "__main__":
    main()
