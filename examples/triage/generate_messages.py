"""Generate the example inbound messages for the ACME triage ruleset.

    python examples/triage/generate_messages.py [--n 400] [--seed 7] [-o examples/triage/messages.jsonl]
                                                [--no-bad-lines]

Deterministic: the same --n and --seed always give the same file (a seeded
random.Random, no clock).  Messages follow the `Message` schema of
`declarations.sf`: a mix of channels, kinds, languages, sentiments and
authors (some verified or with many followers), over four weeks of November
2026 including nights, weekends and the UK clock change on 2026-10-25 (the
first days are in late October).  Texts hit every rule group and plenty are
neutral chatter.

Unless --no-bad-lines is given, three deliberately broken lines are written
so the `triage` command's reject handling can be seen: line 50 is not JSON,
line 120 has `followers` as a string, and line 200 lacks the required
`text` field.  `socialflow triage` reports them by line number, writes them
to the rejects file, and never drops them silently.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CHANNELS = ["twitter", "facebook", "instagram", "tiktok", "youtube", "reviews", "email"]
KINDS = {"reviews": ["review"], "email": ["dm"]}
DEFAULT_KINDS = ["mention", "comment", "dm", "reply", "mention", "comment"]
ACCOUNTS = [f"acct-{i:03d}" for i in range(1, 13)]

TEXTS: dict[str, list[str]] = {
    "refund": [
        "I was charged twice for my order, I want a refund",
        "Still waiting for my money back after three weeks",
        "How do I cancel my subscription and get a refund?",
        "Your invoice is wrong, I was overcharged",
    ],
    "delivery": [
        "My parcel never arrived and tracking says delivered",
        "The courier left my delivery in the rain, it's damaged",
        "Where is my parcel? The tracking hasn't moved in days",
    ],
    "returns": ["How do I return a faulty kettle?", "Is this covered by the warranty?"],
    "outage": [
        "The app is down again, cannot log in",
        "Website not working for anyone else?",
        "App crashed three times today",
    ],
    "security": ["I think my account was hacked", "Got a phishing email pretending to be you"],
    "safety": [
        "My charger exploded and burned the desk, this is unsafe",
        "Is there a recall on the model X heater? It caught fire",
    ],
    "legal": [
        "My lawyer will be in touch about this",
        "I'm going to small claims court over this",
        "I will sue if this isn't fixed",
    ],
    "abuse": ["You are all idiots and I hate you", "stupid company, stupid people"],
    "press": [
        "Journalist at the Daily Ledger, can you comment for a story?",
        "Reporter here, press enquiry about the price change",
    ],
    "praise": [
        "Love the new update, thank you!",
        "Amazing service from Priya today, thanks so much",
        "Awesome support, great service as always",
    ],
    "competitor": [
        "Thinking of switching to Globex, their prices are better",
        "Initech does this for free",
    ],
    "question": [
        "What time do you open on Saturday?",
        "Do you ship to Ireland?",
        "Can I change my order?",
    ],
    "spam": [
        "FREE iPhone giveaway, click the link in my bio",
        "Crypto giveaway!!! Send 1 BTC get 2 back",
        "free bitcoin for followers http://spam.example",
    ],
    "neutral": [
        "first",
        "nice",
        "ok",
        "lol",
        "saw this in the shop today",
        "who else is watching?",
        "same here",
        "interesting",
        "the new colours look fine",
        "bought one last week",
    ],
    "es": ["Hola, mi pedido no ha llegado", "Gracias por la ayuda", "¿Dónde está mi reembolso?"],
    "de": ["Meine Bestellung ist nicht angekommen", "Danke für die schnelle Hilfe"],
    "fr": ["Ma commande n'est pas arrivée", "Merci beaucoup pour votre aide"],
}
WEIGHTS = {
    "refund": 10,
    "delivery": 9,
    "returns": 4,
    "outage": 5,
    "security": 3,
    "safety": 2,
    "legal": 3,
    "abuse": 2,
    "press": 2,
    "praise": 8,
    "competitor": 3,
    "question": 8,
    "spam": 5,
    "neutral": 24,
    "es": 4,
    "de": 3,
    "fr": 3,
}
SENTIMENT = {
    "refund": (-0.9, -0.3),
    "delivery": (-0.8, -0.2),
    "returns": (-0.4, 0.1),
    "outage": (-0.9, -0.4),
    "security": (-0.8, -0.3),
    "safety": (-1.0, -0.6),
    "legal": (-0.9, -0.4),
    "abuse": (-1.0, -0.7),
    "press": (-0.2, 0.2),
    "praise": (0.6, 1.0),
    "competitor": (-0.5, 0.2),
    "question": (-0.2, 0.3),
    "spam": (0.3, 0.9),
    "neutral": (-0.3, 0.4),
    "es": (-0.5, 0.5),
    "de": (-0.5, 0.5),
    "fr": (-0.5, 0.5),
}


def _author(rng: random.Random, topic: str) -> dict[str, Any]:
    if topic == "spam":
        return {
            "handle": f"@promo{rng.randrange(10_000)}",
            "followers": rng.randrange(0, 3),
            "verified": False,
        }
    if topic == "press" and rng.random() < 0.5:
        return {
            "handle": f"@{rng.choice(['ledger', 'metro', 'tech'])}_news",
            "followers": rng.randrange(5_000, 90_000),
            "verified": rng.random() < 0.5,
        }
    roll = rng.random()
    if roll < 0.04:
        followers, verified = rng.randrange(100_000, 3_000_000), True
    elif roll < 0.10:
        followers, verified = rng.randrange(20_000, 100_000), rng.random() < 0.3
    else:
        followers, verified = int(rng.lognormvariate(5, 1.5)), False
    return {
        "handle": f"@user{rng.randrange(100_000)}",
        "followers": followers,
        "verified": verified,
    }


def messages(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 24, 6, 0, tzinfo=UTC)  # spans the UK clock change on 2026-10-25
    topics = list(WEIGHTS)
    weights = [WEIGHTS[t] for t in topics]
    out = []
    for i in range(n):
        topic = rng.choices(topics, weights)[0]
        channel = rng.choice(CHANNELS)
        kind = rng.choice(KINDS.get(channel, DEFAULT_KINDS))
        low, high = SENTIMENT[topic]
        received = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 30))
        message: dict[str, Any] = {
            "id": f"m{i + 1:04d}",
            "channel": channel,
            "kind": kind,
            "account": rng.choice(ACCOUNTS),
            "text": rng.choice(TEXTS[topic]),
            "lang": topic if topic in ("es", "de", "fr") else "en",
            "sentiment": round(rng.uniform(low, high), 2),
            "author": _author(rng, topic),
            "received_at": received.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if rng.random() < 0.3:
            message["region"] = rng.choice(["uk", "uk", "us", "ca", "ie", "es"])
        out.append(message)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("messages.jsonl")))
    parser.add_argument("--no-bad-lines", action="store_true", help="write only valid messages")
    args = parser.parse_args()
    lines = [json.dumps(m, ensure_ascii=False, sort_keys=True) for m in messages(args.n, args.seed)]
    if not args.no_bad_lines:
        bad_type = json.loads(lines[119])
        bad_type["author"]["followers"] = str(bad_type["author"]["followers"])
        missing = json.loads(lines[199])
        del missing["text"]
        lines[49] = '{"id": "m0050", "channel": "twitter", "text": "unterminated'
        lines[119] = json.dumps(bad_type, ensure_ascii=False, sort_keys=True)
        lines[199] = json.dumps(missing, ensure_ascii=False, sort_keys=True)
    Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
