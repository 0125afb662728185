"""studio.sweeps: Optuna finds the settings; every trial is an ordinary run; stop, kill and resume reach them."""

from __future__ import annotations

import json
import os
import signal

import pytest

from studio import cli, sweeps
from studio.base import runfolder
from studio.base.errors import ConfigError
from studio.config import RunConfig
from studio.runs.store import Store
from tests.support import tiny_config, wait_for

SPACE = {"training.learning_rate": {"low": 1e-4, "high": 1e-2, "log": True}}


def base(tiny_bert, csv, **training):
    return RunConfig.from_dict(tiny_config(tiny_bert, csv, "lora", **{"epochs": 3, "eval_strategy": "steps",
                                                                      "eval_steps": 2, **training}))


# ----------------------------------------------------------------------------------------- the space --
def test_the_default_space_varies_the_learning_rate_and_epochs_around_the_config(tiny_bert, separable_csv):
    cfg = base(tiny_bert, separable_csv)
    space = sweeps.default_space(cfg)
    lr = cfg.learning_rate()
    assert (space["training.learning_rate"]["log"]
            and space["training.learning_rate"]["low"] < lr < space["training.learning_rate"]["high"])
    assert space["training.epochs"] == {"low": 2, "high": 5, "step": 1}  # whole epochs (the field takes fractions)
    kinds = {p.name: p.kind for p in sweeps.parse_space({**space, "method": {"choices": ["lora", "dora"]},
                                                         "method_args.r": {"choices": [8, 16]}}, cfg)}
    assert kinds == {"training.learning_rate": "float", "training.epochs": "float", "method": "choice",
                     "method_args.r": "choice"}


def test_a_trial_that_changes_the_method_starts_from_that_methods_defaults():
    raw = {"method": "lora", "method_args": {"r": 4}, "training": {"learning_rate": 1e-3}}
    out = sweeps.apply_params(raw, {"method": "ia3", "method_args.r": 16, "training.epochs": 2})
    assert out["method"] == "ia3" and out["method_args"] == {} and out["training"]["epochs"] == 2
    assert out["training"]["learning_rate"] is None and raw["method_args"] == {"r": 4}
    assert sweeps.apply_params(raw, {"method_args.r": 16})["method_args"] == {"r": 16}


@pytest.mark.parametrize("space, settings, message", [
    ({"training.not_a_field": {"low": 1, "high": 2}}, {}, "space.training.not_a_field: not a field a sweep can vary"),
    ({"data.train": {"choices": ["a.csv"]}}, {}, "space.data.train: not a field a sweep can vary"),
    ({"training.learning_rate": {"low": 1e-3, "high": 1e-3}}, {},
     "the range is empty (low 0.001 is not below high 0.001)"),
    ({"method": {"choices": []}}, {}, "space.method.choices: give a non-empty list"),
    ({"method": {"choices": ["lora", "magic"]}}, {}, "'magic' is not one of"),
    ({"method_args.rank": {"choices": [8]}}, {}, "'rank' is not a setting of lora"),
    (SPACE, {"timeout_minutes": 0.2}, "a budget of 0.2 minutes cannot fit one trial"),
    (SPACE, {"sampler": "grid"}, "a grid sweep needs choices or a step"),
    (SPACE, {"trials": 0}, "sweep.trials: 0 is below the minimum 1"),
])
def test_a_bad_sweep_gets_one_sentence_and_creates_nothing(tmp_path, tiny_bert, separable_csv, space, settings,
                                                           message):
    store = Store(tmp_path / "runs")
    with pytest.raises(ConfigError) as e:
        sweeps.create(store, base(tiny_bert, separable_csv), space, sweeps.settings_from(settings), start=False)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not sweeps.sweeps_dir(store).exists() or not list(sweeps.sweeps_dir(store).iterdir())
    assert store.list() == []


# ---------------------------------------------------------------------------------------- a real one --
@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory, tiny_bert, separable_csv, shared_spare):
    if shared_spare is not None:  # the driver borrows it only once it is ready: on a loaded machine, wait for it
        shared_spare.wait_ready(300)
    store = Store(tmp_path_factory.mktemp("sweep") / "runs")
    sweep_id = sweeps.create(store, base(tiny_bert, separable_csv), SPACE,
                             sweeps.settings_from({"trials": 4, "prune": True}))
    st = sweeps.wait(store, sweep_id, timeout=600)
    return store, sweep_id, st


def test_a_sweep_runs_its_trials_as_runs_and_keeps_the_best(finished_sweep):
    store, sweep_id, st = finished_sweep
    assert st["status"] == "completed" and st["trials_done"] == 4, st
    d = sweeps.describe(store, sweep_id)
    runs = {r["id"]: r for r in store.list()}
    assert len(d["trials"]) == 4 and all(r["run"] in runs for r in d["trials"])
    assert all(runs[r["run"]]["sweep"] == sweep_id and runs[r["run"]]["name"] == f"{sweep_id} #{r['trial']}"
               for r in d["trials"])
    done = [r for r in d["trials"] if r["state"] == "complete"]
    assert d["best"]["value"] == max(r["value"] for r in done) and st["best_run"] == d["best"]["run"]
    best_status = runfolder.read_status(store.run_dir(d["best"]["run"]))
    assert best_status["best_metric"] == d["best"]["value"] and d["best"]["test"]  # a normal run, with its report
    for r in d["trials"]:
        lr = json.loads((store.run_dir(r["run"]) / "config.json").read_text())["training"]["learning_rate"]
        assert lr == pytest.approx(r["params"]["training.learning_rate"])


def test_trials_fork_from_the_spare_of_the_process_that_started_the_sweep(finished_sweep, shared_spare):
    """The Store that created the sweep lends its spare (the app's) to the driver: no second spare imports
    torch for it, and every trial forks with the imports done."""
    if shared_spare is None:
        pytest.skip("STUDIO_TEST_SPARE=0: the Store has no spare to lend")
    store, sweep_id, _ = finished_sweep
    log = (sweeps.sweep_dir(store, sweep_id) / "sweep.log").read_text()
    assert "trials fork from the spare worker of the app that started this sweep" in log, log[-2000:]
    trials = sweeps.describe(store, sweep_id)["trials"]
    assert trials and all(runfolder.read_status(store.run_dir(r["run"]))["forked"] for r in trials)


def test_weak_trials_are_pruned_and_the_steps_saved_are_counted(finished_sweep):
    store, sweep_id, _ = finished_sweep
    d = sweeps.describe(store, sweep_id)
    pruned = [r for r in d["trials"] if r["state"] == "pruned"]
    for r in pruned:
        st = runfolder.read_status(store.run_dir(r["run"]))
        assert st["status"] == "stopped" and st["pruned"] and "Pruned by its sweep" in st["reason"]
        assert st["step"] < st["max_steps"]
    assert d["trial_steps"]["ran"] == sum(runfolder.read_status(store.run_dir(r["run"]))["step"] for r in d["trials"])
    assert (d["trial_steps"]["planned"] > d["trial_steps"]["ran"]) == bool(pruned)


def test_optunas_figures_and_the_cli(finished_sweep, capsys):
    store, sweep_id, _ = finished_sweep
    figs = sweeps.figures(store, sweep_id)
    assert figs["history"] is not None and figs["parallel"] is not None and figs["importance"] is not None
    assert cli.main(["--runs-dir", str(store.root), "sweeps"]) == 0
    assert sweep_id in capsys.readouterr().out
    assert cli.main(["--runs-dir", str(store.root), "show", sweep_id]) == 0
    out = capsys.readouterr().out
    assert "best trial" in out and "trial   3" in out


def test_stop_kill_and_resume_reach_the_running_trial(tmp_path, tiny_bert, separable_csv):
    store = Store(tmp_path / "runs")
    cfg = base(tiny_bert, separable_csv, epochs=40, eval_steps=20)  # long trials: there is time to stop one
    sweep_id = sweeps.create(store, cfg, SPACE, sweeps.settings_from({"trials": 2, "prune": False}))
    first = wait_for(lambda: sweeps.sync(store, sweep_id).get("current_run"), timeout=120, what="the first trial")
    wait_for(lambda: (runfolder.read_status(store.run_dir(first)).get("step") or 0) >= 2, timeout=120, what="training")
    sweeps.stop(store, sweep_id)
    st = sweeps.wait(store, sweep_id, timeout=120)
    assert st["status"] == "stopped" and store.sync(first)["status"] == "stopped"
    assert not runfolder.read_status(store.run_dir(first)).get("pruned")
    # Resume: the interrupted trial's run continues from its checkpoint; then kill takes the sweep and the trial.
    sweeps.resume(store, sweep_id)
    wait_for(lambda: store.sync(first)["status"] == "running", timeout=120, what="the trial to resume")
    assert runfolder.read_status(store.run_dir(first)).get("resumed_at")
    wait_for(lambda: runfolder.read_status(store.run_dir(first)).get("forked") is not None, timeout=60,
             what="its worker to start")
    # The driver's spare worker (started with the driver, imported while the trial's checks ran) forked it.
    assert runfolder.read_status(store.run_dir(first))["forked"] is True
    st = sweeps.kill(store, sweep_id)
    assert st["status"] == "stopped" and store.sync(first)["status"] == "stopped"
    # A driver that vanishes (the machine restarted) reads failed; resume continues it again.
    sweeps.resume(store, sweep_id)
    wait_for(lambda: sweeps.sync(store, sweep_id).get("pid"), timeout=60, what="the driver")
    os.killpg(int(sweeps.sync(store, sweep_id)["pid"]), signal.SIGKILL)
    wait_for(lambda: sweeps.sync(store, sweep_id)["status"] == "failed", timeout=30, what="the vanished driver")
    assert "ended without reporting" in sweeps.sync(store, sweep_id)["reason"]
    for rid in [r["id"] for r in store.list() if r["status"] in runfolder.ACTIVE]:
        store.kill(rid)


def test_no_importances_are_drawn_while_every_finished_trial_scored_the_same(monkeypatch):
    """Optuna's PED-ANOVA draws every importance equal (with a warning) when the trials tie: that reads as a
    finding, so the figure waits for scores that differ."""
    import warnings

    import optuna

    from studio.sweeps import results

    def study_with(values):
        study = optuna.create_study(direction="maximize")
        for i, value in enumerate(values):
            study.add_trial(optuna.trial.create_trial(
                params={"lr": 1e-4 * (i + 1), "epochs": i + 1}, value=value,
                distributions={"lr": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
                               "epochs": optuna.distributions.IntDistribution(1, 5)}))
        return study

    monkeypatch.setattr(results, "load_study", lambda store, sweep_id: study_with([0.5, 0.5, 0.5]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna's "importances will be equal" is not reached
        tied = results.figures(None, "s")
    assert tied["history"] is not None and tied["importance"] is None
    monkeypatch.setattr(results, "load_study", lambda store, sweep_id: study_with([0.5, 0.7, 0.6]))
    assert results.figures(None, "s")["importance"] is not None
