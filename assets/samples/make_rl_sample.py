"""Regenerate rl_sample.jsonl: small arithmetic word problems with their answers, for rewards to train on.

Written for this project (no public dataset is copied). Each record is a prompt that asks for the reply to end
with a line 'Answer: <number>' and the number itself as `answer`, so the bundled rewards have something to
score: `format` (the line is there) and `answer` (its number is right). A few records are chat messages with a
system turn, so one file shows both prompt shapes. A fixed seed makes the file byte-for-byte reproducible:

    python assets/samples/make_rl_sample.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 17
HERE = Path(__file__).resolve().parent
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Greta", "Hugo", "Ines", "Jun", "Kofi", "Lena", "Mira",
         "Noor", "Omar", "Priya", "Rui", "Sami", "Tove", "Umar", "Vera", "Wen", "Yara", "Zane"]
THINGS = ["apples", "books", "coins", "pencils", "stamps", "marbles", "cards", "shells", "stickers", "cookies"]
ASK = "End your reply with a line 'Answer: <number>'."


def problem(rng: random.Random) -> tuple[str, int]:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    kind = rng.choice(["add", "take", "times", "share"])
    if kind == "add":
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b
    if kind == "take":
        a = rng.randint(10, 60)
        b = rng.randint(1, a - 1)
        return f"{name} has {a} {thing} and gives away {b}. How many {thing} are left?", a - b
    if kind == "times":
        a, b = rng.randint(2, 9), rng.randint(2, 12)
        return f"{name} buys {a} boxes with {b} {thing} in each. How many {thing} is that?", a * b
    b = rng.randint(2, 8)
    a = b * rng.randint(2, 10)
    return f"{name} shares {a} {thing} equally among {b} friends. How many {thing} does each friend get?", a // b


def records(n: int = 320) -> list[dict]:
    rng = random.Random(SEED)
    out, seen = [], set()
    while len(out) < n:
        question, answer = problem(rng)
        if question in seen:
            continue
        seen.add(question)
        if len(out) % 10 == 9:  # the chat shape: a system turn, then the user's question
            out.append({"prompt": [{"role": "system", "content": "You are a careful maths tutor."},
                                   {"role": "user", "content": f"{question} {ASK}"}], "answer": str(answer)})
        else:
            out.append({"prompt": f"{question} {ASK}", "answer": str(answer)})
    return out


if __name__ == "__main__":
    path = HERE / "rl_sample.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records()), encoding="utf-8")
    print(f"wrote {path}")
