"""How the studio scales with data: time per epoch and worker memory by training rows; the data check at 200k rows.

    .venv/bin/python bench/scale.py            # quick: 250, 500, 1,000 training rows; data check at 200,000 rows
    .venv/bin/python bench/scale.py --full     # 1,000, 4,000, 16,000 training rows (7.5 min on 2 CPU cores)
    .venv/bin/python bench/scale.py --rows 1000,4000 --skip-data-check

Epochs: one run per size through the real path (Store.create, detached worker): bundled MiniLM, LoRA (the
studio's defaults), 1 epoch, Banking77 train rows (../shared/data/banking77/train.csv; past its 10,003 rows
the rows repeat with a unique " #k" suffix). Validation and test are the same fixed 200 Banking77 test rows
for every size, so all the n rows train and the evaluation cost does not grow with n. logging_steps=1 (as
bench/throughput.py), so the epoch is timed from the metrics 'start' record (just before trainer.train) to
the last step's 'train' record; it excludes the epoch-end evaluation, checkpoint and test report. The
worker's RSS (its process group) is sampled with psutil every 0.2 s from launch to exit: peak reported.
Linear scaling shows as a straight line epoch_s = fixed + per_row x rows (least-squares fit reported): the
fixed part (measured: about 3 s from the 'start' record to the end of step 1, i.e. trainer.train()'s set-up
plus the first batch: transformers' length-grouped sampler puts the longest text first) makes small sizes look
slower per row.

Data check: a 200,000-row CSV made by repeating Banking77 train with a unique suffix per row (so the check's
duplicate removal keeps them all); `studio.data.prepare` timed in a fresh STUDIO_CACHE (first read converts
the CSV to Arrow through `datasets`) and again with that cache warm (target: under 10 s); then once more
under tracemalloc for the peak of Python-tracked memory (Python objects and numpy buffers; Arrow's memory
pool is not tracked; tracemalloc slows the code, so that pass is not timed), and the process's ru_maxrss.

Writes bench/results/scale.json (scale_full.json with --full) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BANKING = ROOT.parent / "shared" / "data" / "banking77"
EVAL_ROWS = 200


def rows_of(n: int):
    import pandas as pd

    df = pd.read_csv(BANKING / "train.csv").rename(columns={"category": "label"})
    if n <= len(df):
        return df.sample(n=n, random_state=0).reset_index(drop=True)
    reps = -(-n // len(df))
    parts = []
    for k in range(reps):
        d = df.copy()
        if k:
            d["text"] = d["text"] + f" #{k}"
        parts.append(d)
    return pd.concat(parts).sample(n=n, random_state=0).reset_index(drop=True)


class RssSampler(threading.Thread):
    """Peak RSS of a process and its children, sampled every `every` seconds."""

    def __init__(self, get_pid, every: float = 0.2):
        super().__init__(daemon=True)
        self.get_pid, self.every = get_pid, every
        self.peak = 0
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        import psutil

        while not self.stop.is_set():
            pid = self.get_pid()
            if pid:
                try:
                    p = psutil.Process(int(pid))
                    rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                    self.peak = max(self.peak, rss)
                    self.samples += 1
                except Exception:
                    pass
            self.stop.wait(self.every)


def epoch_run(n: int, work: Path) -> dict:
    import pandas as pd

    from studio.base import runfolder
    from studio.config import RunConfig
    from studio.runs.store import Store

    d = work / f"rows-{n}"
    d.mkdir(parents=True)
    rows_of(n).to_csv(d / "train.csv", index=False)
    ev = pd.read_csv(BANKING / "test.csv").rename(columns={"category": "label"})
    ev = ev.sample(n=EVAL_ROWS, random_state=1)
    ev = ev[ev["label"].isin(set(pd.read_csv(d / "train.csv")["label"]))]  # only classes seen in training
    ev.to_csv(d / "eval.csv", index=False)
    store = Store(d / "runs")
    cfg = RunConfig.from_dict({"model": "minilm", "method": "lora",
                               "data": {"train": str(d / "train.csv"), "validation": str(d / "eval.csv"),
                                        "test": str(d / "eval.csv")},
                               "training": {"epochs": 1, "logging_steps": 1}})
    t0 = time.time()
    rid = store.create(cfg)
    rd = store.run_dir(rid)
    sampler = RssSampler(lambda: runfolder.read_status(rd).get("pid"))
    sampler.start()
    st = store.wait(rid, timeout=6 * 3600)
    wall = time.time() - t0
    sampler.stop.set()
    sampler.join()
    if st["status"] != "completed":
        raise RuntimeError(f"run {rid} ({n} rows) {st['status']}: {st.get('reason')}")
    recs = runfolder.read_metrics(rd)
    start = next(r for r in recs if r.get("kind") == "start")
    steps = [r for r in recs if r.get("kind") == "train"]
    epoch_s = steps[-1]["time"] - start["time"]
    train_rows = json.loads((RunFolder(rd).data_report).read_text())["rows"]["train"]
    out = {"rows": n, "train_rows": train_rows, "steps": start["max_steps"], "epoch_s": round(epoch_s, 2),
           "s_per_1k_rows": round(1000 * epoch_s / train_rows, 2), "samples_per_s": round(train_rows / epoch_s, 1),
           "run_wall_s": round(wall, 1), "peak_worker_rss_mb": round(sampler.peak / 2**20, 1),
           "rss_samples": sampler.samples, "test_accuracy": st.get("test_metrics", {}).get("accuracy"),
           "load_average_after": os.getloadavg()}
    print(f"{n} rows: epoch {epoch_s:.1f}s ({out['s_per_1k_rows']} s per 1k rows), peak RSS "
          f"{out['peak_worker_rss_mb']} MB, run wall {wall:.0f}s", flush=True)
    return out


def data_check(rows: int, work: Path) -> dict:
    import pandas as pd

    from studio.config import DataConfig
    from studio.tasks.text_classification import data as tc_data

    df = pd.read_csv(BANKING / "train.csv")
    reps = -(-rows // len(df))
    big = pd.concat([df] * reps, ignore_index=True).iloc[:rows].copy()
    big["text"] = big["text"] + [f" #{i}" for i in range(len(big))]
    csv = work / f"data-{rows}.csv"
    big.to_csv(csv, index=False)
    del big, df
    cfg = DataConfig(train=str(csv))
    old = os.environ.get("STUDIO_CACHE")
    os.environ["STUDIO_CACHE"] = str(work / "fresh-cache")  # a fresh datasets cache for the first read
    try:
        t = time.perf_counter()
        prep = tc_data.prepare_data(cfg)
        first = time.perf_counter() - t
        t = time.perf_counter()
        prep = tc_data.prepare_data(cfg)
        second = time.perf_counter() - t
        kept = prep.report.rows
        del prep
        tracemalloc.start()
        tc_data.prepare_data(cfg)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        if old is None:
            os.environ.pop("STUDIO_CACHE", None)
        else:
            os.environ["STUDIO_CACHE"] = old
    out = {"rows": rows, "file_mb": round(csv.stat().st_size / 2**20, 1), "rows_after_check": kept,
           "prepare_first_s (fresh datasets cache)": round(first, 2), "prepare_cached_s": round(second, 2),
           "target_s": 10, "target_met": max(first, second) < 10,
           "tracemalloc_peak_mb": round(peak / 2**20, 1),
           "process_ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print("data check:", out, flush=True)
    shutil.rmtree(work / "fresh-cache", ignore_errors=True)
    csv.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--quick", action="store_true", help="the default")
    ap.add_argument("--rows", default=None, help="comma-separated training-row counts")
    ap.add_argument("--data-rows", type=int, default=200_000)
    ap.add_argument("--skip-data-check", action="store_true")
    ap.add_argument("--skip-epochs", action="store_true")
    ap.add_argument("--out", default=None, help="default: bench/results/scale.json (scale_full.json with --full)")
    a = ap.parse_args()
    a.out = a.out or str(ROOT / "bench" / "results" / ("scale_full.json" if a.full else "scale.json"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sizes = [int(x) for x in a.rows.split(",")] if a.rows else ([1000, 4000, 16000] if a.full else [250, 500, 1000])
    work = Path(tempfile.mkdtemp(prefix="studio-scale-"))
    res: dict = {"mode": "full" if a.full else "quick",
                 "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                 "load_average_at_start": os.getloadavg()}
    if not a.skip_data_check:
        res["data_check"] = data_check(a.data_rows, work)
    if not a.skip_epochs:
        res["epochs"] = [epoch_run(n, work) for n in sizes]
        per_k = [e["s_per_1k_rows"] for e in res["epochs"]]
        res["s_per_1k_rows_spread"] = round(max(per_k) / min(per_k), 3)
        res["s_per_1k_rows_median"] = statistics.median(per_k)
        if len(res["epochs"]) >= 2:  # epoch_s = fixed + per_row * rows, least squares
            xs = [e["train_rows"] for e in res["epochs"]]
            ys = [e["epoch_s"] for e in res["epochs"]]
            mx, my = statistics.mean(xs), statistics.mean(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            res["linear_fit"] = {"fixed_s": round(my - slope * mx, 2), "ms_per_row": round(1000 * slope, 2),
                                 "max_residual_s": round(max(abs(y - (my - slope * mx) - slope * x)
                                                             for x, y in zip(xs, ys)), 2)}
    res["work_dir"] = str(work)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    if "epochs" in res:
        print("\n| training rows | steps | epoch (s) | s per 1k rows | samples/s | peak worker RSS (MB) |")
        print("|---:|---:|---:|---:|---:|---:|")
        for e in res["epochs"]:
            print(f"| {e['train_rows']:,} | {e['steps']} | {e['epoch_s']:.1f} | {e['s_per_1k_rows']:.1f} | "
                  f"{e['samples_per_s']:.1f} | {e['peak_worker_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
