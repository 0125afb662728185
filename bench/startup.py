"""Start to first training step: how long a user waits after Start, cold and warm, for both bundled models.

    .venv/bin/python bench/startup.py            # quick: MiniLM 1 cold + 3 warm, SmolLM2 1 cold + 2 warm
    .venv/bin/python bench/startup.py --full     # 1 cold + 5 warm of each
    .venv/bin/python bench/startup.py --models minilm --warm 5
    .venv/bin/python bench/startup.py --no-prewarm   # a fresh worker process per run (the CLI's path)

Every trial is the real path in a fresh Python process (the app's process already has the studio imported,
so the trial imports studio.runs.store, studio.data, studio.models and huggingface_hub before the clock starts):
`Store.create(cfg)` (data check, run folder, registry row, detached worker) -> poll metrics.jsonl until the
first record with kind == "train" (step 1; logging_first_step=True) -> seconds -> `store.kill`.
By default the trial's Store keeps the pre-warmed spare worker the app starts at launch (studio.runs.prewarm),
ready before the clock starts, so the worker is forked with torch and transformers imported;
--no-prewarm spawns `python -m studio.runs.worker` per run instead (the `studio train` CLI's path).

  MiniLM   text-classification, LoRA (defaults), assets/samples/support_tickets.csv
  SmolLM2  the same, catalog name "smollm2", max_length 64, batch_size 4

Cold / warm:
  SmolLM2 cold  a fresh, empty STUDIO_CACHE: includes the one-time GGUF -> safetensors conversion, which
                the worker does before its first step (Store.create only checks the bundled file).
  MiniLM cold   the first trial after `sync; echo 3 > /proc/sys/vm/drop_caches` (OS page cache dropped:
                python, torch and the weights come from disk again); when that file is not writable (not
                root, or a container) the trial is labelled "first" instead of "cold" and the JSON says why.
  warm          the cache converted and the page cache hot: the trials after the cold one.

Where the time goes comes from two sources:
  timeline  from the real trial: pid_start and started_at in status.json, the moment each `[studio]` line
            of train.log appeared (polled every 20 ms), the metrics 'start' record (written just before
            trainer.train()) and the first 'train' record.
  phases    an instrumented replay in another fresh process that calls the same engine functions train.run
            calls, in the same order, on the same run folder, timing each one (python+torch import,
            transformers/Trainer import, model resolve, tokenizer, tokenisation, model load, prototype head
            init, method apply, Trainer construction, first optimizer step).

Writes bench/results/startup.json (startup_full.json with --full) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from studio.base.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "samples" / "support_tickets.csv"
PY = sys.executable
TARGETS = {"minilm": 5.0, "smollm2": 10.0}


def model_cfg(model: str, train_csv: str) -> dict:
    if model == "minilm":
        return {"task": "text-classification", "model": "minilm", "method": "lora", "data": {"train": train_csv}}
    return {"task": "text-classification", "model": "smollm2", "method": "lora", "data": {"train": train_csv},
            "training": {"max_length": 64, "batch_size": 4}}


# ------------------------------------------------------------------ one trial (child process) --
def trial(model: str, runs_dir: str, train_csv: str, prewarm: str, timeout: float) -> dict:
    """Runs in a fresh process: Store.create -> first 'train' record -> kill. Returns the timeline.

    prewarm "1": as the app does at launch, keep a spare worker (torch and transformers imported) and wait
    until it is ready before the clock starts; "0": every run spawns a fresh `python -m studio.runs.worker`."""
    sys.path.insert(0, str(ROOT))
    # What the app's process already holds when the user presses Start.
    import huggingface_hub  # noqa: F401  (gradio imports it)

    from studio import data, models  # noqa: F401
    from studio.base import runfolder
    from studio.config import RunConfig
    from studio.runs.store import Store

    store = Store(Path(runs_dir))
    if prewarm == "1":
        from studio.runs import prewarm

        prewarm.enable(store)
        while not store.spare.ready():
            if store.spare.proc.poll() is not None:
                raise RuntimeError("the spare worker exited: " + (store.spare.dir / "spare.log").read_text()[-2000:])
            time.sleep(0.1)
    cfg = RunConfig.from_dict(model_cfg(model, train_csv))
    t0 = time.time()
    run_id = store.create(cfg)
    t_created = time.time()
    rd = store.run_dir(run_id)
    log_lines: list[tuple[float, str]] = []
    log_off = 0
    first = start_rec = None
    try:
        while time.time() - t0 < timeout:
            now = time.time()
            try:
                with open(RunFolder(rd).log, "rb") as fh:
                    fh.seek(log_off)
                    chunk = fh.read()
            except FileNotFoundError:
                chunk = b""
            if chunk:
                complete = chunk[:chunk.rfind(b"\n") + 1]
                log_off += len(complete)
                for line in complete.decode("utf-8", "replace").splitlines():
                    if line.startswith("[studio]"):
                        log_lines.append((now, line))
            for rec in runfolder.read_metrics(rd):
                if rec.get("kind") == "start" and start_rec is None:
                    start_rec = rec
                if rec.get("kind") == "train":
                    first = rec
                    break
            if first is not None:
                break
            st = runfolder.read_status(rd)
            if st.get("status") in runfolder.FINISHED:
                raise RuntimeError(f"run {run_id} {st.get('status')}: {st.get('reason')}\n{runfolder.tail_log(rd, 30)}")
            time.sleep(0.02)
        t_seen = time.time()
        st = runfolder.read_status(rd)
    finally:
        try:
            store.kill(run_id, reason="startup benchmark: killed after the first step")
        except Exception:
            pass
        if store.spare is not None:
            store.spare.close()
    if first is None:
        raise RuntimeError(f"no training step within {timeout:.0f}s")
    out = {"run_id": run_id, "run_dir": str(rd), "start_to_first_step_s": round(first["time"] - t0, 3),
           "seen_after_s": round(t_seen - t0, 3),
           "timeline_s": {"create_returned": round(t_created - t0, 3)}}
    tl = out["timeline_s"]
    if st.get("pid_start"):
        tl["worker_process_started"] = round(st["pid_start"] - t0, 3)
    if st.get("started_at"):
        tl["claimed_device (python + torch imported)"] = round(st["started_at"] - t0, 3)
    for when, line in log_lines:
        key = ("log: " + line[len("[studio] "):])[:90]
        tl[key] = round(when - t0, 3)
    if start_rec:
        tl["metrics 'start' record (Trainer built)"] = round(start_rec["time"] - t0, 3)
    tl["metrics first 'train' record (step 1 done)"] = round(first["time"] - t0, 3)
    return out


# ----------------------------------------------------- instrumented replay (child process) --
def phases(run_dir: str) -> dict:
    """Replays train.run's set-up on an existing run folder, timing each engine call. Fresh process."""
    T: dict[str, float] = {}
    t = time.perf_counter()
    import torch  # noqa: F401

    T["import torch"] = time.perf_counter() - t
    t = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from studio import data as data_mod  # noqa: F401
    from studio import methods, models
    from studio.base.devices import resolve_device
    from studio.config import load_run_config
    from studio.tasks import get_task
    from studio.tasks.text_classification.model import load_model, load_tokenizer
    from studio.tasks.text_classification.tokens import collator, tokenize  # the replayed run is text classification
    from studio.training import recipe as train  # noqa: F401

    T["import studio (runs, data, train)"] = time.perf_counter() - t
    t = time.perf_counter()
    import transformers
    from transformers import Trainer, TrainingArguments  # noqa: F401

    T["import transformers Trainer"] = time.perf_counter() - t
    rd = Path(run_dir)
    cfg = load_run_config(rd).resolved()
    tc = cfg.training
    task = get_task(cfg.task)
    transformers.set_seed(tc.seed)
    transformers.logging.set_verbosity_error()

    t = time.perf_counter()
    path = models.resolve(cfg.model)
    T["models.resolve"] = time.perf_counter() - t
    t = time.perf_counter()
    tok = load_tokenizer(path)
    T["load tokenizer"] = time.perf_counter() - t
    t = time.perf_counter()
    splits = data_mod.load_splits(rd / "data")
    labels = json.loads((RunFolder(rd).data_report).read_text())["labels"]
    T["load splits (parquet)"] = time.perf_counter() - t
    t = time.perf_counter()
    ds = tokenize(splits, tok, labels, cfg)
    T["tokenise (datasets.map)"] = time.perf_counter() - t
    t = time.perf_counter()
    model = load_model(path, labels, tok)
    T["load model weights"] = time.perf_counter() - t
    if cfg.task_args.head_init == "prototype":
        from studio.training.head_init import init_from_prototypes

        t = time.perf_counter()
        l2i = {l: i for i, l in enumerate(labels)}
        tr = splits["train"]
        init_from_prototypes(model, tok, tr["text"].tolist(), [l2i[l] for l in tr["label"]], len(labels),
                             tc.max_length, seed=tc.seed)
        T["prototype head init"] = time.perf_counter() - t
    t = time.perf_counter()
    import math

    total_steps = max(1, math.ceil(len(ds["train"]) / (tc.batch_size * tc.gradient_accumulation_steps) * tc.epochs))
    model = methods.apply(model, cfg.method, cfg.method_args, task.model.peft_task_type,
                          total_steps=total_steps)
    T["apply method (peft)"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        args = TrainingArguments(output_dir=d, num_train_epochs=tc.epochs, per_device_train_batch_size=tc.batch_size,
                                 learning_rate=cfg.learning_rate(),
                                 use_cpu=resolve_device(tc.device) == "cpu", logging_steps=1,
                                 logging_first_step=True, report_to="none", save_strategy="no", eval_strategy="no",
                                 disable_tqdm=True, max_steps=1, dataloader_num_workers=0,
                                 train_sampling_strategy="group_by_length" if tc.group_by_length else "random")
        trainer = Trainer(model=model, args=args, train_dataset=ds["train"], data_collator=collator(tok),
                          processing_class=tok)
        T["build TrainingArguments + Trainer"] = time.perf_counter() - t
        t = time.perf_counter()
        trainer.train()
        T["trainer.train() to end of step 1"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in T.items()}


# ------------------------------------------------------------------------------ driver --
def drop_caches() -> str | None:
    """None when the OS page cache was dropped, else why not."""
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return None
    except OSError as e:
        return f"could not drop the page cache ({e}); the first trial is labelled 'first', not 'cold'"


def child(args: list[str], env: dict, timeout: float) -> dict:
    p = subprocess.run([PY, __file__, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed (rc {p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="1 cold + 5 warm trials per model")
    ap.add_argument("--quick", action="store_true", help="the default: MiniLM 1+3, SmolLM2 1+2")
    ap.add_argument("--models", default="minilm,smollm2")
    ap.add_argument("--warm", type=int, default=None, help="warm trials per model")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", default=None, help="default: bench/results/startup.json (startup_full.json with --full)")
    ap.add_argument("--no-prewarm", action="store_true",
                    help="spawn a fresh worker per run (the CLI's path) instead of forking the app's spare worker")
    ap.add_argument("--_trial", nargs=4, metavar=("MODEL", "RUNS_DIR", "CSV", "PREWARM"), help=argparse.SUPPRESS)
    ap.add_argument("--_phases", metavar="RUN_DIR", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.out = a.out or str(ROOT / "bench" / "results" / (("startup_full" if a.full else "startup")
                                                       + ("_fresh_worker" if a.no_prewarm else "") + ".json"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if a._trial:
        print(json.dumps(trial(*a._trial, timeout=a.timeout)))
        return
    if a._phases:
        print(json.dumps(phases(a._phases)))
        return

    import torch

    work = Path(tempfile.mkdtemp(prefix="studio-startup-"))
    res: dict = {"mode": "full" if a.full else "quick", "prewarmed_worker": not a.no_prewarm,
                 "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                            f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
                            f"{'CUDA' if torch.cuda.is_available() else 'no GPU'}",
                 "load_average_at_start": os.getloadavg(), "targets_warm_s": TARGETS, "models": {}}
    del torch
    base_env = dict(os.environ)
    for model in [m.strip() for m in a.models.split(",") if m.strip()]:
        warm_n = a.warm if a.warm is not None else (5 if a.full else (3 if model == "minilm" else 2))
        env = dict(base_env)
        entry: dict = {"config": model_cfg(model, str(SAMPLE)), "trials": []}
        if model == "smollm2":
            cache = work / "fresh-cache"
            cache.mkdir()
            env["STUDIO_CACHE"] = str(cache)
            entry["cold_means"] = f"fresh empty STUDIO_CACHE ({cache}): includes the GGUF conversion"
            cold_label = "cold"
        else:
            why = drop_caches()
            entry["cold_means"] = why or "first trial after sync; echo 3 > /proc/sys/vm/drop_caches"
            cold_label = "first" if why else "cold"
        runs = work / f"runs-{model}"
        for i in range(1 + warm_n):
            label = cold_label if i == 0 else "warm"
            r = child(["--_trial", model, str(runs), str(SAMPLE), "0" if a.no_prewarm else "1",
                       "--timeout", str(a.timeout)],
                      env, a.timeout + 60)
            r["kind"] = label
            r["load_average"] = os.getloadavg()
            entry["trials"].append(r)
            print(f"{model} {label}: {r['start_to_first_step_s']:.2f}s to the first step", flush=True)
            if i == 0 and model == "smollm2":
                conv = Path(env["STUDIO_CACHE"]) / "models" / "smollm2-135m-instruct" / "studio_conversion.json"
                if conv.exists():
                    entry["conversion_seconds"] = json.loads(conv.read_text()).get("seconds")
        warm = [t["start_to_first_step_s"] for t in entry["trials"] if t["kind"] == "warm"]
        entry["cold_s"] = entry["trials"][0]["start_to_first_step_s"]
        entry["cold_kind"] = cold_label
        if warm:
            entry["warm_median_s"] = round(statistics.median(warm), 3)
            entry["warm_min_s"] = round(min(warm), 3)
            entry["warm_max_s"] = round(max(warm), 3)
            entry["target_warm_s"] = TARGETS[model]
            entry["target_met"] = entry["warm_median_s"] < TARGETS[model]
            # The instrumented replay on the last warm trial's folder, also a fresh (warm) process.
            entry["phases_s"] = child(["--_phases", entry["trials"][-1]["run_dir"]], env, a.timeout)
        res["models"][model] = entry
    shutil.rmtree(work / "fresh-cache", ignore_errors=True)
    res["work_dir"] = str(work)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
    print("\n| model | cold (s) | warm median (s) | warm min-max (s) | target | met |")
    print("|---|---:|---:|---:|---:|---|")
    for m, e in res["models"].items():
        print(f"| {m} | {e['cold_s']:.1f} ({e['cold_kind']}) | {e.get('warm_median_s', float('nan')):.2f} | "
              f"{e.get('warm_min_s', float('nan')):.2f}-{e.get('warm_max_s', float('nan')):.2f} | "
              f"< {TARGETS[m]:.0f} | {e.get('target_met')} |")


if __name__ == "__main__":
    main()
