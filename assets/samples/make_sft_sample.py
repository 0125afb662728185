"""Regenerate sft_sample.jsonl: short instructions with one clear answer each, for instruction tuning.

Written for this project (no public dataset is copied). Most records are Alpaca style (instruction,
optional input, output); a few are chat style (a `messages` list), some with two exchanges, so one file
shows both formats. A fixed seed makes the file byte-for-byte reproducible:

    python assets/samples/make_sft_sample.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 7
HERE = Path(__file__).resolve().parent

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin",
            "Canada": "Ottawa", "Egypt": "Cairo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
            "Portugal": "Lisbon", "Greece": "Athens", "Ireland": "Dublin", "Poland": "Warsaw", "Austria": "Vienna",
            "Chile": "Santiago", "Cuba": "Havana", "Thailand": "Bangkok", "Sweden": "Stockholm", "Finland": "Helsinki"}
OPPOSITES = {"hot": "cold", "up": "down", "early": "late", "open": "closed", "full": "empty", "fast": "slow",
             "light": "dark", "happy": "sad", "strong": "weak", "rich": "poor", "old": "new", "high": "low",
             "wet": "dry", "loud": "quiet", "hard": "soft", "first": "last"}
PHRASES = ["green tea", "quiet morning", "red bicycle", "open window", "fresh bread", "blue river", "small garden",
           "late train", "warm coat", "paper boat", "silver spoon", "busy street", "old piano", "cold lemonade"]
REVIEWS = {"positive": ["The blender works perfectly and is easy to clean.", "Great battery life, I love this phone.",
                        "Fast delivery and the shoes fit well.", "Excellent sound, the speaker is worth every cent.",
                        "The lamp is bright, sturdy and beautiful.", "Comfortable chair, my back pain is gone."],
           "negative": ["The kettle broke after two days.", "Terrible fit, the jacket is far too small.",
                        "The charger stopped working within a week.", "Awful taste, I threw the coffee away.",
                        "The screen cracked on the first drop.", "Slow shipping and the box arrived damaged."]}


def hashtag(phrase: str) -> str:
    return "#" + "".join(w.capitalize() for w in phrase.split())


def alpaca_records(rng: random.Random) -> list[dict]:
    out = []
    for country, city in CAPITALS.items():
        out.append({"instruction": f"What is the capital of {country}?", "input": "",
                    "output": f"The capital of {country} is {city}."})
    for word, opposite in OPPOSITES.items():
        out.append({"instruction": f"What is the opposite of '{word}'? Answer with one word.", "input": "",
                    "output": opposite})
    for phrase in PHRASES:
        out.append({"instruction": "Write this phrase in capital letters.", "input": phrase, "output": phrase.upper()})
        out.append({"instruction": "Turn this phrase into a hashtag.", "input": phrase, "output": hashtag(phrase)})
    for _ in range(30):
        a, b = rng.randint(2, 49), rng.randint(2, 49)
        out.append({"instruction": f"Add {a} and {b}.", "input": "", "output": f"{a} + {b} = {a + b}."})
    for label, texts in REVIEWS.items():
        for text in texts:
            out.append({"instruction": "Is this review positive or negative? Answer with one word.",
                        "input": text, "output": label})
    for _ in range(12):
        words = rng.sample(["apple", "river", "stone", "cloud", "tiger", "lamp", "chair", "bread", "moon"], 3)
        out.append({"instruction": "List these words in alphabetical order, separated by commas.",
                    "input": " ".join(words), "output": ", ".join(sorted(words))})
    return out


def chat_records(rng: random.Random) -> list[dict]:
    out = []
    system = {"role": "system", "content": "You are a brief assistant: answer in one short sentence."}
    for country, city in list(CAPITALS.items())[:10]:
        out.append({"messages": [system, {"role": "user", "content": f"Which city is the capital of {country}?"},
                                 {"role": "assistant", "content": f"{city} is the capital of {country}."}]})
    for word, opposite in list(OPPOSITES.items())[:8]:
        out.append({"messages": [
            {"role": "user", "content": f"Give me the opposite of '{word}'."},
            {"role": "assistant", "content": opposite},
            {"role": "user", "content": "Now write it in capital letters."},
            {"role": "assistant", "content": opposite.upper()}]})
    return out


def main() -> None:
    rng = random.Random(SEED)
    records = alpaca_records(rng) + chat_records(rng)
    seen, unique = set(), []
    for r in records:
        key = json.dumps(r, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(r)
    rng.shuffle(unique)
    path = HERE / "sft_sample.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique), encoding="utf-8")
    print(f"wrote {len(unique)} records to {path}")


if __name__ == "__main__":
    main()
