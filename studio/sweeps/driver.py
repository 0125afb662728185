"""A sweep created, and its driver: a detached process (`python -m studio.sweeps.driver run DIR`) that asks
Optuna for settings, creates each trial as a normal run tagged with the sweep, waits for it, and tells Optuna its
best validation score (pruned and failed trials are told as such)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from studio.base import files, runfolder
from studio.base.access import LOCAL, Person, owned_by, read_access
from studio.base.entity import SWEEPS
from studio.base.errors import ConfigError, LimitError, QuotaFull, RunError
from studio.base.runfolder import RunFolder
from studio.config import RunConfig
from studio.runs import prewarm, quotas
from studio.runs.store import Store, process_start_time, worker_env
from studio.sweeps.folders import ACTIVE, LOG_FILE, SWEEP_FILE, read_status, storage_url, write_status
from studio.sweeps.settings import SweepSettings
from studio.sweeps.space import Param, apply_params, check_grid, default_space, parse_space
from studio.tasks import get_task
from studio.training.trial_pruning import make_pruner


def create(store: Store, cfg: RunConfig, space: dict[str, Any] | None = None,
           settings: SweepSettings | None = None, start: bool = True) -> str:
    """Check everything, then write the sweep's folder and start its driver; returns the sweep id.

    A bad space, settings, config or data file, or one beyond the person's limits, is refused before anything is
    written. The sweep belongs to the store's person, and so does every trial its driver creates."""
    store.person.check_can_write()
    settings = settings or SweepSettings()
    lim = store.person_limits()
    if lim.sweep_trials is not None and settings.trials > lim.sweep_trials:
        raise LimitError(f"trials: {settings.trials} is above this server's limit of {lim.sweep_trials} trials per "
                         "sweep (sweep_trials); ask for fewer.")
    cfg.validate()
    quotas.check_config(cfg, lim)
    cfg.check_machine()
    quotas.check_files(store, cfg)
    quotas.check_models(store, cfg.resolved(), lim)  # its trials' base is checked here too: before any trial exists
    quotas.check_room(store, lim)
    if lim.runs_active is not None:  # a sweep's driver is a process of its own while it lasts: they count too
        mine = [d for d in SWEEPS.visible(store.root, store.person)
                if read_access(SWEEPS.folder(store.root, d)).owner == store.person.name
                and read_status(SWEEPS.folder(store.root, d)).get("status") in ACTIVE]
        if len(mine) >= lim.runs_active:
            raise QuotaFull(f"You have {len(mine)} sweeps under way, this server's limit (runs_active "
                            f"{lim.runs_active}); wait for one to end, or stop one, before starting another.")
    space = space or default_space(cfg)
    params = parse_space(space, cfg)
    if settings.sampler == "grid":
        check_grid(params, settings.trials)
    task = get_task(cfg.task)
    task.prepare_data(cfg.data)  # the data is checked once here; each trial checks its own copy again
    metric = cfg.selection_metric()
    with SWEEPS.creating(store.root, owned_by(store.person)) as (sweep_id, tmp):
        spec = {"id": sweep_id, "config": cfg.resolved().to_dict(), "space": {p.name: p.to_dict() for p in params},
                "settings": dataclasses.asdict(settings), "metric": metric,
                "direction": "maximize" if task.metrics.greater_is_better(metric) else "minimize",
                "created_at": time.time(), "registry": str(store.registry),
                "limited": not store.person.sees_all}
        files.atomic_write_json(tmp / SWEEP_FILE, spec)
        write_status(tmp, "queued", created_at=spec["created_at"], trials_done=0)
    folder = SWEEPS.folder(store.root, sweep_id)
    _study(folder, spec)  # Optuna's tables exist before anyone reads them
    if start:
        launch(folder, store.spare)
    return sweep_id


def owner_of(folder: Path, spec: dict[str, Any]) -> Person:
    """Who the sweep's driver acts for: its owner (limited as they were when they started it), or the machine."""
    owner = read_access(folder).owner
    if owner is None:
        return LOCAL
    return Person(owner, admin=not spec.get("limited", True))


def _sampler(spec: dict[str, Any], params: list[Param]):
    import optuna

    s = spec["settings"]
    if s["sampler"] == "grid":
        return optuna.samplers.GridSampler({p.name: p.grid() for p in params}, seed=s["seed"])
    if s["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=s["seed"])
    return optuna.samplers.TPESampler(seed=s["seed"], n_startup_trials=min(5, max(2, s["trials"] // 3)))


def _study(folder: Path, spec: dict[str, Any]):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = parse_space(spec["space"], RunConfig.from_dict(spec["config"]))
    return optuna.create_study(study_name=spec["id"], storage=storage_url(folder), direction=spec["direction"],
                               sampler=_sampler(spec, params), pruner=make_pruner(spec["settings"]),
                               load_if_exists=True)


def launch(folder: Path, spare=None) -> int:
    """Start the sweep's driver, detached (its own session: it outlives the app or shell that started it). Its
    trials fork from `spare` (the Store's, when it has one) rather than from a second spare of the driver's own."""
    folder = Path(folder)
    with open(folder / LOG_FILE, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "studio.sweeps.driver", "run", str(folder)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True, env=prewarm.lend(spare, worker_env()), cwd=str(folder.parent.parent))
    import threading

    threading.Thread(target=proc.wait, daemon=True).start()  # reaped when it ends, never a zombie
    st = read_status(folder)
    if st.get("status") in ACTIVE:
        write_status(folder, st["status"], pid=proc.pid, pid_start=process_start_time(proc.pid))
    return proc.pid


# ------------------------------------------------------------------------------------------------- driver --
class Driver:
    """The sweep's loop: ask, run, tell; until the trials or the time budget are spent, or it is stopped."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.spec = json.loads((self.folder / SWEEP_FILE).read_text())
        self.cfg = RunConfig.from_dict(self.spec["config"])
        # The trials are the sweep's owner's runs, within the owner's limits where they had any.
        self.store = Store(self.folder.parent.parent, registry=Path(self.spec["registry"]),
                           person=owner_of(self.folder, self.spec))
        self.study = _study(self.folder, self.spec)
        self.params = parse_space(self.spec["space"], self.cfg)
        self.settings = self.spec["settings"]
        if self.settings["trials"] > 1 and os.environ.get("STUDIO_PREWARM", "1") != "0":
            # Trials fork from a spare worker with torch and transformers imported, as the app's runs do: a sweep
            # of short trials would otherwise spend seconds of each importing them again.
            prewarm.enable(self.store)
            if type(self.store.spare) is prewarm.Borrowed:
                print("[studio] trials fork from the spare worker of the app that started this sweep", flush=True)

    def stop_requested(self) -> bool:
        return (RunFolder(self.folder).stop_request).exists()

    def run(self) -> str:
        me = os.getpid()
        st = write_status(self.folder, "running", pid=me, pid_start=process_start_time(me),
                          started_at=read_status(self.folder).get("started_at") or time.time())
        minutes = self.settings["timeout_minutes"]
        budget_end = st["started_at"] + 60 * minutes if minutes else None
        if self.store.spare is not None:
            self.store.spare.wait_ready()  # so the first trial forks from it too
        self._finish_interrupted()
        while not self.stop_requested():
            done = [t for t in self.study.trials if t.state.is_finished()]
            if len(done) >= self.settings["trials"]:
                return self._end("completed", f"All {len(done)} trials finished.")
            if budget_end is not None and time.time() >= budget_end:
                return self._end("completed", f"The time budget of {self.settings['timeout_minutes']:g} minutes "
                                              f"is spent after {len(done)} trials.")
            if self.settings["sampler"] == "grid" and self._grid_exhausted():
                return self._end("completed", f"Every combination of the grid was tried ({len(done)} trials).")
            self._one_trial()
        return self._end("stopped", "Stopped by the user; resume continues with the next trial.")

    def _grid_exhausted(self) -> bool:
        sizes = [len(p.grid()) for p in self.params]
        return len([t for t in self.study.trials if t.state.is_finished()]) >= math.prod(sizes)

    def _one_trial(self) -> None:
        import optuna

        trial = self.study.ask({p.name: p.distribution() for p in self.params})
        raw = apply_params(self.spec["config"], trial.params)
        raw["name"] = f"{self.spec['id']} #{trial.number}"
        try:
            cfg = RunConfig.from_dict(raw)
            run_id = self._create_when_room(cfg, trial)
            if run_id is None:  # stopped while it waited for room: the trial runs when the sweep resumes
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
                return
        except (ConfigError, RunError, ValueError) as e:  # settings that cannot go together (adalora's ranks, say)
            print(f"[sweep] trial {trial.number} {trial.params}: not run: {e}", flush=True)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        trial.set_user_attr("run", run_id)
        print(f"[sweep] trial {trial.number}: run {run_id} with {trial.params}", flush=True)
        write_status(self.folder, "running", current_run=run_id, current_trial=trial.number)
        self._wait_and_tell(trial.number, run_id)

    def _create_when_room(self, cfg: RunConfig, trial, poll: float = 5.0) -> str | None:
        """The trial's run, created once the owner has room for another active run (their quota); None when the
        sweep is stopped while it waits."""
        announced = False
        while True:
            try:
                return self.store.create(cfg, sweep=self.spec["id"],
                                         extra_files={RunFolder.sweep_trial.name: self._trial_file(trial)})
            except QuotaFull as e:
                if not announced:
                    print(f"[sweep] trial {trial.number} waits: {e}", flush=True)
                    announced = True
                if self.stop_requested():
                    return None
                time.sleep(poll)

    def _trial_file(self, trial) -> dict[str, Any]:
        return {"sweep": self.spec["id"], "trial_number": trial.number, "trial_id": trial._trial_id,
                "study": self.spec["id"], "storage": storage_url(self.folder), "settings": self.settings}

    def _wait_and_tell(self, number: int, run_id: str) -> None:
        import optuna

        while True:
            st = self.store.sync(run_id)
            if st.get("status") in runfolder.FINISHED:
                break
            if self.stop_requested() and st.get("status") in ("queued", "running"):
                self.store.stop(run_id)  # the trial stops with the sweep; resume continues it
            time.sleep(1.0)
        if self.stop_requested() and not st.get("pruned") and st.get("status") != "completed":
            return  # interrupted with the sweep: left running in the study, resumed with it
        value = st.get("best_metric")
        if st.get("status") == "completed" and isinstance(value, (int, float)):
            self.study.tell(number, float(value))
            state = f"{self.spec['metric']} {value:.4f}"
        elif st.get("pruned"):
            self.study.tell(number, state=optuna.trial.TrialState.PRUNED)
            state = "pruned"
        else:
            self.study.tell(number, state=optuna.trial.TrialState.FAIL)
            state = f"failed: {st.get('reason')}"
        print(f"[sweep] trial {number}: {state}", flush=True)
        done = len([t for t in self.study.trials if t.state.is_finished()])
        best = best_trial(self.study)  # lists show the best so far while the sweep runs
        write_status(self.folder, "running", current_run=None, current_trial=None, trials_done=done,
                     best_run=best.user_attrs.get("run") if best else None, best_value=best.value if best else None)

    def _finish_interrupted(self) -> None:
        """Trials a previous driver left running (stopped with the sweep, or the driver died): resume their runs."""
        import optuna

        for t in self.study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            run_id = t.user_attrs.get("run")
            if not run_id:
                self.study.tell(t.number, state=optuna.trial.TrialState.FAIL)
                continue
            st = self.store.sync(run_id)
            # Named before it resumes: a kill of the sweep from now on reaches it (Store.resume may start it at once).
            write_status(self.folder, "running", current_run=run_id, current_trial=t.number)
            if st.get("status") in ("stopped", "failed") and not st.get("pruned"):
                print(f"[sweep] trial {t.number}: resuming run {run_id}", flush=True)
                self.store.resume(run_id)
            self._wait_and_tell(t.number, run_id)
            if self.stop_requested():
                return

    def _end(self, status: str, reason: str) -> str:
        best = best_trial(self.study)
        write_status(self.folder, status, reason=reason, finished_at=time.time(), current_run=None,
                     current_trial=None, trials_done=len([t for t in self.study.trials if t.state.is_finished()]),
                     best_run=best.user_attrs.get("run") if best else None, best_value=best.value if best else None,
                     best_params=best.params if best else None)
        runfolder.clear_stop(self.folder)
        print(f"[sweep] {status}: {reason}", flush=True)
        return status


def best_trial(study):
    import optuna

    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return study.best_trial if done else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studio.sweeps.driver")
    ap.add_argument("command", choices=("run",))
    ap.add_argument("folder")
    a = ap.parse_args(argv)
    folder = Path(a.folder).resolve()
    signal.signal(signal.SIGTERM, lambda *_: runfolder.request_stop(folder))
    try:
        Driver(folder).run()
        return 0
    except BaseException as exc:  # every way out leaves a true status
        import traceback

        traceback.print_exc()
        from studio.base.errors import failure_reason

        write_status(folder, "failed", reason=failure_reason(exc), finished_at=time.time())
        return 1


if __name__ == "__main__":
    sys.exit(main())
