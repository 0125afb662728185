"""Regenerate the small sample datasets in this folder.

The sentences are written for this project (no public dataset is copied).
Output is deterministic: a fixed seed drives every random choice, so
running this script again reproduces the same files byte for byte.

    python assets/samples/make_samples.py
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path

SEED = 1234
HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------
# Support tickets: 4 classes, each built from its own vocabulary.
# Each template has {slots}; slot values are drawn from per-class lists.
# ---------------------------------------------------------------------------

TICKETS: dict[str, dict] = {
    "billing": {
        "templates": [
            "I was charged {amount} twice for my {plan} subscription this month.",
            "Why does my invoice show {amount} when my {plan} plan costs less?",
            "Please refund the duplicate charge of {amount} on my {card}.",
            "My {card} was billed {amount} after I cancelled the {plan} plan.",
            "Can you send me a corrected invoice for {month}? The total looks wrong.",
            "The payment for {month} failed, but my {card} has enough funds.",
            "I'd like a receipt for the {amount} charge from {month}, for my accountant.",
            "There is an unexpected fee of {amount} on my statement, what is it for?",
            "How do I update the {card} used for billing on my {plan} plan?",
            "I was promised a discount, yet the {month} invoice charged the full price.",
            "Your system billed me {amount} for a refund that was never credited.",
            "Tax was added to my {month} invoice twice, please fix the billing.",
            "Could you switch my {plan} subscription to annual billing to save money?",
            "The prorated charge of {amount} after my upgrade doesn't make sense.",
            "I need a refund, I was overcharged {amount} on my {card}.",
            "My bank flagged a charge of {amount} from you as \"unrecognized\".",
        ],
        "slots": {
            "amount": ["$9.99", "$19.00", "$45.50", "$120", "$7.25", "$300", "$59.99", "$14.40", "€25", "£12"],
            "plan": ["Pro", "Basic", "Team", "Premium", "Starter", "Family", "Business"],
            "card": ["credit card", "debit card", "Visa card", "PayPal account", "Mastercard", "company card"],
            "month": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"],
        },
    },
    "technical": {
        "templates": [
            "The {app} crashes every time I open the {screen} screen.",
            "After the latest update, the {app} shows error code {code} on startup.",
            "I get an error saying \"{errmsg}\" when I try to sync my {thing}.",
            "The {screen} page keeps loading forever on my {device}.",
            "Notifications stopped working on my {device} after the update.",
            "Uploading a {thing} fails with error {code}, can you help debug it?",
            "The {app} freezes, then closes itself when I tap the {screen} button.",
            "Your API returns error {code} for every request since this morning.",
            "Dark mode makes the text on the {screen} screen unreadable on my {device}.",
            "The {app} uses all the battery and gets very hot on my {device}.",
            "Export to PDF produces a blank file, the {thing} is not rendered.",
            "Search results are empty even though my {thing} is definitely there.",
            "I reinstalled the {app} on my {device}, but the bug is still there.",
            "The {screen} screen flickers and the buttons don't respond, error {code}.",
            "Video calls drop after a few seconds, the {app} says \"{errmsg}\".",
            "The integration with my calendar stopped syncing, it logs error {code}.",
        ],
        "slots": {
            "app": ["mobile app", "desktop app", "browser extension", "web app", "Android app", "iOS app"],
            "screen": ["settings", "dashboard", "reports", "checkout", "profile", "upload", "home"],
            "device": ["iPhone 13", "Pixel 7", "Windows laptop", "MacBook", "Samsung tablet", "Chromebook", "iPad"],
            "code": ["500", "E42", "403", "0x80070005", "timeout 504", "ERR_SYNC_7", "1012"],
            "thing": ["photos", "documents", "spreadsheet", "contacts", "project files", "video"],
            "errmsg": ["connection lost", "something went wrong", "server not responding", "invalid response",
                       "unknown error"],
        },
    },
    "account": {
        "templates": [
            "I can't log in to my account, the password reset email never arrives.",
            "Please change the email address on my account to {email}.",
            "How do I delete my account and all of my personal data?",
            "My account was locked after {n} failed login attempts, please unlock it.",
            "I want to change my username from {user} to something else.",
            "Someone else may have accessed my account, I saw a login from {place}.",
            "Two-factor authentication codes are not accepted when I sign in.",
            "Can I merge my two accounts, {user} and my work profile, into one?",
            "I forgot which email I used to register, my username is {user}.",
            "Please add {email} as a second admin on our team account.",
            "The password reset link says it expired, even though I clicked it right away.",
            "How do I turn off two-factor login on my account? I lost my phone.",
            "My account profile shows the wrong name, could you update it to \"{name}\"?",
            "I signed up with Google, how do I set a normal password for my account?",
            "Please deactivate my account temporarily, I'll be away for {n} months.",
            "I got a security alert about a new sign-in from {place}, was it me?",
        ],
        "slots": {
            "email": ["maria.k@example.com", "j.tan@example.org", "office@example.net", "sam.r@example.com",
                      "lee@example.org"],
            "n": ["3", "5", "6", "10", "two", "four"],
            "user": ["sunny_day", "jdoe88", "blue.fox", "mk_writer", "tomas77", "greenleaf"],
            "place": ["Brazil", "an unknown device", "Singapore", "a browser I don't use", "Toronto", "Lagos"],
            "name": ["Anna Lind", "Dev Patel", "Chris O'Neil", "Mei Chen", "Omar Haddad"],
        },
    },
    "shipping": {
        "templates": [
            "My package hasn't arrived yet, the tracking number {track} hasn't moved in {n} days.",
            "The courier marked my order as delivered, but there's no parcel at my door.",
            "Can I change the delivery address for order {order} to {city}?",
            "My {item} arrived damaged, the box was crushed during shipping.",
            "How long does standard shipping to {city} usually take?",
            "I received the wrong {item} in my parcel, order {order}.",
            "Is express delivery available for order {order}? I need it by Friday.",
            "The tracking page for {track} says \"held at customs\", what should I do?",
            "Half of order {order} is missing, the {item} was not in the box.",
            "The delivery driver left my {item} in the rain, the packaging is soaked.",
            "Do you ship to {city}, and how much does international shipping cost?",
            "My order {order} has been stuck \"in transit\" for {n} days.",
            "Could you arrange a pickup to return the {item}? The courier never came.",
            "Please hold my parcel at the depot in {city}, I'm not home this week.",
            "The shipment was sent to my old address, order {order}, can you redirect it?",
            "I paid for next-day delivery, but the {item} took {n} days to arrive.",
        ],
        "slots": {
            "track": ["1Z999AA10123", "TRK-448812", "LX202345678", "JD0142358", "PKG-77310"],
            "n": ["3", "5", "7", "ten", "twelve", "two"],
            "order": ["#10482", "#20931", "#33017", "#41576", "#58220", "#60914", "#72305"],
            "city": ["Denver", "Lyon", "Osaka", "Manchester", "Austin", "Melbourne", "Cape Town"],
            "item": ["headphones", "desk lamp", "running shoes", "coffee grinder", "phone case", "backpack",
                     "keyboard"],
        },
    },
}

# Optional openers/closers add variety without blurring the class vocabulary.
OPENERS = ["", "", "", "Hi, ", "Hello, ", "Hey, ", "Good morning, ", "Quick question: ", "Urgent: "]
CLOSERS = ["", "", "", " Thanks.", " Thank you!", " Please help.", " Any update?", " Cheers."]

# ---------------------------------------------------------------------------
# Sentiment reviews: positive / negative product reviews.
# ---------------------------------------------------------------------------

PRODUCTS = [
    "blender", "pair of earbuds", "yoga mat", "office chair", "water bottle", "laptop stand",
    "electric kettle", "hiking backpack", "phone charger", "desk lamp", "rice cooker", "bluetooth speaker",
    "winter jacket", "air fryer", "mechanical keyboard", "travel mug", "vacuum cleaner", "smart watch",
]

REVIEWS = {
    "positive": {
        "templates": [
            "This {p} is {good}, I use it every day.",
            "Absolutely love this {p}, {praise}.",
            "{good_cap} {p}! {praise_cap}, highly recommend.",
            "Great value for the price, the {p} {works_well}.",
            "I was skeptical, but the {p} turned out {good}.",
            "Five stars. The {p} {works_well} and {praise}.",
            "Best {p} I've owned, {praise}.",
            "Really happy with this {p}; {praise} and it {works_well}.",
            "Bought the {p} as a gift and my sister says it's \"{good}\".",
            "Solid build, {praise}, and the {p} {works_well}. Would buy again.",
            "The {p} exceeded my expectations, {praise}.",
            "{good_cap} purchase, the {p} {works_well}. Delighted!",
        ],
        "slots": {
            "good": ["excellent", "fantastic", "wonderful", "great", "superb", "amazing", "perfect"],
            "praise": [
                "the quality is outstanding", "it was easy to set up", "it looks beautiful",
                "it feels sturdy and well made", "it saves me so much time", "it is so comfortable",
                "shipping was fast too", "customer service was lovely", "it's quiet and efficient",
            ],
            "works_well": [
                "works perfectly", "performs brilliantly", "does exactly what it promises",
                "works like a charm", "has been reliable for months", "is a joy to use",
            ],
        },
    },
    "negative": {
        "templates": [
            "This {p} is {bad}, it {fails} after a week.",
            "Very disappointed with the {p}, {complaint}.",
            "{bad_cap} {p}. {complaint_cap}, do not buy.",
            "Waste of money, the {p} {fails}.",
            "I wanted to like this {p}, but {complaint}.",
            "One star. The {p} {fails} and {complaint}.",
            "Worst {p} I've ever bought, {complaint}.",
            "Returned the {p}; {complaint} and it {fails}.",
            "The description says \"premium\", yet the {p} is {bad}.",
            "Cheap materials, {complaint}, and the {p} {fails}. Avoid.",
            "The {p} fell short of expectations, {complaint}.",
            "{bad_cap} quality, the {p} {fails}. Regret buying it.",
        ],
        "slots": {
            "bad": ["terrible", "awful", "useless", "flimsy", "defective", "disappointing", "poor"],
            "complaint": [
                "the quality is terrible", "it broke on the first use", "it smells like burnt plastic",
                "the instructions were useless", "it wobbles and rattles constantly", "it is painfully uncomfortable",
                "it arrived scratched and dented", "customer service ignored me", "it's loud and overheats",
            ],
            "fails": [
                "stopped working", "keeps breaking", "never worked properly",
                "falls apart", "died completely", "leaks everywhere",
            ],
        },
    },
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _fill(template: str, slots: dict[str, list[str]], rng: random.Random) -> str:
    values = {}
    for key, options in slots.items():
        values[key] = rng.choice(options)
        values[key + "_cap"] = _cap(values[key])
    return template.format(**values)


def make_tickets(rng: random.Random, per_class: int = 60) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for label, spec in TICKETS.items():
        seen: set[str] = set()
        templates = spec["templates"]
        i = 0
        while len(seen) < per_class:
            # Cycle templates so each one is used several times, with fresh slots.
            template = templates[i % len(templates)]
            i += 1
            body = _fill(template, spec["slots"], rng)
            opener = rng.choice(OPENERS)
            if opener:
                first = body.split()[0]
                keep_case = first == "I" or first.startswith("I'")
                body = opener + (body if keep_case else body[0].lower() + body[1:])
            text = body + rng.choice(CLOSERS)
            n_words = len(text.split())
            if text in seen or not (5 <= n_words <= 25):
                continue
            seen.add(text)
            rows.append((text, label))
    rng.shuffle(rows)
    return rows


def make_reviews(rng: random.Random, per_class: int = 100) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for label, spec in REVIEWS.items():
        seen: set[str] = set()
        templates = spec["templates"]
        i = 0
        while len(seen) < per_class:
            template = templates[i % len(templates)]
            i += 1
            slots = dict(spec["slots"], p=PRODUCTS)
            text = _fill(template, slots, rng)
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "label": label})
    rng.shuffle(rows)
    return rows


def main() -> None:
    rng = random.Random(SEED)
    tickets = make_tickets(rng)
    with open(HERE / "support_tickets.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(tickets)

    reviews = make_reviews(rng)
    with open(HERE / "sentiment_reviews.jsonl", "w", encoding="utf-8") as f:
        for row in reviews:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")

    print("support_tickets.csv:", len(tickets), dict(sorted(Counter(l for _, l in tickets).items())))
    print("sentiment_reviews.jsonl:", len(reviews), dict(sorted(Counter(r["label"] for r in reviews).items())))


if __name__ == "__main__":
    main()
