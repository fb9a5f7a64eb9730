"""Outputs are byte-identical under any PYTHONHASHSEED (DESIGN principle 1).

One script exercises every stage — CEL results, error texts and generated
source, DSL diagnostics (every golden file and bundle), layers, triage
decisions and explanations, access answers —
and is run in subprocesses with different hash seeds; the outputs must match.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    r'''
    from datetime import datetime, timezone
    import socialflow as sf

    out = []
    exprs = [
        '{"b": 1, "a": 2, "c": 3}.map(k, k)',
        '{"b": 1, "a": 2}.transformMap(k, v, v * 2)',
        '[3, 1, 2].filter(x, x > 1)',
        '"x" < 1',
        'm.missing',
        '{"a": 1}.all(k, k == "b")',
        'string(1.5e300) + string(-0.000001)',
        'timestamp("2026-03-29T00:30:00Z").getHours("Europe/London")',
    ]
    for e in exprs:
        p = sf.cel.compile(e)
        out.append(p.source())
        try:
            out.append(repr(p.evaluate({"m": {"z": 1, "y": 2}})))
        except sf.EvalError as err:
            out.append(str(err))
    for bad in ["1 +", "a = b", "m.x && ", "{1: 2"]:
        try:
            sf.cel.compile(bad)
        except sf.ParseError as err:
            out.append(str(err))
    try:
        sf.cel.compile("m.sentimnet + 1", declarations={"m": "map(string, int)", "mm": "int"})
    except sf.CheckError as err:
        out.append(str(err))

    rules = """
    ruleset demo hit all
    schema Author { handle: string, followers: int }
    schema Message { id: string, channel: string, text: string, sentiment: double, author: Author }
    input msg: Message
    queue care
    queue pr
    queue unused_queue
    rule press { precedence 10 when msg.author.followers > 1000 then route pr; tag "press", "vip" }
    rule refund { when msg.text.containsAnyWord(["refund", "money back"]) then route care; tag "refund"; set why = {"b": 1, "a": [msg.channel]} }
    rule angry { when msg.sentiment < -0.5 && msg.channel in ["x", "facebook", "twitter"] then priority high; tag "angry", "refund" }
    rule broken { when msg.text.size() / 0 > 1 then tag "never" }
    """
    bundle = sf.loads(rules, "demo.sf")
    out.extend(w.render() for w in bundle.warnings)
    msg = {"id": "m1", "channel": "twitter", "text": "I want my money back", "sentiment": -0.9,
           "author": {"handle": "@a", "followers": 5000}}
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    decision = bundle.triage(msg, now)
    out.append(sf.serde.dumps(decision))
    out.append(str(bundle.explain(msg, now)))

    policy = sf.loads("""
    permission view, draft, publish
    role viewer { view }
    role editor extends viewer { draft, publish }
    forbid publish when resource.kind == "account" && "legal" in principal.groups
    exclusive draft, publish
    """, "policy.sf")
    nodes = [{"id": "hub", "kind": "hub"}] + [
        {"id": f"acct-{i}", "kind": "account", "parent": "hub"} for i in range(5)]
    principals = [{"id": f"u{i}", "groups": ["legal"] if i % 2 else ["care"]} for i in range(6)]
    grants = [{"group": "care", "role": "editor", "scope": "hub"},
              {"principal": "u1", "role": "viewer", "scope": "acct-1"}]
    access = policy.access(nodes=nodes, grants=grants, principals=principals)
    out.append(repr(access.who_can("draft", "acct-2")))
    out.append(repr(access.what_can("u1", "view")))
    out.append(str(access.explain("u1", "publish", "acct-1")))
    out.append(repr(access.violations()))

    # layers, syntax recovery and the newer checks: every diagnostic of the golden
    # bundles and files, and each bureau layer's rules and a decision
    import sys
    from pathlib import Path
    root = Path(sys.argv[1])
    hub = sf.load(root / "examples" / "triage")
    example = {"id": "e1", "channel": "twitter", "kind": "mention", "account": "acct-001",
               "text": "Charged twice, refund now", "lang": "fr", "sentiment": -0.8,
               "author": {"handle": "@guardian", "followers": 9000, "verified": True},
               "received_at": "2026-11-23T22:30:00Z"}
    for name in hub.layers:
        layer = hub.layer(name)
        out.append(repr([(r.name, r.precedence) for r in layer.program.rules]))
        out.append(layer.triage(example, now).to_json())
    golden = root / "tests" / "golden"
    for case in sorted(golden.iterdir()):
        if case.suffix == ".sf" or case.is_dir():
            try:
                sf.load(case)
            except sf.SourceError as err:
                out.append(str(err))
    print("\n".join(out))
    '''
)


def _run(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, root],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_outputs_identical_across_hash_seeds() -> None:
    outputs = {seed: _run(seed) for seed in ("0", "1", "2", "12345")}
    first = outputs["0"]
    assert len(first) > 1000
    for seed, text in outputs.items():
        assert text == first, f"PYTHONHASHSEED={seed} changed the output"
