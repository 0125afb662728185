"""Answers: each text sent as one user message (the chat tasks' shared generation), and a teacher's answers
that become a student's targets (sequence-level distillation)."""

from __future__ import annotations

import json

import pandas as pd

from studio.tasks.chat import generate, predict

__all__ = ["predict", "teacher_answers"]


def teacher_answers(train: pd.DataFrame, teacher_model, teacher_tokenizer, max_new_tokens: int) -> pd.DataFrame:
    """Sequence-level distillation: each conversation's last answer rewritten by the teacher (its greedy answer to
    the same turns before it); a row whose teacher answer comes back empty keeps its own."""
    convs = [json.loads(m) for m in train["messages"]]
    answers = generate(teacher_model, teacher_tokenizer, [c[:-1] for c in convs], max_new_tokens)
    out = train.copy()
    msgs, refs = [], []
    for conv, answer in zip(convs, answers):
        answer = answer.strip() or conv[-1]["content"]
        msgs.append(json.dumps(conv[:-1] + [{**conv[-1], "content": answer}], ensure_ascii=False))
        refs.append(answer)
    out["messages"], out["reference"] = msgs, refs
    return out
