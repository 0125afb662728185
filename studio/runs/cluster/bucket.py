"""Object storage between the studio and the nodes (`--cluster-storage s3://bucket/prefix`): where nodes share no
file system with the studio, each run's folder travels through a bucket instead.

The studio's own runs folder stays the truth on its machine (the registry, who owns what, the page, exports). When
a run goes to the cluster the studio pushes its folder to `<url>/<run id>/`; the run's actor on its node fetches
that into a scratch folder of its own, trains there, and pushes what changed every few seconds (status.json last,
so a finished status arrives after the model it names); the studio pulls what changed while the run is active.
A stop is the one file that travels the other way while the run trains. A run over several nodes has a copy on
each node its ranks train on, each pushing what its ranks wrote (studio.runs.cluster.node.RunCopyOnNode).

Which side owns what: the studio owns config.json, access.json and STOP (never pulled back); the node owns the rest
while it trains. status.json is taken from the node only when it is of the same place in Ray's queue (`cluster.
attempt`) and of a claim no older than the studio's copy, so a kill or a stop the studio recorded is never undone
by a node's late push.

Any URL pyarrow's file systems understand works (s3://, gs://, abfs://, hdfs://; its query string carries options
such as `endpoint_override` for S3-compatible stores), and other fsspec schemes through fsspec where installed.
Credentials come from the usual places (the environment, the provider's files, an instance role) on the studio's
machine and on every node; the query string may carry them too, and is never shown or written to a run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import posixpath
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

STATUS = "status.json"
STUDIO_OWNS = frozenset({"STOP", "access.json", "config.json"})  # written by the studio only; never pulled
PULL_EVERY_S = 1.0  # the studio's copy of an active run is at most this stale when read
SMALL = 1 << 20  # files below this are always pushed whole by the studio (a same-size rewrite of config.json)
BIG_EVERY_S = 30.0  # a node pushes a large file that keeps changing at most this often, and at the end
ALIVE_AFTER_LOSS_S = 10.0  # a node writing this long after the studio called it lost was not (beyond clock skew)
CHECKPOINTS = "checkpoints"  # the run's checkpoints folder (RunFolder.checkpoints)
CHECKPOINT_DONE = "trainer_state.json"  # written last into a checkpoint: one without it is torn (training.checkpoints)
SCRATCH_ENV = "STUDIO_CLUSTER_SCRATCH"  # where a node keeps its copies (default: its temp folder)
# Hidden files that travel all the same: what each rank of a run over several nodes leaves for its driver (its
# result, its node), written whole under a temporary name first, which does not match.
RANK_FILES = re.compile(r"\.(result|node)-rank\d+(-\d+)?\.json")
# The object store's keys a node may hold: its actors move the runs' files, so a worker or a rank never needs them,
# and a run's own code (a model's remote code) must not reach everyone's runs in the bucket.
STORAGE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE",
                "AWS_CONFIG_FILE", "AWS_PROFILE", "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_STORAGE_ACCOUNT_KEY",
                "AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN", "AZURE_CLIENT_SECRET")

_PULLED: dict[tuple[str, str], dict[str, tuple[int, float]]] = {}
_LAST_PULL: dict[tuple[str, str], float] = {}
_PULLING: dict[tuple[str, str], threading.Lock] = {}
_LOCK = threading.Lock()


def is_url(place: str | os.PathLike | None) -> bool:
    """Whether `place` names object storage (scheme://...) rather than a folder."""
    text = str(place or "")
    scheme = urlsplit(text).scheme
    return len(scheme) > 1 and "://" in text  # one letter: a Windows drive, not a scheme


def shown(url: str) -> str:
    """The URL as a person may read it: without its query string, which may hold credentials."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


@functools.lru_cache(maxsize=8)
def open_url(url: str):
    """(file system, base path) for the URL: pyarrow's own file systems first, fsspec's for other schemes. One per
    URL and process: making one may ask the store a question (S3 finds a bucket's region), and the studio reads
    each active run every second."""
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(url)
    except Exception as first:  # noqa: BLE001 - pyarrow says "unrecognized" for schemes fsspec may know
        try:
            import fsspec
            from pyarrow.fs import FSSpecHandler, PyFileSystem

            fs, path = fsspec.core.url_to_fs(url)
        except Exception:  # noqa: BLE001 - the first error names the URL's problem best
            raise first from None
        return PyFileSystem(FSSpecHandler(fs)), path


def check_url(url: str) -> str:
    """The URL, or a ValueError saying what is wrong with it (checked when the studio starts)."""
    if not is_url(url):
        raise ValueError(f"--cluster-storage takes a URL such as s3://bucket/prefix, not {url!r}.")
    if urlsplit(url).scheme == "file":
        raise ValueError("--cluster-storage file://... is a folder: give it as --runs-dir on a file system every "
                         "node mounts at the same path instead.")
    try:
        open_url(url)
    except Exception as e:  # noqa: BLE001 - pyarrow's and fsspec's errors differ by scheme
        raise ValueError(f"--cluster-storage {shown(url)} cannot be opened: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from None
    return url


def sweep_scratch(url: str) -> list[Path]:
    """Remove the copies this node keeps for actors that are gone (a killed run's actor cannot tidy up after
    itself): each copy's folder ends with its actor's process id. The removed folders."""
    root = scratch_dir(url, "x", "x").parent.parent
    gone = []
    for holder in root.iterdir() if root.is_dir() else ():
        pid = holder.name.rpartition("-")[2]
        if not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        shutil.rmtree(holder, ignore_errors=True)
        gone.append(holder)
    return gone


def scratch_dir(url: str, run_id: str, holder: str) -> Path:
    """Where a node keeps one actor's copy of a run (`holder`: that actor, so an actor winding down never removes
    the copy of the next one of the same run); the folder is named for the run, as a worker expects."""
    root = Path(os.environ.get(SCRATCH_ENV) or Path(tempfile.gettempdir()) / "studio-cluster")
    return root / hashlib.sha256(url.encode()).hexdigest()[:12] / holder / run_id


class RunCopy:
    """One run's folder in the bucket and a local folder it is copied to or from."""

    def __init__(self, url: str, run_id: str, local: Path):
        self.url, self.run_id, self.local = url, run_id, Path(local)
        self.fs, base = open_url(url)
        self.remote = posixpath.join(base.rstrip("/"), run_id)
        self.pushed: dict[str, tuple[int, int]] = {}  # what this copy last pushed or fetched, by local stat
        self.pushed_at: dict[str, float] = {}  # when (time.monotonic) it last pushed each file

    # ----------------------------------------------------------- both sides --
    def listing(self) -> dict[str, tuple[int, float]]:
        """The run's files in the bucket: relative path -> (size, modified time)."""
        import pyarrow.fs as pafs

        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.remote, recursive=True, allow_not_found=True))
        except FileNotFoundError:
            return {}
        prefix = self.remote.rstrip("/") + "/"
        return {i.path[len(prefix):]: (i.size, i.mtime.timestamp() if i.mtime else 0.0)
                for i in infos if i.type == pafs.FileType.File and i.path.startswith(prefix)
                and _inside(i.path[len(prefix):])}

    def upload(self, rel: str) -> bool:
        """Copy one local file up; False when it vanished meanwhile (a temp file renamed into place)."""
        try:
            with open(self.local / rel, "rb") as src, self.fs.open_output_stream(f"{self.remote}/{rel}") as dst:
                shutil.copyfileobj(src, dst, 1 << 22)
        except FileNotFoundError:
            return False
        return True

    def download(self, rel: str, dest: Path | None = None) -> Path:
        """Copy one file down (to `dest`, else its place here), into place at once: a reader of the local folder
        never sees half of it."""
        if not self.local.is_dir():
            raise FileNotFoundError(f"{self.local} is gone (the run was deleted)")
        dest = dest or self.local / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, self.fs.open_input_stream(f"{self.remote}/{rel}") as src:
                shutil.copyfileobj(src, out, 1 << 22)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def delete(self, rel: str) -> None:
        try:
            self.fs.delete_file(f"{self.remote}/{rel}")
        except FileNotFoundError:
            pass

    def remove(self) -> None:
        """The run's whole copy in the bucket (the run was deleted)."""
        try:
            self.fs.delete_dir(self.remote)
        except FileNotFoundError:
            pass

    def _local_files(self) -> dict[str, os.stat_result]:
        out = {}
        for p in self.local.rglob("*"):
            rel = p.relative_to(self.local)
            if any(part.startswith(".") for part in rel.parts) and not RANK_FILES.fullmatch(rel.as_posix()):
                continue  # a file or folder on its way into place (files.atomic_write_*, folder_written_whole)
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if p.is_file():
                out[rel.as_posix()] = st
        return out

    # --------------------------------------------------------- the studio --
    def hand_over(self, status_only: bool = False) -> int:
        """The studio's side, when the run goes to the cluster: its whole folder up (files the bucket already holds
        at the same size are left, unless small), and a STOP the studio no longer asks for taken away.
        status_only: the status alone, without a listing (the rest went up a moment before, outside the registry's
        lock, which this runs under)."""
        if status_only:
            sent = self.upload(STATUS)
            if not (self.local / "STOP").exists():
                self.delete("STOP")
            return int(sent)
        there = self.listing()
        sent = 0
        here = self._local_files()
        for rel, st in here.items():
            if rel == STATUS:
                continue  # it goes up under the registry's lock, with the run's new place in Ray's queue
            if rel in there and there[rel][0] == st.st_size and st.st_size >= SMALL:
                continue
            sent += self.upload(rel)
        if "STOP" in there and not (self.local / "STOP").exists():
            self.delete("STOP")
        with _LOCK:  # what the studio holds is held; what else the bucket has (a killed run's last push) comes down
            _PULLED[(self.url, self.run_id)] = {rel: stamp for rel, stamp in self.listing().items()
                                                if rel in here and here[rel].st_size == stamp[0]}
        return sent

    def ask_stop(self) -> None:
        self.upload("STOP")

    def pull(self, take_status) -> list[str]:
        """The studio's side while the run trains: what the node changed comes down, and what it removed (an old
        checkpoint, a model folder written again) goes here too; status.json only where `take_status(local,
        remote)` gives the status to write. The status is read before the listing: the node sends it last, so
        the files a finished status names are all in the listing. One pull of a run at a time."""
        from studio.base import files, runfolder

        key = (self.url, self.run_id)
        with _LOCK:
            busy = _PULLING.setdefault(key, threading.Lock())
        if not busy.acquire(blocking=False):
            return []  # another reader is pulling this run right now: its pull serves this one too
        try:
            try:
                with self.fs.open_input_stream(f"{self.remote}/{STATUS}") as src:
                    remote = json.loads(src.read().decode("utf-8"))
            except (FileNotFoundError, ValueError):
                remote = None
            there = self.listing()
            with _LOCK:
                seen = _PULLED.get(key)
                if seen is None:  # this process's first look (a restarted studio): large files it holds at the same
                    # size stay (checkpoints, the model); small ones (node.json, the status, metrics) come down again
                    seen = _PULLED[key] = {rel: stamp for rel, stamp in there.items()
                                           if stamp[0] >= SMALL and (self.local / rel).is_file()
                                           and (self.local / rel).stat().st_size == stamp[0]}
            got = []
            for rel, stamp in there.items():
                if rel in STUDIO_OWNS or rel == STATUS or seen.get(rel) == stamp:
                    continue
                try:
                    self.download(rel)
                except FileNotFoundError:
                    continue  # replaced by the node meanwhile: the next pull takes the new one
                seen[rel] = stamp
                got.append(rel)
            if there:
                for rel in [r for r in seen if r not in there and r not in STUDIO_OWNS and r != STATUS]:
                    (self.local / rel).unlink(missing_ok=True)
                    seen.pop(rel, None)
                    got.append(rel)
                    _prune(self.local, (self.local / rel).parent)
            if runfolder.stop_requested(self.local) and "STOP" not in there \
                    and runfolder.read_status(self.local).get("status") == "stopping":
                self.upload("STOP")  # asked for while the store did not answer: asked again
            if isinstance(remote, dict):
                status = take_status(runfolder.read_status(self.local), remote)
                if status is not None:
                    if status.get("status") == "running" and runfolder.stop_requested(self.local):
                        status = {**status, "status": "stopping"}  # a stop asked for while this pull ran
                    files.atomic_write_json(self.local / STATUS, status)
                    got.append(STATUS)
            return got
        finally:
            busy.release()

    # ------------------------------------------------------------ the node --
    def fetch(self) -> Path:
        """The node's side, as the run's actor starts: a fresh local copy of the whole folder."""
        shutil.rmtree(self.local, ignore_errors=True)
        self.local.mkdir(parents=True)
        for rel in self.listing():
            self.download(rel)
        self.pushed = {rel: _stamp(st) for rel, st in self._local_files().items()}
        return self.local

    def push(self, skip: frozenset[str] = frozenset(), final: bool = False, whole_folders: bool = False,
             follow_removals: bool = False, before_marker: Callable[[], None] | None = None) -> int:
        """The node's side, every few seconds and at the end: what changed here goes up, status.json last and as it
        was before the others were listed (a reader that sees a finished status finds the files it names), and
        files the run removed go from the bucket too; a STOP the studio asks for comes down. `skip`: files sent
        on their own (node.json, the heartbeat). A large file that keeps growing (a long run's train.log) goes up
        at most every BIG_EVERY_S until the `final` push: each upload sends it whole. whole_folders: a folder this
        copy removed goes from the bucket with what other copies put in it (rank 0's copy, when the ranks of a run
        over several nodes each write their shards of a checkpoint that rank 0 alone rotates away). follow_removals:
        a checkpoint file this copy pushed that is gone from the bucket goes from here too (the other nodes' copies
        of such a run: only rank 0 rotates checkpoints). before_marker: called before a checkpoint's marker goes up
        (rank 0's copy asks the other copies for their shards of it first). A rank's result goes up last of all."""
        if not self.local.is_dir():
            return 0  # the copy was removed (its last push is in): no file of it is gone from the run
        status = self.local / STATUS
        try:
            status_stamp = _stamp(status.stat())
            status_text = status.read_bytes()
        except FileNotFoundError:
            status_stamp, status_text = None, None
        try:  # a finished status goes up with every file as it is now, whatever their half-minute says
            final = final or json.loads(status_text or b"{}").get("status") in ("completed", "failed", "stopped")
        except ValueError:
            pass
        now = self._local_files()
        clock = time.monotonic()
        # A checkpoint that became whole since the last push: its weights go up again now, whatever their
        # half-minute says (an upload may have caught them half written), and its marker after them, so the
        # bucket never holds a checkpoint that looks whole with torn weights (a node lost then resumes from it).
        whole = {posixpath.dirname(rel) for rel, st in now.items()
                 if posixpath.basename(rel) == CHECKPOINT_DONE and self.pushed.get(rel) != _stamp(st)}
        # A checkpoint's file that changed was caught half written (each is written once): again at once.
        changed = [rel for rel, st in now.items()
                   if rel not in STUDIO_OWNS and rel != STATUS and rel not in skip
                   and self.pushed.get(rel) != _stamp(st)
                   and (final or st.st_size < SMALL or rel not in self.pushed or posixpath.dirname(rel) in whole
                        or rel.startswith(CHECKPOINTS + "/")
                        or clock - self.pushed_at.get(rel, -BIG_EVERY_S) >= BIG_EVERY_S)]
        changed.sort(key=_upload_order)
        asked = False
        for rel in changed:
            if before_marker is not None and not asked and _upload_order(rel) > 0:
                before_marker()
                asked = True
            if self.upload(rel):
                self.pushed[rel] = _stamp(now[rel])
                self.pushed_at[rel] = clock
        # What the run removed goes before the status: a studio that reads a finished status pulls no more, and
        # would keep a file the node removed a moment later (a result the driver read, a rotated checkpoint).
        there = self.listing()
        removed: set[str] = set()
        for rel in there:
            if rel not in now and rel not in STUDIO_OWNS and rel != STATUS and rel in self.pushed:
                self.delete(rel)
                self.pushed.pop(rel, None)
                folder = posixpath.dirname(rel)
                while folder and not (self.local / folder).exists():
                    removed.add(folder)
                    folder = posixpath.dirname(folder)
        if whole_folders and removed:
            for rel in there:
                if rel not in now and any(rel.startswith(folder + "/") for folder in removed):
                    self.delete(rel)
        if follow_removals and there:
            for rel in [r for r in now if r.startswith(CHECKPOINTS + "/") and r not in there
                        and self.pushed.get(r) == _stamp(now[r])]:
                (self.local / rel).unlink(missing_ok=True)
                self.pushed.pop(rel, None)
                _prune(self.local, (self.local / rel).parent)
        if status_text is not None and self.pushed.get(STATUS) != status_stamp:
            with self.fs.open_output_stream(f"{self.remote}/{STATUS}") as dst:
                dst.write(status_text)
            self.pushed[STATUS] = status_stamp
            changed.append(STATUS)
        if "STOP" in there and not (self.local / "STOP").exists():
            (self.local / "STOP").write_text("stop requested\n", encoding="utf-8")
        return len(changed)

    def refresh(self, in_place: frozenset[str] = frozenset()) -> list[str]:
        """The node's side, for a copy that stood aside while other copies of the run pushed (the driver's, while
        the ranks of a run over several nodes train in copies of their own): what changed in the bucket comes down,
        small files always and large ones this copy holds at another size (a long train.log), and what was removed
        there goes here too. Large files this copy never had (a new checkpoint's weights) stay in the bucket alone:
        the driver reads the ranks' small files, and the next ranks fetch their own copies. A file written here
        since this copy's last push is this copy's word and stays (the status its worker wrote as it failed), as
        do files made here meanwhile; the `in_place` files (logs a process here holds open for appending) are
        rewritten rather than replaced, the bucket's text first and what was written here meanwhile after it."""
        there = self.listing()
        if not there:  # not a run whose every file went: tried again rather than taken at its word
            raise OSError(f"{shown(self.url)} listed no file of run {self.run_id}")
        here = self._local_files()
        mine = {rel for rel, st in here.items() if self.pushed.get(rel) != _stamp(st)}
        got, ahead = [], set()
        for rel, (size, _) in there.items():
            if rel in in_place and rel in here:
                fresh = self.download(rel, self.local / f".{rel}.fresh")
                start = (self.pushed.get(rel) or (0, 0))[0] if rel in mine else here[rel].st_size
                with open(self.local / rel, "rb") as own:
                    own.seek(start)
                    extra = own.read()
                with open(self.local / rel, "wb") as out, open(fresh, "rb") as src:  # the same file, rewritten
                    shutil.copyfileobj(src, out, 1 << 22)
                    out.write(extra)
                fresh.unlink()
                # A refresh tried again finds the bucket's part here and this copy's own lines after it.
                self.pushed[rel] = (size, -1)
                if extra:
                    ahead.add(rel)
                got.append(rel)
            elif rel not in mine and (size < SMALL or (rel in here and here[rel].st_size != size)):
                self.download(rel)
                got.append(rel)
        for rel in here:
            if rel not in there and rel in self.pushed and rel not in mine:
                (self.local / rel).unlink(missing_ok=True)
                _prune(self.local, (self.local / rel).parent)
                got.append(rel)
        self.pushed = {rel: _stamp(st) for rel, st in self._local_files().items()
                       if rel in there and rel not in ahead and (rel not in mine or rel in in_place)}
        return got

    def report_failure(self, reason: str) -> None:
        """The node's side when its work failed before it had a copy (a full disk, no credentials): the run's status
        in the bucket says so, so the studio shows why rather than handing the run to Ray again and again."""
        with self.fs.open_input_stream(f"{self.remote}/{STATUS}") as src:
            status = json.loads(src.read().decode("utf-8"))
        if status.get("status") != "queued":
            return
        status.update(status="failed", reason=reason, finished_at=time.time(), updated_at=time.time())
        with self.fs.open_output_stream(f"{self.remote}/{STATUS}") as dst:
            dst.write(json.dumps(status, indent=2).encode("utf-8"))

    def send(self, rel: str) -> None:
        """One small file up now (the heartbeat, between the pushes)."""
        self.upload(rel)


def _upload_order(rel: str) -> int:
    """Within one push: files first, then checkpoints' markers (after their weights), then ranks' results (after
    everything the driver reads a finished rank's result to mean)."""
    if RANK_FILES.fullmatch(rel) and rel.startswith(".result-"):
        return 2
    return 1 if posixpath.basename(rel) == CHECKPOINT_DONE else 0


def _prune(root: Path, folder: Path) -> None:
    """Remove `folder` and the folders above it that are left empty, up to `root`."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _inside(rel: str) -> bool:
    """A key of the run's own folder: nothing that climbs out of it or names the root."""
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(part not in ("", ".", "..") for part in parts)


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return st.st_size, st.st_mtime_ns


def due(url: str, run_id: str, every: float = PULL_EVERY_S) -> bool:
    """Whether the studio's copy of this run is due a pull (reads in quick succession share one)."""
    key = (url, run_id)
    now = time.monotonic()
    with _LOCK:
        if now - _LAST_PULL.get(key, -every) < every:
            return False
        _LAST_PULL[key] = now
        return True


def take_status(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any] | None:
    """The status the studio records from a node's push, or None to keep its own.

    Only for a run the studio still counts as active (or as failed with its node lost, which Ray may restart
    elsewhere), from the same place in Ray's queue, and from a claim no older than the one the studio knows (after
    a lost node: a newer one). A stop the studio asked for stays `stopping` until the node says it stopped."""
    lost = local.get("status") == "failed" and local.get("lost_node")
    if local.get("status") not in ("queued", "running", "stopping") and not lost:
        return None
    place = local.get("cluster") or {}
    if (remote.get("cluster") or {}).get("attempt") != place.get("attempt"):
        return None
    if (local.get("resumed_at") or 0) > (place.get("submitted_at") or 0):
        return None  # resumed here, not handed to Ray again yet: what the bucket holds is the last attempt's
    if remote.get("claimed_at") is None:  # unclaimed: only the node's word that its work failed before its claim
        return remote if local.get("status") == "queued" and remote.get("status") == "failed" else None
    # Ray restarting the run's work after a lost node adds a note; compared by count, not by two machines' clocks.
    theirs, ours = len(remote.get("node_restarts") or []), len(local.get("node_restarts") or [])
    if theirs < ours:
        return None
    if lost and theirs == ours and remote.get("status") not in ("completed", "failed", "stopped") \
            and (remote.get("updated_at") or 0) < (local.get("finished_at") or 0) + ALIVE_AFTER_LOSS_S:
        return None  # the lost node's last word; its end, Ray's restart elsewhere, or news well after the loss
        # (the store or the studio was away, not the node) still come through
    if local.get("status") == "stopping" and remote.get("status") == "running":
        remote = {**remote, "status": "stopping"}
    return remote
