"""Regenerate qa_sample.jsonl: extractive question answering over short product notes, written for this project.

Each record is SQuAD-style as Hugging Face datasets exports it: id, question, context and answers
({"text": [...], "answer_start": [...]}). Deterministic (a fixed seed), so running it again writes the same file.

    python assets/samples/make_qa_sample.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 77
HERE = Path(__file__).resolve().parent

PRODUCTS = ["Aster kettle", "Birch lamp", "Cedar chair", "Dune backpack", "Ember heater", "Fjord jacket",
            "Glade tent", "Harbor mug", "Iris blender", "Juniper desk", "Kestrel drone", "Lumen torch",
            "Maple shelf", "Nimbus pillow", "Onyx speaker", "Pebble watch", "Quill pen", "Reef bottle",
            "Sable boots", "Tundra gloves"]
CITIES = ["Lyon", "Porto", "Oslo", "Gdansk", "Valencia", "Leeds", "Ghent", "Turin", "Bergen", "Tampere"]
COLOURS = ["slate grey", "forest green", "deep blue", "sand beige", "brick red", "matte black"]
MONTHS = ["January", "March", "May", "July", "September", "November"]
WORDS = {1: "one", 2: "two", 3: "three", 5: "five"}

SENTENCES = [
    ("The {p} costs {price} euros.", "How much does the {p} cost?", "{price} euros"),
    ("It is made in {city}.", "Where is the {p} made?", "{city}"),
    ("Its warranty lasts {years} years.", "How long is the warranty of the {p}?", "{years} years"),
    ("It comes in {colour}.", "What colour does the {p} come in?", "{colour}"),
    ("It first went on sale in {month}.", "When did the {p} first go on sale?", "{month}"),
    ("Support answers questions about it within {hours} hours.", "How fast does support answer about the {p}?",
     "within {hours} hours"),
]


def record(i: int, rng: random.Random, product: str) -> list[dict]:
    slots = {"p": product, "price": str(rng.randint(12, 480)), "city": rng.choice(CITIES),
             "years": WORDS[rng.choice(list(WORDS))], "colour": rng.choice(COLOURS), "month": rng.choice(MONTHS),
             "hours": str(rng.choice([4, 12, 24, 48]))}
    chosen = rng.sample(SENTENCES, 4)
    context = " ".join(s.format(**slots) for s, _, _ in chosen)
    out = []
    for k, (_, question, answer) in enumerate(chosen):
        text = answer.format(**slots)
        out.append({"id": f"q{i:03d}-{k}", "question": question.format(**slots), "context": context,
                    "answers": {"text": [text], "answer_start": [context.index(text)]}})
    return out


def main() -> None:
    rng = random.Random(SEED)
    rows = [r for i in range(40) for r in record(i, rng, PRODUCTS[i % len(PRODUCTS)] + ("" if i < 20 else " II"))]
    rng.shuffle(rows)
    with open(HERE / "qa_sample.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"qa_sample.jsonl: {len(rows)} questions")


if __name__ == "__main__":
    main()
