"""The SFT chat panel through gradio_client: streamed answers, the base model's answer, settings, errors.

The panel is served on its own (a run picker plus components.playground.chat.build), so it is tested
whether or not the Playground tab shows it yet; the run is a tiny random Llama trained by a real worker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.components.ui_support import free_port, stop_active_runs

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "assets" / "samples" / "sft_sample.jsonl"


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory, ui_cache):
    from studio.config import RunConfig
    from studio.runs.store import Store
    from tests.support import train_to_completion
    from tests.tiny_models import make_tiny_llama

    llama = make_tiny_llama(tmp_path_factory.mktemp("ui-llama") / "llama")
    runs_dir = tmp_path_factory.mktemp("chat-runs")
    store = Store(runs_dir)
    cfg = RunConfig.from_dict({"task": "sft", "model": str(llama), "method": "lora",
                               "data": {"train": str(SAMPLE), "max_rows": 24},
                               "training": {"epochs": 2, "batch_size": 8, "max_length": 48, "device": "cpu",
                                            "max_new_tokens": 5, "sample_prompts": 0, "learning_rate": 2e-2}})
    run_id = train_to_completion(store, cfg)
    yield store, run_id, llama
    stop_active_runs(runs_dir)


@pytest.fixture(scope="module")
def chat_url(sft_run):
    import gradio as gr

    from components.context import StudioContext
    from components.playground import chat as playground_chat

    store, run_id, _ = sft_run
    ctx = StudioContext(store=store, samples={}, default_sample=None, default_model="smollm2", default_method="lora")
    with gr.Blocks() as app:
        run = gr.Dropdown(choices=ctx.completed_choices(), value=None, allow_custom_value=True)
        panel = playground_chat.build(ctx, run)
    assert isinstance(panel.group, gr.Column) and panel.group.visible is False  # the Playground tab shows it
    _, url, _ = app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", server_port=free_port())
    try:
        yield url
    finally:
        app.close()


def texts(history) -> list[tuple[str, str]]:
    from components.playground.chat import text_of

    return [(m["role"], text_of(m["content"])) for m in history]


def base_answer(model_dir: Path, messages: list[dict], max_new_tokens: int) -> str:
    from studio.tasks import chat

    tok = chat.load_tokenizer(model_dir)
    return chat.generate(chat.load_model(model_dir, [], tok), tok, [messages], max_new_tokens)[0]


def test_chat_streams_the_tuned_then_the_base_answer(chat_url, sft_run):
    store, run_id, llama = sft_run
    client = Client(chat_url, verbose=False)
    job = client.submit(run_id, "What is the capital of Peru?", [], [], 8, 0.0, 1.0, True, api_name="/chat")
    job.result()
    updates = job.outputs()
    assert len(updates) >= 4  # streamed: an update per token, not one at the end
    message, tuned, base = updates[-1]
    assert message == ""  # the box is cleared for the next message
    from studio.serve import inference

    expected_tuned = inference.predict(store.run_dir(run_id), ["What is the capital of Peru?"],
                                       max_new_tokens=8)[0]["output"]
    assert texts(tuned) == [("user", "What is the capital of Peru?"), ("assistant", expected_tuned)]
    expected_base = base_answer(llama, [{"role": "user", "content": "What is the capital of Peru?"}], 8)
    assert texts(base) == [("user", "What is the capital of Peru?"), ("assistant", expected_base)]
    assert expected_base and expected_base != expected_tuned
    base_steps = [texts(u[2])[-1][1] for u in updates if len(u[2]) == 2]
    assert len(set(base_steps)) >= 3 and all(b.startswith(a) for a, b in zip(base_steps, base_steps[1:]))

    # A follow-up reaches each model with its own history.
    out = client.predict(run_id, "And of Chile?", tuned, base, 4, 0.0, 1.0, True, api_name="/chat")
    _, tuned2, base2 = out
    assert [r for r, _ in texts(tuned2)] == ["user", "assistant", "user", "assistant"]
    history = [{"role": r, "content": c} for r, c in texts(base2)[:3]]
    assert texts(base2)[-1][1] == base_answer(llama, history, 4)


def test_settings_reach_the_model_and_compare_can_be_off(chat_url, sft_run):
    store, run_id, _ = sft_run
    client = Client(chat_url, verbose=False)
    _, _, base = client.predict(run_id, "hello", [], [], 2, 0.0, 1.0, True, api_name="/chat")
    _, _, base_long = client.predict(run_id, "hello", [], [], 10, 0.0, 1.0, True, api_name="/chat")
    short, long = texts(base)[-1][1], texts(base_long)[-1][1]
    assert long.startswith(short) and len(long) > len(short)  # max new tokens
    sampled = {texts(client.predict(run_id, "hello", [], [], 10, 1.8, 0.95, True, api_name="/chat")[2])[-1][1]
               for _ in range(3)}
    assert len(sampled) > 1  # temperature > 0 samples
    _, tuned, base_off = client.predict(run_id, "hello", [], [], 4, 0.0, 1.0, False, api_name="/chat")
    assert base_off == [] and len(tuned) == 2


def test_chat_errors_are_sentences(chat_url, sft_run):
    _, run_id, _ = sft_run
    client = Client(chat_url, verbose=False)
    with pytest.raises(Exception, match="is not a run id"):
        client.predict("../../etc", "hi", [], [], 4, 0.0, 1.0, True, api_name="/chat")
    with pytest.raises(Exception, match="Type a message"):
        client.predict(run_id, "   ", [], [], 4, 0.0, 1.0, True, api_name="/chat")
