"""Regenerate preference_sample.jsonl: prompts with a right (chosen) and a wrong or unhelpful (rejected) answer.

Written for this project (no public dataset is copied), from the same facts as sft_sample.jsonl: the chosen
answer is right and to the point; the rejected one is wrong (another capital, a wrong sum, the same word
instead of its opposite, the other sentiment) or dodges the question. Most records are prompt/chosen/rejected
strings; a few are conversational (chosen and rejected as whole message lists that share the prompt), so one
file shows both formats. A fixed seed makes the file byte-for-byte reproducible:

    python assets/samples/make_preference_sample.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from make_sft_sample import CAPITALS, OPPOSITES, PHRASES, REVIEWS, hashtag

SEED = 11
HERE = Path(__file__).resolve().parent
DODGES = ["I'm not sure, you could look it up.", "That is a good question.", "It depends on many things.",
          "Sorry, I cannot help with that."]


def records(rng: random.Random) -> list[dict]:
    out = []
    cities = list(CAPITALS.values())
    for country, city in CAPITALS.items():
        wrong = rng.choice([c for c in cities if c != city])
        out.append({"prompt": f"What is the capital of {country}?", "chosen": f"The capital of {country} is {city}.",
                    "rejected": rng.choice([f"The capital of {country} is {wrong}.", rng.choice(DODGES)])})
    for word, opposite in OPPOSITES.items():
        out.append({"prompt": f"What is the opposite of '{word}'? Answer with one word.", "chosen": opposite,
                    "rejected": rng.choice([word, f"The opposite of '{word}' is a word that means something else."])})
    for phrase in PHRASES:
        out.append({"prompt": f"Write this phrase in capital letters: {phrase}", "chosen": phrase.upper(),
                    "rejected": rng.choice([phrase, phrase.title()])})
        out.append({"prompt": f"Turn this phrase into a hashtag: {phrase}", "chosen": hashtag(phrase),
                    "rejected": rng.choice(["#" + phrase, phrase.replace(" ", "_")])})
    for _ in range(30):
        a, b = rng.randint(2, 49), rng.randint(2, 49)
        off = rng.choice([-10, -2, -1, 1, 2, 10])
        out.append({"prompt": f"Add {a} and {b}.", "chosen": f"{a} + {b} = {a + b}.",
                    "rejected": f"{a} + {b} = {a + b + off}."})
    other = {"positive": "negative", "negative": "positive"}
    for label, texts in REVIEWS.items():
        for text in texts:
            out.append({"prompt": f"Is this review positive or negative? Answer with one word.\n\n{text}",
                        "chosen": label, "rejected": rng.choice([other[label], "It is hard to say."])})
    return out


def conversational(rec: dict) -> dict:
    """The same record as two whole conversations that share the prompt (trl's implicit-prompt form)."""
    user = [{"role": "system", "content": "Answer briefly and correctly."}, {"role": "user", "content": rec["prompt"]}]
    return {"chosen": [*user, {"role": "assistant", "content": rec["chosen"]}],
            "rejected": [*user, {"role": "assistant", "content": rec["rejected"]}]}


def main() -> None:
    rng = random.Random(SEED)
    recs = records(rng)
    rng.shuffle(recs)
    recs = [conversational(r) if i % 8 == 0 else r for i, r in enumerate(recs)]
    with open(HERE / "preference_sample.jsonl", "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(recs)} records")


if __name__ == "__main__":
    main()
