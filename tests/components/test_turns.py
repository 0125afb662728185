"""components.ui.one_turn_per_session: a session's data events one at a time, in order, each with the session's
latest data choice; other sessions' events beside them; one session cannot hold every slot."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import gradio as gr
import pytest

from components.session import DataState
from components.ui import one_turn_per_session


def request(session: str):
    return SimpleNamespace(session_hash=session)


def test_events_of_one_session_wait_in_order_and_use_the_latest_choice_others_do_not_wait():
    started, seen = threading.Event(), []
    release = threading.Event()

    def upload(state, name):
        started.set()
        release.wait(5)
        return (DataState(f"/{name}", name, "upload"),)

    def recount(state):
        seen.append(state.name if state else None)
        return (state,)

    upload_ev = one_turn_per_session(upload, makes=DataState)
    recount_ev = one_turn_per_session(recount, makes=DataState)
    old = DataState("/old.csv", "old.csv", "upload")
    first = threading.Thread(target=upload_ev, args=(old, "new.csv", request("a")))
    first.start()
    started.wait(5)
    # Read its inputs while the upload ran (the old file): it waits for its turn, then gets the new choice.
    second = threading.Thread(target=recount_ev, args=(old, request("a")))
    second.start()
    t0 = time.time()
    recount_ev(old, request("b"))  # another session: not held up by session a's upload
    assert time.time() - t0 < 1.0 and seen == ["old.csv"]
    release.set()
    first.join(5)
    second.join(5)
    assert seen == ["old.csv", "new.csv"]


def test_one_session_may_hold_at_most_three_events():
    gate = threading.Event()

    def slow(state):
        gate.wait(5)
        return (state,)

    ev = one_turn_per_session(slow, makes=DataState)
    threads = [threading.Thread(target=ev, args=(None, request("c"))) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    with pytest.raises(gr.Error, match="still being read"):
        ev(None, request("c"))
    gate.set()
    for t in threads:
        t.join(5)
    assert ev(None, request("c")) == (None,)  # its turn again once the others are done


def test_an_event_given_a_replaced_choice_after_the_replacing_event_ended_uses_the_latest():
    """Gradio stores an event's output a moment after its handler returns; an event that read its inputs in that
    moment and took its turn after holds the replaced choice, though no event is in line before it."""
    seen = []

    def upload(state, name):
        return (DataState(f"/{name}", name, "upload"),)

    def recount(state):
        seen.append(state.name if state else None)
        return (state,)

    upload_ev = one_turn_per_session(upload, makes=DataState)
    recount_ev = one_turn_per_session(recount, makes=DataState)
    (first,) = upload_ev(None, "first.jsonl", request("d"))
    (second,) = upload_ev(first, "second.jsonl", request("d"))
    recount_ev(first, request("d"))  # read while the second upload's output was not stored yet
    recount_ev(second, request("d"))
    unknown = DataState("/config.yaml", "config.yaml", "upload")  # made outside these events (a config's data)
    recount_ev(unknown, request("d"))
    assert seen == ["second.jsonl", "second.jsonl", "config.yaml"]
