"""A chat sent to a model is cut to what fits its context: the newest turns, the latest message whole."""

from __future__ import annotations

import pytest

from studio.base.errors import InferenceError
from studio.serve.inference import MAX_MESSAGE_CHARS, MAX_TURNS, fit_history


def words(text: str) -> int:
    return len(text.split())


def turn(role: str, n: int, tag: str = "w") -> dict:
    return {"role": role, "content": " ".join([tag] * n)}


def test_the_newest_turns_that_fit_are_kept_and_a_cut_chat_opens_with_the_persons_turn():
    history = [turn("user", 50, "old"), turn("assistant", 50, "old"), turn("user", 10), turn("assistant", 10),
               turn("user", 10, "new")]
    kept = fit_history(history, words, budget=60)
    assert kept[-1]["content"].startswith("new") and kept[0]["role"] == "user"
    assert sum(words(m["content"]) + 4 for m in kept) <= 60 and "old" not in str(kept)


def test_a_system_message_stays_and_a_too_long_message_says_how_long_it_may_be():
    kept = fit_history([{"role": "system", "content": "be brief"}, turn("user", 500), turn("assistant", 5),
                        turn("user", 5)], words, budget=40)
    assert kept[0]["role"] == "system" and len(kept) == 2
    with pytest.raises(InferenceError, match="reads at most 40"):
        fit_history([turn("user", 100)], words, budget=40)


def test_any_history_a_client_sends_is_bounded_before_it_is_counted():
    counted = []

    def count(text):
        counted.append(len(text))
        return 1

    huge = [{"role": "user", "content": "x" * (10 * MAX_MESSAGE_CHARS)}] * (5 * MAX_TURNS) + ["junk", None, 5]
    fit_history(huge, count, budget=10 ** 9)
    assert len(counted) <= MAX_TURNS and max(counted) <= MAX_MESSAGE_CHARS


def test_a_prediction_input_of_any_length_is_cut_before_a_model_sees_it(monkeypatch):
    from studio.serve import inference

    got = []

    class Loaded:
        def predict(self, inputs, **settings):
            got.extend(inputs)
            return []

    monkeypatch.setattr(inference, "load", lambda run_dir: Loaded())
    inference.predict("run", ["x" * (3 * inference.MAX_INPUT_CHARS), {"question": "q", "context": "y" * 10 ** 6}])
    assert len(got[0]) == inference.MAX_INPUT_CHARS and len(got[1]["context"]) == inference.MAX_INPUT_CHARS
