"""The tests' mend of Gradio's leaked status-tracker frame loop (tests/components/gradio_frames.py) still fits the
installed Gradio, and changes only the loop's condition."""

from __future__ import annotations

import re

import pytest

from tests.components.gradio_frames import GradioChanged, installed_asset, mend


def test_the_installed_status_tracker_gets_the_stop_condition_and_nothing_else():
    js = installed_asset().read_text(encoding="utf-8")
    mended = mend(js)
    start = next(i for i, (a, b) in enumerate(zip(js, mended)) if a != b)
    added = mended[start:start + len(mended) - len(js)]
    assert re.fullmatch(r"[\w$]+!==null&&", added), added  # one condition, before the loop asks again
    assert mended[:start] + mended[start + len(added):] == js, "the rest as shipped"


def test_a_status_tracker_of_another_shape_is_named_not_passed_over():
    with pytest.raises(GradioChanged, match="changed shape"):
        mend("function ze(){requestAnimationFrame(ze)}")
