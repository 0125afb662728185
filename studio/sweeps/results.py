"""What a sweep found: its trials with their runs and scores, the best one, the steps pruning saved, and Optuna's
own figures."""

from __future__ import annotations

import json
from typing import Any

from studio.base import files, runfolder
from studio.base.runfolder import RunFolder
from studio.runs.store import Store
from studio.sweeps.control import status
from studio.sweeps.folders import SWEEP_FILE, storage_url, sweep_dir


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
    st = status(store, sweep_id)
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
        planned += (int(st.get("step") or 0) if r["state"] == "running"
                    else int(st.get("max_steps") or st.get("step") or 0))
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
    # Importances rank what set the better trials apart: none when every trial had the same settings or the same
    # score (Optuna would draw all of them equal, which reads as a finding).
    if (len({json.dumps(t.params, sort_keys=True) for t in done}) >= 2
            and len({t.value for t in done}) >= 2):
        try:
            out["importance"] = vis.plot_param_importances(study)
        except (RuntimeError, ValueError, ZeroDivisionError):  # every trial alike in what matters: nothing to rank
            pass
    return out
