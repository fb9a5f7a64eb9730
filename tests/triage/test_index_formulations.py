"""The rule index does not depend on how a condition is written: for rules drawn
from a grammar of formulations (equality, `in`, `||` of tests, text tests under
`lowerAscii()`, nested `&&`/`||`, any order of conjuncts, unindexable parts),
the indexed engine matches exactly the rules a brute-force evaluation does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import socialflow as sf

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
WORDS = [
    "refund", "Refund", "broken", "cancel", "love", "REFUND", "ref",
    # not one word, non-ASCII, with underscores and digits: the whole-word index
    # looks some up as the text's words and scans for the others
    "@brand", "not working", "strasse", "x_1", "Ünï",
]  # fmt: skip
CHANNELS = ["twitter", "facebook", "Twitter", "tiktok"]
HEADER = """
schema M { id: string, channel?: dyn, lang?: dyn, text?: dyn, n?: int }
input msg: M
queue q
"""
#: The same fields, required: for conditions written without `has()` guards.
REQUIRED = HEADER.replace("?:", ":")


def _guarded(field: str, test: str) -> str:
    """``test`` under the ``has()`` guard of the optional field it reads (check
    requires one), so a message without the field skips it rather than failing."""
    name = field.split(".")[1]
    return f"has(msg.{name}) && ({test})"


def _lit(word: str) -> str:
    return '"' + word + '"'


def _text_test(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(["msg.text", "msg.text.lowerAscii()"]))
    fn = draw(
        st.sampled_from(
            ["contains", "containsAny", "containsWord", "containsAnyWord", "startsWith", "endsWith"]
        )
    )
    words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True))
    spaced = [
        f" {w} " if fn in ("contains", "containsAny") and draw(st.booleans()) else w for w in words
    ]
    if fn in ("containsAny", "containsAnyWord"):
        return _guarded(field, f"{field}.{fn}([{', '.join(map(_lit, spaced))}])")
    return _guarded(field, f"{field}.{fn}({_lit(spaced[0])})")


def _equal_test(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(["msg.channel", "msg.lang", "msg.channel.lowerAscii()"]))
    values = draw(
        st.lists(st.sampled_from([*CHANNELS, "en", "de"]), min_size=1, max_size=3, unique=True)
    )
    shape = draw(st.sampled_from(["eq", "eq_flipped", "in", "or"]))
    if shape == "eq":
        return _guarded(field, f"{field} == {_lit(values[0])}")
    if shape == "eq_flipped":
        return _guarded(field, f"{_lit(values[0])} == {field}")
    if shape == "in":
        return _guarded(field, f"{field} in [{', '.join(map(_lit, values))}]")
    return _guarded(field, " || ".join(f"{field} == {_lit(v)}" for v in values))


def _other_test(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [
                "has(msg.n) && msg.n > 3",
                'has(msg.text) && !msg.text.contains("love")',
                "has(msg.lang)",
                "true",
                "has(msg.n) && msg.n == 2",
            ]
        )
    )


@st.composite
def _part(draw: st.DrawFn, depth: int = 0) -> str:
    kind = draw(
        st.sampled_from(
            ["text", "equal", "other", "or", "and"] if depth < 2 else ["text", "equal", "other"]
        )
    )
    if kind == "text":
        return _text_test(draw)
    if kind == "equal":
        return _equal_test(draw)
    if kind == "other":
        return _other_test(draw)
    sides = draw(st.lists(_part(depth + 1), min_size=2, max_size=3))
    joined = (" || " if kind == "or" else " && ").join(f"({s})" for s in sides)
    return joined


@st.composite
def conditions(draw: st.DrawFn) -> str:
    parts = draw(st.lists(_part(), min_size=1, max_size=3))
    return " && ".join(f"({p})" for p in parts)


_pieces = st.sampled_from([*WORDS, "hello", "world", "réfund", "ß", "Straße", "ünï", "x_10"])
_separators = st.sampled_from([" ", ", ", "-", "_", "!", "", "\t", "\u00a0"])
_texts = st.lists(st.tuples(_pieces, _separators), max_size=6).map(
    lambda parts: " " + "".join(p + sep for p, sep in parts)
)
messages = st.fixed_dictionaries(
    {"id": st.just("m")},
    optional={
        "channel": st.one_of(st.sampled_from(CHANNELS), st.integers(0, 2)),
        "lang": st.sampled_from(["en", "de", "fr"]),
        "text": st.one_of(_texts, _texts, st.integers(0, 3)),
        "n": st.integers(0, 5),
    },
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(conditions(), min_size=1, max_size=8),
    batch=st.lists(messages, min_size=1, max_size=6),
)
def test_indexed_and_brute_force_agree(rules: list[str], batch: list[dict[str, Any]]) -> None:
    text = HEADER + "\n".join(
        f'rule r{i} {{ when {condition} then tag "r{i}" }}' for i, condition in enumerate(rules)
    )
    bundle = sf.loads(text, "formulations.sf")
    programs = [sf.cel.compile(c, backend="interpreted") for c in rules]
    for message in batch:
        decision = bundle.triage(message, NOW)
        brute = []
        for i, program in enumerate(programs):
            try:
                ok = program.evaluate({"msg": message, "now": NOW})
            except sf.EvalError:
                ok = False
            if ok is True:
                brute.append(f"r{i}")
        assert list(decision.matched) == brute, (rules, message)


def test_every_formulation_of_one_rule_is_indexed() -> None:
    shapes = [
        'msg.text.containsAny([" refund ", " broken "])',
        'msg.text.contains(" refund ") || msg.text.contains(" broken ")',
        'msg.text.containsAnyWord(["refund", "broken"])',
        'msg.text.containsWord("refund") || msg.text.containsWord("broken")',
        'msg.text.lowerAscii().contains("refund") || msg.text.lowerAscii().contains("broken")',
    ]
    for shape in shapes:
        for condition in (f'msg.lang == "en" && ({shape})', f'({shape}) && msg.lang == "en"'):
            bundle = sf.loads(REQUIRED + f"rule r {{ when {condition} then route q }}", "one.sf")
            keys = bundle.engine.index.explain(0)
            assert any(k.startswith("text: ") for k in keys), (condition, keys)
            if "lowerAscii" not in shape:
                assert any(k.startswith("text: ") and k.endswith("(decides)") for k in keys)
            assert "lang: value (decides)" in keys, (condition, keys)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keywords=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3, unique=True),
        min_size=1,
        max_size=6,
    ),
    texts=st.lists(_texts, min_size=1, max_size=8),
)
def test_the_whole_word_index_agrees_with_contains_word(
    keywords: list[list[str]], texts: list[str]
) -> None:
    # whole words only, so every hit or miss is the whole-word index's own doing
    rules = [f"msg.text.containsAnyWord([{', '.join(_lit(w) for w in ws)}])" for ws in keywords]
    text = HEADER.replace("text?:", "text:") + "\n".join(
        f'rule r{i} {{ when {condition} then tag "r{i}" }}' for i, condition in enumerate(rules)
    )
    bundle = sf.loads(text, "words.sf")
    for hay in texts:
        decision = bundle.triage({"id": "m", "text": hay}, NOW)
        folded = hay.casefold()
        brute = [
            f"r{i}"
            for i, ws in enumerate(keywords)
            if any(_whole_word(folded, w.casefold()) for w in ws)
        ]
        assert list(decision.matched) == brute, (keywords, hay)


def _whole_word(hay: str, word: str) -> bool:
    """An independent statement of whole-word search: the word occurs with a
    non-word character (or the text's end) on each side where it starts or ends
    with a word character."""

    def is_word(ch: str) -> bool:
        return ch.isalnum() or ch == "_"

    for start in range(len(hay) - len(word) + 1):
        if hay[start : start + len(word)] != word:
            continue
        end = start + len(word)
        left_ok = not is_word(word[0]) or start == 0 or not is_word(hay[start - 1])
        right_ok = not is_word(word[-1]) or end == len(hay) or not is_word(hay[end])
        if left_ok and right_ok:
            return True
    return False
