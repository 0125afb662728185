"""Judges as a run feature (studio.training.hooks): checked and recorded before the run exists, loaded and put in
place as the task's rewards while it trains, named in its report."""

from __future__ import annotations

from studio.base.runfolder import RunFolder
from studio.judge.capability import JudgedReplies
from studio.judge.judge import classifier_record, classifier_scorer, code_record, code_reward, records


class Judge:
    name = "judge"

    def check(self, new) -> None:
        judged = new.task.capability(JudgedReplies)
        named = judged.judges_named(new.cfg) if judged is not None else {}
        rec = {}
        if "classifier" in named:
            rec["classifier"] = classifier_record(new.run_dir, *named["classifier"])
        if "code" in named:
            rec["code"] = code_record(*named["code"])
        if rec:
            new.files[RunFolder.judge.name] = rec

    def trainer(self, run, parts, collator):
        judged = run.task.capability(JudgedReplies)
        rec = records(run.folder) if judged is not None else None
        if not rec:
            return parts, collator
        judges = {}
        if "classifier" in rec:
            judges["classifier"] = classifier_scorer(rec["classifier"], run.device)
        if "code" in rec:
            judges["code"] = code_reward(rec["code"])
        return judged.with_judges(run.cfg, parts, judges), collator

    def report(self, run, trainer, report) -> None:
        rec = records(run.folder)
        if rec and "classifier" in rec:
            report["judge"] = {k: rec["classifier"][k] for k in ("run", "label", "base_model", "method")}
        if rec and "code" in rec:
            report["reward_code"] = {k: rec["code"][k] for k in ("path", "function", "sha256")}
