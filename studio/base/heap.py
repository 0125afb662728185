"""Keeping what a one-job process imported out of the garbage collector's way.

A worker imports torch, transformers and peft (hundreds of thousands of objects that live until it exits) and then
trains once. CPython's full collections walk every tracked object, so each one (accelerate runs one as training
ends, and allocation starts others) re-reads that heap: about a quarter of a tiny run's CPU, measured in
bench/RESULTS.md. `gc.freeze` moves what exists into a generation the collector never visits; in a process that
forks (the spare worker) it also leaves those pages shared with the children instead of copied."""

from __future__ import annotations

import gc


def freeze_imports() -> None:
    """Collect what is garbage now, then freeze the rest. For processes that exit after one job: reference counting
    still frees frozen objects, but frozen ones that later form cycles of garbage stay until the process ends, so
    the app's long-lived process never calls this (tests that run a worker in their own process keep that little
    until they end)."""
    gc.collect()
    gc.freeze()
