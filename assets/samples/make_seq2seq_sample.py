"""Write seq2seq_sample.csv: polite household requests -> terse commands (source,target), 200 pairs.

Composed from hand-written phrasings (nothing copied from a public dataset); deterministic (fixed seed).
The target keeps the request's verb, room and object in a fixed order, so a small encoder-decoder learns
the mapping (copy the content words, drop the politeness) in a few CPU minutes.

    python assets/samples/make_seq2seq_sample.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

VERBS = ("turn on", "turn off", "clean", "open", "close", "check", "fix", "lock", "unlock", "dust", "empty", "move")
OBJECTS = ("lights", "window", "door", "heater", "fan", "lamp", "blinds", "oven", "radio", "bin", "shelf", "mirror",
           "cupboard", "curtains", "printer")
ROOMS = ("kitchen", "bedroom", "bathroom", "garage", "office", "hallway", "living room", "attic", "basement",
         "guest room")
OPENERS = ("Could you please", "Would you kindly", "Please", "Can you", "Hey, could you", "I'd like you to",
           "When you get a chance, please", "Would you be so kind as to", "Do me a favour and", "If possible,")
CLOSERS = ("?", ".", ", thanks.", " for me?", " when you have a moment.", ", thank you!", " before dinner.",
           " now, please.")
N = 200
SEED = 7


def pairs(n: int = N, seed: int = SEED) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    seen: set[tuple[str, str, str]] = set()
    out = []
    while len(out) < n:
        verb, obj, room = rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ROOMS)
        if (verb, obj, room) in seen:
            continue
        seen.add((verb, obj, room))
        opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
        where = rng.choice((f"the {obj} in the {room}", f"the {room} {obj}"))
        source = f"{opener} {verb} {where}{closer}"
        out.append((source, f"{verb} {room} {obj}"))
    return out


def main() -> None:
    path = Path(__file__).with_name("seq2seq_sample.csv")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["source", "target"])
        w.writerows(pairs())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
