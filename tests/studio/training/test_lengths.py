"""training.max_length from the data: 95% of the records whole, within the model, the server's limit and the
memory estimate; chosen where a run is created and shown by the data check and `studio data` before Start."""

from __future__ import annotations

import json

import pytest

from studio import cli
from studio.base import runfolder
from studio.config import DataConfig, RunConfig
from studio.training import lengths, memory
from studio.views import data_check
from tests.support import tiny_config


def _cfg(tiny_bert, train, **training):
    raw = tiny_config(tiny_bert, train, **training)
    raw["training"].pop("max_length", None)
    raw["training"].update(training)
    return RunConfig.from_dict(raw)


def test_the_95th_percentile_rounded_up_and_what_it_covers(tiny_bert, separable_csv):
    cfg = _cfg(tiny_bert, separable_csv)
    assert cfg.training.max_length is None  # the default is the data's
    choice = lengths.choose(cfg, [20] * 94 + [33] * 2 + [50] * 4)
    assert (choice.value, choice.within, choice.records, choice.longest, choice.capped_by) == (64, 100, 100, 50, None)
    assert lengths.choose(cfg, [20] * 96 + [50] * 4).value == 32  # the 95th is 20: the 4 longest are cut
    assert "max_length 64 from the data: 100 of 100 training records (100%) fit whole" in choice.summary
    assert "max_length 按数据取 64" in choice.summary.zh
    assert lengths.choose(cfg, [3, 5, 7]).value == lengths.FLOOR


def test_the_model_the_server_and_the_memory_cap_it(tiny_bert, separable_csv, monkeypatch):
    cfg = _cfg(tiny_bert, separable_csv)
    long = lengths.choose(cfg, [2000] * 50)
    assert (long.value, long.capped_by, long.within) == (64, "model", 0)  # the tiny BERT's 64 positions
    assert "95% would need 2,016, but the model reads at most 64" in long.summary
    assert (lengths.choose(cfg, [60] * 50, limit=40).value, lengths.choose(cfg, [60] * 50, limit=40).capped_by) == \
        (40, "limit")

    class Estimate:
        def __init__(self, length):
            self.verdict, self.total, self.available = "too big", length * 1000, 40 * 1000

    monkeypatch.setattr(memory, "estimate", lambda c, n_labels=2, device=None: Estimate(c.training.max_length))
    fitted = lengths.choose(cfg, [60] * 50)
    assert (fitted.wanted, fitted.value, fitted.capped_by) == (64, 32, "memory")
    assert "the memory estimate fits at most 32" in fitted.summary


def test_a_run_created_without_max_length_gets_the_datas_and_says_so(store, tiny_bert, separable_csv):
    run_id = store.create(_cfg(tiny_bert, separable_csv), start=False)
    rd = store.run_dir(run_id)
    saved = json.loads(runfolder.RunFolder(rd).config.read_text())["training"]["max_length"]
    picked = runfolder.read_status(rd)["max_length_picked"]
    assert saved == picked["value"] == lengths.FLOOR and picked["records"] == 40  # short texts: the floor
    assert picked["summary"].startswith(f"max_length {saved} from the data") and picked["summary_zh"]
    typed = store.create(_cfg(tiny_bert, separable_csv, max_length=24), start=False)
    assert json.loads(runfolder.RunFolder(store.run_dir(typed)).config.read_text())["training"]["max_length"] == 24
    assert "max_length_picked" not in runfolder.read_status(store.run_dir(typed))


def test_the_data_check_shows_the_choice_and_counts_what_a_typed_length_cuts(tiny_bert, separable_csv):
    auto = data_check.check(DataConfig(train=str(separable_csv)), model=str(tiny_bert))
    assert auto.max_length == auto.length_choice["value"] == lengths.FLOOR
    assert not [w for w in auto.report.warnings if "longer than max_length" in w]
    cut = data_check.check(DataConfig(train=str(separable_csv)), model=str(tiny_bert), max_length=6)
    assert cut.length_choice is None and cut.max_length == 6
    [warning] = [w for w in cut.report.warnings if "longer than max_length=6" in w]
    n = round(cut.report.token_lengths["truncated_share"] * 40)
    assert n > 2 and warning.startswith(f"{n} of 40 texts ({n / 40:.0%}) are longer")
    assert f"40 条文本中有 {n} 条" in warning.zh


@pytest.mark.parametrize("typed", [False, True])
def test_studio_data_prints_token_lengths_and_the_choice(tiny_bert, separable_csv, capsys, tmp_path, typed):
    args = ["--runs-dir", str(tmp_path), "data", str(separable_csv), "--model", str(tiny_bert)]
    assert cli.main(args + (["--max-length", "6"] if typed else [])) == 0
    out = capsys.readouterr().out
    assert "tokens   p50" in out
    assert ("max_length 32 from the data" in out) != typed
    assert ("of 40 texts" in out and "are longer than max_length=6" in out) == typed
