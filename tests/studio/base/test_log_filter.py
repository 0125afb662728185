"""studio.base.log_filter: the training log reads plainly: no colour codes, transformers' load table as one line."""

from __future__ import annotations

import logging

from studio.base import log_filter, runfolder
from studio.base.runfolder import RunFolder

REPORT = ("\x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m from: /models/tiny-bert\n"
          "Key               | Status     | \n------------------+------------+-\n"
          "classifier.weight | \x1b[31mMISSING\x1b[0m    | \nclassifier.bias   | \x1b[31mMISSING\x1b[0m    | \n"
          "cls.predictions.bias | UNEXPECTED | \n\nNotes:\n- MISSING:\tthose params were newly initialized")


def test_the_load_report_becomes_one_plain_line():
    line = log_filter.summarise_load_report(REPORT)
    assert line == ("[studio] loaded from /models/tiny-bert: new classification head: 2 tensors initialised "
                    "(classifier.weight, classifier.bias); 1 checkpoint tensor this model does not use "
                    "(cls.predictions.bias)")


def test_installed_it_rewrites_what_transformers_logs_and_drops_known_noise():
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("transformers").addHandler(handler)  # where a run's log goes: transformers' handlers
    try:
        log_filter.install()
        log = logging.getLogger("transformers.modeling_utils")
        log.warning(REPORT)
        log.warning("mtime may not be reliable on this filesystem, falling back to numerical ordering")
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    err = stream.getvalue()
    assert "new classification head: 2 tensors initialised" in err
    assert "\x1b[" not in err and "| MISSING" not in err and "mtime" not in err


def test_the_page_never_shows_escape_codes(tmp_path):
    (RunFolder(tmp_path).log).write_text("plain\n\x1b[1mbold\x1b[0m line\n")
    assert runfolder.tail_log(tmp_path) == "plain\nbold line"


def test_dataset_maps_draw_no_progress_bars_into_a_run_log():
    import datasets

    datasets.enable_progress_bars()
    try:
        log_filter.install()
        assert not datasets.is_progress_bar_enabled()
    finally:
        datasets.enable_progress_bars()
