"""Load: several sessions at once on one app, the way a shared server is used.

- Two browser sessions each start two runs at the same moment: all four run, one after another on the
  one device, none lost, none duplicated.
- While those runs train, the light calls a page makes (runs list, status poll) keep answering.
- 50 concurrent playground predictions on a finished run: every answer is the engine's own prediction.

No timing assertions (benchmarks are not tests): bench/load.py and bench/ui_latency.py measure p50/p95,
recorded in bench/RESULTS.md. This prints the figures it sees.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from studio.base import runfolder
from studio.serve import inference
from tests.components.ui_support import running_app, stop_active_runs

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

pytestmark = pytest.mark.slow
# The sample's 192 training rows in batches of 32, one epoch: 6 steps.
TINY = {"epochs": 1, "max_length": 32, "logging_steps": 2, "learning_rate": 3e-3, "batch_size": 32}
TEXTS = ["I was charged twice for my subscription", "Where is my parcel?", "The app crashes when I log in",
         "How do I reset my password?", "Refund the duplicate payment please"]


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


@pytest.fixture(scope="module")
def four_runs(tmp_path_factory, ui_tiny_model):
    """Two sessions, two Start calls each, all four in flight at once; waits for the four to finish.

    Returns (url, runs_dir, run ids, the latencies of the light calls made while runs trained).
    """
    runs_dir = tmp_path_factory.mktemp("load-runs")
    with running_app(runs_dir) as url:
        sessions = [Client(url, verbose=False), Client(url, verbose=False)]
        for s in sessions:
            s.predict("support_tickets.csv", api_name="/use_sample")
        jobs = [s.submit(model_custom=str(ui_tiny_model), run_name=f"load-{i}-{j}", api_name="/start_run", **TINY)
                for i, s in enumerate(sessions) for j in range(2)]
        run_ids = [job.result(timeout=120)[1] for job in jobs]
        # The page's light calls while the runs train: the runs list and a status poll, from a third session.
        watcher = Client(url, verbose=False)
        latencies, statuses = [], set()
        end = time.time() + 600
        while True:
            t0 = time.perf_counter()
            table, *_ = watcher.predict(api_name="/list_runs")
            st = watcher.predict(run_ids[-1], api_name="/run_status")
            latencies.append(time.perf_counter() - t0)
            rows = {row[0]: row for row in table["data"]}
            statuses.update(runfolder.read_status(runs_dir / r)["status"] for r in run_ids)
            if all(runfolder.read_status(runs_dir / r)["status"] in runfolder.FINISHED for r in run_ids) and \
                    st["status"] in runfolder.FINISHED:
                break
            assert time.time() < end, "the four runs did not finish"
            time.sleep(0.2)
        yield url, runs_dir, run_ids, latencies, statuses, rows
    stop_active_runs(runs_dir)


def test_two_sessions_starting_two_runs_each_at_once_run_all_four_one_after_another(four_runs):
    url, runs_dir, run_ids, *_ = four_runs
    assert len(set(run_ids)) == 4, run_ids
    table, *_ = Client(url, verbose=False).predict(api_name="/list_runs")
    assert sorted(row[0] for row in table["data"]) == sorted(run_ids), "exactly these four rows"
    done = [runfolder.read_status(runs_dir / r) for r in run_ids]
    assert [s["status"] for s in done] == ["completed"] * 4, [s.get("reason") for s in done]
    spans = sorted((s["started_at"], s["finished_at"]) for s in done)
    for (_, prev_end), (start, _) in zip(spans, spans[1:]):
        assert start >= prev_end, "two runs trained at once on the one device"
    for r in run_ids:
        records = runfolder.read_metrics(runs_dir / r)
        assert [x["step"] for x in records if x["kind"] == "train"] == [1, 2, 4, 6]  # logged once each, no reruns
        assert [x["kind"] for x in records].count("start") == 1


def test_the_ui_answers_while_runs_train(four_runs):
    *_, latencies, statuses, _ = four_runs
    assert "running" in statuses and "queued" in statuses, "the calls were made while runs trained and waited"
    assert len(latencies) >= 3
    print(f"\nlist_runs + run_status while training: n={len(latencies)} p50={statistics.median(latencies):.3f}s "
          f"p95={percentile(latencies, 95):.3f}s")


def test_50_concurrent_predictions_are_all_answered_correctly(four_runs):
    url, runs_dir, run_ids, *_ = four_runs
    run_id = run_ids[0]
    texts = [TEXTS[i % len(TEXTS)] + f" (ticket {i})" for i in range(50)]
    expected = [inference.predict(runs_dir / run_id, [t])[0] for t in texts]  # one at a time, as the page asks
    clients = [Client(url, verbose=False) for _ in range(5)]  # several sessions, as many browsers would be

    def ask(i: int):
        t0 = time.perf_counter()
        out = clients[i % len(clients)].predict(run_id, texts[i], api_name="/predict")
        return out, time.perf_counter() - t0

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, range(50)))
    for (out, _), want in zip(answers, expected):
        got = {c["label"]: c["confidence"] for c in out["confidences"]}
        assert out["label"] == want["label"]
        assert got == pytest.approx(want["probabilities"], abs=1e-4)
    waits = [t for _, t in answers]
    print(f"\n50 concurrent predictions: p50={statistics.median(waits):.3f}s p95={percentile(waits, 95):.3f}s")
