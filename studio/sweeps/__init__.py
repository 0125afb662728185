"""Sweeps: let Optuna find the settings, every trial an ordinary run in the registry and the queue.

A sweep is a base config, a search space over config fields and its settings (trials, time budget,
sampler, pruning). It lives in `<runs>/sweeps/<id>/`: sweep.json (what was asked), status.json (where it
stands), optuna.sqlite (Optuna's study: trials, parameters, scores) and sweep.log. A detached driver
process (`python -m studio.sweeps run DIR`) asks Optuna for settings, creates each trial as a normal run
tagged with the sweep, waits for it, and tells Optuna its best validation score (pruned and failed trials
are told as such). A trial reports each evaluation to the study and stops when Optuna prunes it
(studio.training.trial_pruning). Stop, kill and resume reach the running trial; the folder is the truth, so a restarted
server shows the sweep where it is, and `resume` continues an interrupted one where it stopped.

The space, per field (YAML or JSON):
    training.learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}
    training.epochs: {low: 1, high: 4}              # whole numbers for int fields (step 1 unless given)
    method: {choices: [lora, dora]}
    method_args.r: {choices: [8, 16, 32]}
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import typing
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import methods
from studio.base import runfolder
from studio.config import RunConfig, TrainingConfig, field_help
from studio.base.errors import ConfigError, RunError
from studio.training.trial_pruning import make_pruner
from studio.runs.store import Store, process_alive, process_start_time, worker_env
from studio.tasks import get_task
from studio.base.runfolder import RunFolder
from studio.base import files

SWEEPS_DIR = "sweeps"
SWEEP_FILE = "sweep.json"
STUDY_FILE = "optuna.sqlite"
LOG_FILE = "sweep.log"
SWEEP_ID_RE = re.compile(r"^s[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
SAMPLERS = ("tpe", "random", "grid")
STATUSES = ("queued", "running", "stopping", "completed", "stopped", "failed")
MIN_BUDGET_MINUTES = 1.0
ACTIVE = ("queued", "running", "stopping")


def _f(default, help: str, **meta):
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class SweepSettings:
    trials: int = _f(12, "Trials to run at most (each is a run).", min=1, max=500)
    timeout_minutes: float | None = _f(None, "Stop starting new trials after this many minutes (the running one "
                                       "finishes); empty: no time budget.", max=100_000.0)
    sampler: str = _f("tpe", "How Optuna picks the next settings: tpe learns from the trials so far, random draws "
                      "them, grid tries every combination of choices.", choices=SAMPLERS)
    prune: bool = _f(False, "Stop a trial early when its validation score at an evaluation (from the second on) is "
                     "behind the median of earlier trials at that evaluation (after 2 finished trials). Saves about "
                     "40% of the steps, but a trial that starts slow and ends best (more epochs, a higher learning "
                     "rate) can be cut: off unless asked (bench/RESULTS.md).")
    seed: int = _f(0, "Seed of the sampler, so the same sweep proposes the same settings.", min=0)


@dataclass(frozen=True)
class Param:
    """One field of the search space."""

    name: str                      # "training.learning_rate", "method", "method_args.r"
    kind: str                      # "float", "int" or "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def distribution(self):
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def grid(self) -> list:
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int" or self.step:
            n = int(round((self.high - self.low) / (self.step or 1))) + 1
            values = [self.low + i * (self.step or 1) for i in range(n)]
            return [int(v) for v in values] if self.kind == "int" else values
        raise ConfigError(f"space.{self.name}: a grid sweep needs choices or a step for this range; give "
                          "choices: [...] or step, or use the tpe or random sampler.")

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choices": list(self.choices)}
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step:
            out["step"] = self.step
        return out


# ------------------------------------------------------------------------------------------- the space --
def _field_kind(name: str, cfg: RunConfig, method_names: list[str]) -> tuple[type, tuple | None]:
    """(the field's type, its choices) for a sweepable field, or a ConfigError naming the fields there are."""
    if name == "method":
        return str, tuple(get_task(cfg.task).method_names())
    section, _, leaf = name.partition(".")
    if section == "training" and leaf:
        spec = next((f for f in field_help(TrainingConfig) if f["name"] == leaf), None)
        if spec is not None:
            tp = spec["type"]
            if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
                tp = next(a for a in typing.get_args(tp) if a is not type(None))
            return tp, spec.get("choices")
    if section == "method_args" and leaf:
        for m in method_names:
            setting = next((s for s in methods.METHODS[m].settings if s.name == leaf), None)
            if setting is not None:
                return setting.type, setting.choices
        raise ConfigError(f"space.{name}: {leaf!r} is not a setting of {', '.join(method_names)}; the settings are "
                          f"{', '.join(sorted({s.name for m in method_names for s in methods.METHODS[m].settings})) or 'none'}.")
    known = ", ".join(["method", "training.<field>", "method_args.<setting>"])
    raise ConfigError(f"space.{name}: not a field a sweep can vary; use {known} (studio train --help lists the "
                      "training fields).")


def parse_space(raw: Any, cfg: RunConfig) -> list[Param]:
    """The search space as Params, checked against the config's fields: one sentence for the first problem."""
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("space: give at least one field to vary, e.g. training.learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}.")
    methods_in_play = [cfg.method]
    if isinstance(raw.get("method"), dict) and isinstance(raw["method"].get("choices"), list):
        methods_in_play = [m for m in raw["method"]["choices"] if m in methods.METHODS] or [cfg.method]
    params = []
    for name, spec in raw.items():
        tp, choices = _field_kind(str(name), cfg, methods_in_play)
        params.append(_param(str(name), spec, tp, choices))
    return params


def _param(name: str, spec: Any, tp: type, allowed: tuple | None) -> Param:
    where = f"space.{name}"
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: give a range {{low: ..., high: ...}} or {{choices: [...]}}, not {spec!r}.")
    unknown = sorted(set(spec) - {"low", "high", "log", "step", "choices"})
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown; a field takes low, high, log, step or choices.")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}.choices: give a non-empty list of values.")
        bad = [c for c in choices if allowed is not None and c not in allowed]
        if bad:
            raise ConfigError(f"{where}.choices: {bad[0]!r} is not one of {', '.join(map(str, allowed))}.")
        return Param(name, "choice", choices=tuple(choices))
    if allowed is not None or tp not in (int, float):
        raise ConfigError(f"{where}: this field takes choices: [...], not a range.")
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: give both low and high as numbers.") from None
    if not low < high:
        raise ConfigError(f"{where}: the range is empty (low {low:g} is not below high {high:g}); give low < high.")
    log = bool(spec.get("log", False))
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low above 0, not {low:g}.")
    step = spec.get("step")
    kind = "int" if tp is int else "float"
    if kind == "int" and (not float(low).is_integer() or not float(high).is_integer()):
        raise ConfigError(f"{where}: this field takes whole numbers; give a whole low and high.")
    return Param(name, kind, low=int(low) if kind == "int" else low, high=int(high) if kind == "int" else high,
                 log=log, step=float(step) if step not in (None, "") else None)


def default_space(cfg: RunConfig) -> dict[str, Any]:
    """With no space given: the learning rate around the method's default (a quarter to four times), and epochs
    around the config's."""
    lr = cfg.learning_rate()
    epochs = max(1, int(round(cfg.training.epochs)))
    return {"training.learning_rate": {"low": float(f"{lr / 4:.3g}"), "high": float(f"{lr * 4:.3g}"), "log": True},
            "training.epochs": {"low": max(1, epochs - 1), "high": epochs + 2, "step": 1}}


# Fields a person most often varies, with ranges that suit a run's own settings (the Sweep tab's checkboxes).
PRESETS = ("training.learning_rate", "training.epochs", "method", "method_args.r", "training.batch_size",
           "training.warmup_ratio", "training.max_length")


def preset(name: str, cfg: RunConfig) -> dict[str, Any]:
    """A sensible range for one of PRESETS around the config's own value."""
    t = cfg.training
    if name in ("training.learning_rate", "training.epochs"):
        return default_space(cfg)[name]
    if name == "method":
        return {"choices": [m for m in ("lora", "dora", "ia3") if m in get_task(cfg.task).method_names()]}
    if name == "method_args.r":
        return {"choices": [8, 16, 32]}
    if name == "training.batch_size":
        return {"choices": sorted({max(1, t.batch_size // 2), t.batch_size, t.batch_size * 2})}
    if name == "training.warmup_ratio":
        return {"low": 0.0, "high": 0.2}
    if name == "training.max_length":
        return {"choices": sorted({max(16, t.max_length // 2), t.max_length, t.max_length * 2})}
    raise ConfigError(f"space.{name}: no preset; give its range yourself.")


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The base config (as a dict) with a trial's settings; a new method starts from its own defaults."""
    out = json.loads(json.dumps(base))
    if "method" in params and params["method"] != out.get("method"):
        out["method"], out["method_args"] = params["method"], {}
    for name, value in params.items():
        section, _, leaf = name.partition(".")
        if section == "training":
            out.setdefault("training", {})[leaf] = value
        elif section == "method_args":
            if any(s.name == leaf for s in methods.METHODS[out["method"]].settings):
                out.setdefault("method_args", {})[leaf] = value
    if "training.learning_rate" not in params and "method" in params:
        out.setdefault("training", {})["learning_rate"] = None  # each method at its own default
    return out


# ------------------------------------------------------------------------------------------------ files --
def sweeps_dir(store: Store) -> Path:
    return store.root / SWEEPS_DIR


def validate_sweep_id(sweep_id: str) -> str:
    if not isinstance(sweep_id, str) or not SWEEP_ID_RE.match(sweep_id):
        raise RunError(f"{sweep_id!r} is not a sweep id (they look like s20261130-142455-3fa2b1).")
    return sweep_id


def sweep_dir(store: Store, sweep_id: str) -> Path:
    return sweeps_dir(store) / validate_sweep_id(sweep_id)


def is_sweep_id(text: str) -> bool:
    return isinstance(text, str) and bool(SWEEP_ID_RE.match(text))


def storage_url(folder: Path) -> str:
    return f"sqlite:///{Path(folder).resolve() / STUDY_FILE}"


def read_status(folder: Path) -> dict[str, Any]:
    return files.read_json(RunFolder(Path(folder)).status) or {"status": "unknown"}


def write_status(folder: Path, status: str, **fields: Any) -> dict[str, Any]:
    assert status in STATUSES, status
    cur = read_status(folder)
    cur = {} if cur.get("status") == "unknown" else cur
    cur.update(fields, status=status, updated_at=time.time())
    files.atomic_write_json(RunFolder(Path(folder)).status, cur)
    return cur


# ------------------------------------------------------------------------------------------------ create --
def field_help_settings() -> list[dict[str, Any]]:
    """Each sweep setting with its help and bounds (the CLI's and the Sweep tab's texts)."""
    return field_help(SweepSettings)


def settings_from(raw: dict[str, Any] | None) -> SweepSettings:
    """Sweep settings from a mapping, checked like a config section."""
    from studio.config import _build, _check_bounds

    settings = _build(SweepSettings, raw or {}, "sweep.")
    _check_bounds(settings, "sweep")
    if settings.timeout_minutes is not None and settings.timeout_minutes < MIN_BUDGET_MINUTES:
        raise ConfigError(f"sweep.timeout_minutes: a budget of {settings.timeout_minutes:g} minutes cannot fit one trial "
                          f"(a run needs about a minute to start, train and be evaluated); give {MIN_BUDGET_MINUTES:g} "
                          "or more.")
    return settings


def create(store: Store, cfg: RunConfig, space: dict[str, Any] | None = None,
           settings: SweepSettings | None = None, start: bool = True) -> str:
    """Check everything, then write the sweep's folder and start its driver; returns the sweep id.

    A bad space, settings, config or data file is refused before anything is written."""
    settings = settings or SweepSettings()
    cfg.validate()
    cfg.check_machine()
    space = space or default_space(cfg)
    params = parse_space(space, cfg)
    if settings.sampler == "grid":
        for p in params:
            p.grid()
    task = get_task(cfg.task)
    task.prepare_data(cfg.data)  # the data is checked once here; each trial checks its own copy again
    metric = cfg.selection_metric()
    sweep_id = "s" + time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    folder = sweeps_dir(store) / sweep_id
    tmp = sweeps_dir(store) / f".creating-{sweep_id}"
    tmp.mkdir(parents=True)
    spec = {"id": sweep_id, "config": cfg.resolved().to_dict(), "space": {p.name: p.to_dict() for p in params},
            "settings": dataclasses.asdict(settings), "metric": metric,
            "direction": "minimize" if metric in ("loss", "perplexity") else "maximize", "created_at": time.time(),
            "registry": str(store.registry)}
    files.atomic_write_json(tmp / SWEEP_FILE, spec)
    write_status(tmp, "queued", created_at=spec["created_at"], trials_done=0)
    os.replace(tmp, folder)
    _study(folder, spec)  # Optuna's tables exist before anyone reads them
    if start:
        launch(folder)
    return sweep_id


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


def launch(folder: Path) -> int:
    """Start the sweep's driver, detached (its own session: it outlives the app or shell that started it)."""
    folder = Path(folder)
    with open(folder / LOG_FILE, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "studio.sweeps", "run", str(folder)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True, env=worker_env(), cwd=str(folder.parent.parent))
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
        self.store = Store(self.folder.parent.parent, registry=Path(self.spec["registry"]))
        self.study = _study(self.folder, self.spec)
        self.params = parse_space(self.spec["space"], self.cfg)
        self.settings = self.spec["settings"]

    def stop_requested(self) -> bool:
        return (RunFolder(self.folder).stop_request).exists()

    def run(self) -> str:
        me = os.getpid()
        st = write_status(self.folder, "running", pid=me, pid_start=process_start_time(me),
                          started_at=read_status(self.folder).get("started_at") or time.time())
        budget_end = st["started_at"] + 60 * self.settings["timeout_minutes"] if self.settings["timeout_minutes"] else None
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
            run_id = self.store.create(cfg, sweep=self.spec["id"],
                                       extra_files={RunFolder.sweep_trial.name: self._trial_file(trial)})
        except (ConfigError, RunError, ValueError) as e:  # settings that cannot go together (adalora's ranks, say)
            print(f"[sweep] trial {trial.number} {trial.params}: not run: {e}", flush=True)
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return
        trial.set_user_attr("run", run_id)
        print(f"[sweep] trial {trial.number}: run {run_id} with {trial.params}", flush=True)
        write_status(self.folder, "running", current_run=run_id, current_trial=trial.number)
        self._wait_and_tell(trial.number, run_id)

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
            if st.get("status") in ("stopped", "failed") and not st.get("pruned"):
                print(f"[sweep] trial {t.number}: resuming run {run_id}", flush=True)
                self.store.resume(run_id)
            write_status(self.folder, "running", current_run=run_id, current_trial=t.number)
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


# ----------------------------------------------------------------------------------------------- control --
def _gone(st: dict[str, Any]) -> bool:
    return st.get("status") in ACTIVE and st.get("pid") and not process_alive(st.get("pid"), st.get("pid_start"))


def sync(store: Store, sweep_id: str) -> dict[str, Any]:
    """The sweep's status; one whose driver vanished while active reads failed (resume continues it)."""
    folder = sweep_dir(store, sweep_id)
    if not folder.is_dir():
        raise RunError(f"No sweep {sweep_id} in {store.root}.")
    st = read_status(folder)
    if _gone(st):
        st = write_status(folder, "failed", finished_at=time.time(),
                          reason=f"The sweep's driver (pid {st.get('pid')}) ended without reporting; resume continues it.")
    return st


def stop(store: Store, sweep_id: str) -> dict[str, Any]:
    """Graceful: the running trial saves a checkpoint and stops; the sweep ends stopped (resume continues it)."""
    st = sync(store, sweep_id)
    if st.get("status") not in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; only a queued or running sweep can be stopped.")
    folder = sweep_dir(store, sweep_id)
    runfolder.request_stop(folder)
    return write_status(folder, "stopping")


def kill(store: Store, sweep_id: str) -> dict[str, Any]:
    """At once: the driver's process group and the running trial's worker."""
    folder = sweep_dir(store, sweep_id)
    st = sync(store, sweep_id)
    if st.get("status") not in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; there is nothing to kill.")
    if st.get("pid") and process_alive(st.get("pid"), st.get("pid_start")):
        try:
            os.killpg(int(st["pid"]), signal.SIGKILL)
        except ProcessLookupError:
            pass
    run_id = st.get("current_run")
    if run_id:
        try:
            if store.sync(run_id).get("status") in runfolder.ACTIVE:
                store.kill(run_id, reason="Killed with its sweep; resuming the sweep resumes it.")
        except RunError:
            pass
    return write_status(folder, "stopped", reason="Killed by the user; resume continues it.", finished_at=time.time())


def resume(store: Store, sweep_id: str) -> dict[str, Any]:
    st = sync(store, sweep_id)
    if st.get("status") in ACTIVE:
        raise RunError(f"Sweep {sweep_id} is {st.get('status')}; it is not finished, so there is nothing to resume.")
    if st.get("status") == "completed":
        raise RunError(f"Sweep {sweep_id} already completed; start a new sweep to try more settings.")
    folder = sweep_dir(store, sweep_id)
    runfolder.clear_stop(folder)
    write_status(folder, "queued", reason=None, finished_at=None, pid=None, pid_start=None, resumed_at=time.time())
    launch(folder)
    return read_status(folder)


def list_sweeps(store: Store) -> list[dict[str, Any]]:
    """Every sweep of the runs folder, newest first: id, status, trials done of asked, best value and run."""
    out = []
    root = sweeps_dir(store)
    for folder in sorted(root.iterdir(), reverse=True) if root.is_dir() else []:
        if not is_sweep_id(folder.name):
            continue
        spec = files.read_json(folder / SWEEP_FILE) or {}
        st = sync(store, folder.name)
        out.append({"id": folder.name, "status": st.get("status"), "trials_done": st.get("trials_done", 0),
                    "trials": (spec.get("settings") or {}).get("trials"), "metric": spec.get("metric"),
                    "best_value": st.get("best_value"), "best_run": st.get("best_run"),
                    "model": (spec.get("config") or {}).get("model"), "created_at": spec.get("created_at")})
    return out


def load_study(store: Store, sweep_id: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=sweep_id, storage=storage_url(sweep_dir(store, sweep_id)))


def trials_table(store: Store, sweep_id: str) -> list[dict[str, Any]]:
    """One row per trial: number, state, its run, its validation score, its settings, the run's test scores."""
    rows = []
    for t in load_study(store, sweep_id).trials:
        run_id = t.user_attrs.get("run")
        report = files.read_json(RunFolder(store.run_dir(run_id)).report) if run_id else None
        rows.append({"trial": t.number, "state": t.state.name.lower(), "run": run_id, "value": t.value,
                     "params": t.params, "test": (report or {}).get("metrics")})
    return rows


def describe(store: Store, sweep_id: str) -> dict[str, Any]:
    """What `studio show SWEEP` and the Sweep tab say: the spec, the status, the trials and the best one."""
    folder = sweep_dir(store, sweep_id)
    st = sync(store, sweep_id)
    spec = json.loads((folder / SWEEP_FILE).read_text())
    trials = trials_table(store, sweep_id)
    done = [r for r in trials if r["state"] == "complete" and r["value"] is not None]
    reverse = spec["direction"] == "maximize"
    best = sorted(done, key=lambda r: r["value"], reverse=reverse)[0] if done else None
    steps = _trial_steps(store, trials)
    return {"id": sweep_id, "status": st, "space": spec["space"], "settings": spec["settings"],
            "metric": spec["metric"], "direction": spec["direction"], "trials": trials, "best": best,
            "trial_steps": steps}


def _trial_steps(store: Store, trials: list[dict[str, Any]]) -> dict[str, int]:
    """Optimizer steps the trials ran, and the steps they would have run unpruned (what pruning saved)."""
    ran = planned = 0
    for r in trials:
        if not r["run"]:
            continue
        st = runfolder.read_status(store.run_dir(r["run"]))
        ran += int(st.get("step") or 0)
        # A trial still running has saved nothing yet: count what it has run as its plan.
        planned += int(st.get("step") or 0) if r["state"] == "running" else int(st.get("max_steps") or st.get("step") or 0)
    return {"ran": ran, "planned": planned}


def figures(store: Store, sweep_id: str) -> dict[str, Any]:
    """Optuna's own plotly figures of the study: optimisation history, parallel coordinates, parameter
    importances (each None until there is enough to draw it)."""
    import optuna.visualization as vis

    study = load_study(store, sweep_id)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    out: dict[str, Any] = {"history": None, "parallel": None, "importance": None}
    if done:
        out["history"] = vis.plot_optimization_history(study)
        out["parallel"] = vis.plot_parallel_coordinate(study)
    if len(done) >= 2 and len({json.dumps(t.params, sort_keys=True) for t in done}) >= 2:
        try:
            out["importance"] = vis.plot_param_importances(study)
        except (RuntimeError, ValueError, ZeroDivisionError):  # every trial alike in what matters: nothing to rank
            pass
    return out


def wait(store: Store, sweep_id: str, timeout: float = 3600, poll: float = 1.0) -> dict[str, Any]:
    end = time.time() + timeout
    while True:
        st = sync(store, sweep_id)
        if st.get("status") not in ACTIVE:
            return st
        if time.time() > end:
            raise TimeoutError(f"Sweep {sweep_id} still {st.get('status')} after {timeout:.0f}s.")
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m studio.sweeps")
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
