"""Active learning on Banking77, simulated: the true labels are hidden and revealed only for the rows asked.

A pool of --pool-size Banking77 training texts without labels, a labelled start set of --start rows (two per
intent so every intent exists, the rest at random), and the official test rows (--test-per-class per intent)
as the fixed yardstick. Each strategy runs the studio's own loop (studio.labels.labelling: a project, rounds of
--step suggestions from the latest run, the true labels saved for them, a retrain with the studio's
defaults) until --until labels. The start run is trained once and shared by every strategy.

    .venv/bin/python bench/active_learning_banking77.py --strategies random margin entropy least-confidence \
diverse-margin

Writes bench/results/active_learning_banking77_seed<SEED>.json, .html (the plotly curve) and .png (its screenshot,
through the Chromium that the browser tests use), and prints the label savings: how many labels each
strategy needs to reach random's accuracy at the last round. Strategies already in that JSON (same settings) are kept, \
not rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import pandas as pd

from studio.base.files import read_json
from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "banking77"
OUT = ROOT / "bench" / "results"


def files(work: Path, pool_size: int, start: int, test_per_class: int, seed: int) -> dict[int, str]:
    """Write pool.csv (texts only), start.csv and test.csv; return the pool's hidden labels by pool row."""
    train = pd.read_csv(DATA / "train.csv").sample(frac=1.0, random_state=seed).reset_index(drop=True)
    two = train.groupby("category").head(2)
    rest = train.drop(two.index)
    start_rows = pd.concat([two, rest.head(start - len(two))])
    pool = rest.iloc[start - len(two):].head(pool_size).reset_index(drop=True)
    start_rows.to_csv(work / "start.csv", index=False)
    pool[["text"]].to_csv(work / "pool.csv", index=False)
    test = pd.read_csv(DATA / "test.csv").groupby("category").sample(n=test_per_class, random_state=0)
    test.to_csv(work / "test.csv", index=False)
    return dict(enumerate(pool["category"]))


def finished(store, run_id: str) -> dict:

    st = store.wait(run_id, timeout=6 * 3600)
    if st["status"] != "completed":
        raise SystemExit(f"run {run_id} {st['status']}: {st.get('reason')}")
    return (read_json(RunFolder(store.run_dir(run_id)).report) or {})["metrics"]


def simulate(store, work: Path, truth: dict[int, str], strategy: str, first_run: str | None, a) -> tuple[list, str]:
    from studio.config import RunConfig
    from studio.labels import labelling

    cfg = RunConfig.from_dict({"model": "sentence-transformers/all-MiniLM-L6-v2",
                               "data": {"train": str(work / "pool.csv")},
                               "training": {"seed": a.seed, "score_base": False}})
    pid = labelling.create(store, str(work / "pool.csv"), str(work / "start.csv"), str(work / "test.csv"), config=cfg,
                           name=strategy)
    run_id = start_run = first_run or labelling.retrain(store, pid)
    points = []
    labels = a.start
    while True:
        m = finished(store, run_id)
        points.append({"labels": labels, "accuracy": m["accuracy"], "macro_f1": m["f1"], "run": run_id})
        print(strategy, points[-1], flush=True)
        if labels >= a.until:
            return points, start_run  # the next strategy starts from the same start run
        t0 = time.time()
        record = labelling.next_round(store, pid, a.step, strategy, run_id=run_id, seed=a.seed)
        labelling.save_labels(store, pid, record["round"],
                              {r["pool_row"]: truth[r["pool_row"]] for r in record["rows"]})
        points[-1]["query_seconds"] = round(time.time() - t0, 1)
        run_id = labelling.retrain(store, pid)
        labels = len(labelling.labelled_frame(store, pid))


def labels_to_reach(points: list[dict], target: float) -> int | None:
    return next((p["labels"] for p in points if p["accuracy"] >= target), None)


def figure(curves: dict[str, list[dict]]):
    from studio.views.plots import learning_curve_figure

    fig = learning_curve_figure({k: [(p["labels"], p["accuracy"]) for p in v] for k, v in curves.items()},
                                title="Banking77: test accuracy vs labels (active learning, simulated)")
    return fig.update_layout(height=420, width=760, hovermode="closest")


def screenshot(html: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless"])
        page = browser.new_page(viewport={"width": 800, "height": 460})
        page.goto(html.as_uri())
        page.wait_for_selector(".main-svg")
        page.screenshot(path=str(png))
        browser.close()


def main() -> None:
    from studio.labels import query_strategies

    ap = argparse.ArgumentParser()
    ap.add_argument("--strategies", nargs="+", default=list(query_strategies.STRATEGIES),
                    choices=query_strategies.STRATEGIES)
    ap.add_argument("--pool-size", type=int, default=4000)
    ap.add_argument("--start", type=int, default=200)
    ap.add_argument("--step", type=int, default=100)
    ap.add_argument("--until", type=int, default=1000)
    ap.add_argument("--test-per-class", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="Seed of the slices, random picks, k-means and training.")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from studio.runs.store import Store

    work = ROOT / "bench" / "_work" / f"active-learning-{a.seed}-{int(time.time())}"
    work.mkdir(parents=True)
    store = Store(work / "runs")
    truth = files(work, a.pool_size, a.start, a.test_per_class, a.seed)
    curves = earlier_curves(a)  # strategies already measured with these settings are kept, not rerun
    first_run = None
    t0 = time.time()
    for strategy in [s for s in a.strategies if s not in curves]:
        curves[strategy], first_run = simulate(store, work, truth, strategy, first_run, a)
        res = write(curves, a, time.time() - t0)  # after each strategy: a long bench that dies keeps what it has
    print(json.dumps(res, indent=2))


def settings(a) -> dict:
    return {"pool": a.pool_size, "start": a.start, "step": a.step, "until": a.until,
            "test_rows": a.test_per_class * 77, "seed": a.seed}


def earlier_curves(a) -> dict[str, list[dict]]:
    """The curves of an earlier (perhaps interrupted) bench with the same settings."""
    path = (OUT / f"active_learning_banking77_seed{a.seed}").with_suffix(".json")
    old = json.loads(path.read_text()) if path.exists() else {}
    same = all(old.get(k) == v for k, v in settings(a).items())
    return dict(old.get("curves", {})) if same else {}


def write(curves: dict[str, list[dict]], a, seconds: float) -> dict:
    res = {"dataset": "banking77", **settings(a), "minutes": round(seconds / 60, 1),
           "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
           "curves": curves}
    if "random" in curves:
        target = curves["random"][-1]["accuracy"]
        res["labels_to_reach_random_final"] = {k: labels_to_reach(v, target) for k, v in curves.items()}
        print("labels to reach random's final accuracy", target, res["labels_to_reach_random_final"], flush=True)
    OUT.mkdir(exist_ok=True)
    stem = OUT / f"active_learning_banking77_seed{a.seed}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=2))
    figure(curves).write_html(stem.with_suffix(".html"), include_plotlyjs=True)
    screenshot(stem.with_suffix(".html"), stem.with_suffix(".png"))
    return res


if __name__ == "__main__":
    main()
