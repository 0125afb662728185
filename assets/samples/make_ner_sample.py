"""Regenerate ner_sample.conll: invented English sentences tagged with PER, ORG and LOC in BIO.

Every name, company and sentence is made up for this project (no public dataset is copied).
A fixed seed drives every choice, so running it again reproduces the file byte for byte.

    python assets/samples/make_ner_sample.py
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

SEED = 2024
HERE = Path(__file__).resolve().parent
SENTENCES = 240

PEOPLE = ["Alice Martin", "Tomas Berg", "Priya Nair", "Jonas Weber", "Mei Lin", "Carlos Ruiz", "Fatima Zahra",
          "Olga Petrova", "Samuel Okafor", "Hannah Fischer", "Diego Alvarez", "Yuki Tanaka", "Ravi Kumar",
          "Elena Rossi", "Noah Schmidt", "Amara Diallo", "Lucas Moreau", "Ingrid Holm", "Kwame Mensah", "Sofia Novak",
          "Liam O'Brien", "Ana Costa", "Mateo Silva", "Greta Lind", "Omar Haddad", "Clara Dupont", "Hiro Sato",
          "Nadia Karim", "Peter Quist", "Zoe Adler", "Marek Nowak", "Leila Farah"]
SINGLE_PEOPLE = ["Alice", "Tomas", "Priya", "Jonas", "Mei", "Carlos", "Olga", "Samuel", "Hannah", "Diego", "Yuki",
                 "Elena", "Noah", "Amara", "Lucas", "Ingrid", "Sofia", "Omar", "Clara", "Zoe"]
ORGS = ["Brightwave Systems", "Northwind Foods", "Kestrel Bank", "Orion Motors", "Bluepeak Energy", "Harbor Labs",
        "Greenfield Analytics", "Vantor", "Quillmark", "Solenne Pharma", "Atlas Freight", "Redstone Insurance",
        "Maple Robotics", "Cobalt Media", "Silverline Airways", "Pinecrest University", "Nimbus Cloud",
        "Tidewater Shipping", "Lumen Health", "Falcon Textiles"]
PLACES = ["Paris", "Berlin", "Lagos", "Osaka", "Toronto", "Lima", "Nairobi", "Oslo", "Madrid", "Chennai",
          "New York", "Buenos Aires", "Cape Town", "Hong Kong", "San Diego", "Rio de Janeiro", "Kraków", "Lisbon",
          "Seoul", "Melbourne", "the Alps", "Lake Geneva", "Portugal", "Kenya", "Canada", "Norway", "Vietnam"]

# {P} a person, {O} an organisation, {L} a place; every other word is tagged O.
TEMPLATES = [
    "{P} works for {O} in {L} .",
    "{P} joined {O} last year as a data engineer .",
    "{O} opened a new office in {L} on Monday .",
    "{P} flew from {L} to {L} for a meeting with {O} .",
    "Shares of {O} rose after {P} was named chief executive .",
    "{P} and {P} met in {L} to sign the deal .",
    "The mayor of {L} thanked {O} for the donation .",
    "{O} will build a factory near {L} , said {P} .",
    "According to {P} , {O} plans to hire two hundred people .",
    "{P} grew up in {L} before moving to {L} .",
    "{O} and {O} agreed to merge their {L} branches .",
    "Yesterday {P} visited the {O} campus in {L} .",
    "A spokesperson for {O} declined to comment .",
    "{P} said the weather in {L} was perfect .",
    "Tourists crowd the old town of {L} every summer .",
    "{P} scored twice as {L} beat the visitors .",
    "The report by {O} warns of floods in {L} .",
    "{P} will speak at the {O} conference next week .",
    "We drove along the coast from {L} to {L} .",
    "{O} hired {P} to lead its research team .",
    "Investors in {L} welcomed the news from {O} .",
    "{P} thanked {P} for the help .",
    "Flights between {L} and {L} were cancelled because of snow .",
    "{P} left {O} to start a bakery in {L} .",
    "The new bridge in {L} was designed by {P} .",
    "Nobody at the meeting knew the answer .",
    "Prices went up again this month .",
    "She said the results would arrive on Friday .",
]


def fill(template: str, rng: random.Random) -> list[tuple[str, str]]:
    """Token/tag pairs of one sentence."""
    out: list[tuple[str, str]] = []
    for word in template.split():
        if word in ("{P}", "{O}", "{L}"):
            kind = {"{P}": "PER", "{O}": "ORG", "{L}": "LOC"}[word]
            if kind == "PER":
                value = rng.choice(SINGLE_PEOPLE) if rng.random() < 0.3 else rng.choice(PEOPLE)
            else:
                value = rng.choice(ORGS if kind == "ORG" else PLACES)
            parts = value.split()
            # "the Alps": the article is not part of the name.
            if parts[0] == "the":
                out.append(("the", "O"))
                parts = parts[1:]
            out += [(p, ("B-" if i == 0 else "I-") + kind) for i, p in enumerate(parts)]
        else:
            out.append((word, "O"))
    return out


def main() -> None:
    rng = random.Random(SEED)
    seen, sentences = set(), []
    while len(sentences) < SENTENCES:
        pairs = fill(rng.choice(TEMPLATES), rng)
        key = " ".join(t for t, _ in pairs)
        if key not in seen:
            seen.add(key)
            sentences.append(pairs)
    lines = ["-DOCSTART- O", ""]
    for pairs in sentences:
        lines += [f"{tok} {tag}" for tok, tag in pairs] + [""]
    (HERE / "ner_sample.conll").write_text("\n".join(lines), encoding="utf-8")
    counts = Counter(tag[2:] for s in sentences for _, tag in s if tag.startswith("B-"))
    print(f"ner_sample.conll: {len(sentences)} sentences, entities {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
