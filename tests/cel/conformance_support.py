"""Shared pieces of the CEL conformance suite: locating the data, decoding the
JSON value encoding, comparing results under CEL semantics, and the list of
expected failures.  Used by ``test_conformance.py`` and ``conformance_score.py``."""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

import socialflow as sf

#: ``needs`` tags that take a test out of the core subset.
NON_CORE = frozenset(
    {"proto", "uint", "bytes", "containers", "qualified_names", "unknowns", "check_only"}
)
HERE = Path(__file__).resolve().parent
EXPECTED_FAILURES_FILE = HERE / "conformance_expected_failures.txt"
#: The JSON files vendored from google/cel-spec (see ``LICENSE-NOTICE.md`` there).
VENDORED_DATA = HERE / "conformance_data"


def data_dir() -> Path | None:
    """The vendored ``conformance_data/``, else ``$SOCIALFLOW_CEL_CONFORMANCE``, else
    ``../shared/cel-conformance`` beside the repo."""
    candidates = [VENDORED_DATA]
    env = os.environ.get("SOCIALFLOW_CEL_CONFORMANCE")
    if env:
        candidates.append(Path(env))
    candidates.append(HERE.parents[2] / "shared" / "cel-conformance")
    for path in candidates:
        if (path / "index.json").is_file():
            return path
    return None


@attrs.frozen
class Case:
    id: str
    expr: str
    bindings: dict[str, Any]
    expect: dict[str, Any]
    needs: frozenset[str]
    declarations: dict[str, str] | None

    @property
    def core(self) -> bool:
        return not self.needs & NON_CORE


def cases(directory: Path) -> Iterator[Case]:
    for path in sorted(directory.glob("*.json")):
        if path.name == "index.json":
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for section in data["sections"]:
            for test in section["tests"]:
                yield Case(
                    id=f"{path.stem}/{section['name']}/{test['name']}",
                    expr=test["expr"],
                    bindings=test.get("bindings") or {},
                    expect=test["expect"],
                    needs=frozenset(test["needs"]),
                    declarations=None if test.get("disable_check") else _declarations(test),
                )


_PRIMITIVES = {
    "INT64": "int",
    "UINT64": "uint",
    "DOUBLE": "double",
    "BOOL": "bool",
    "STRING": "string",
    "BYTES": "bytes",
}


def _type_text(t: dict[str, Any]) -> str:
    if "primitive" in t:
        return _PRIMITIVES.get(t["primitive"], "dyn")
    if "list_type" in t:
        return f"list({_type_text(t['list_type'].get('elem_type', {}))})"
    if "map_type" in t:
        m = t["map_type"]
        return f"map({_type_text(m.get('key_type', {}))}, {_type_text(m.get('value_type', {}))})"
    if t.get("well_known") == "TIMESTAMP":
        return "timestamp"
    if t.get("well_known") == "DURATION":
        return "duration"
    if "null" in t:
        return "null_type"
    return "dyn"


def _declarations(test: dict[str, Any]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for decl in test.get("type_env") or []:
        ident = decl.get("ident")
        if ident is not None:
            out[decl["name"]] = _type_text(ident.get("type", {}))
    return out or None


def decode(value: dict[str, Any]) -> Any:
    """A tagged JSON value -> the Python value socialflow uses for it."""
    ((tag, raw),) = value.items()
    if tag == "int":
        return int(raw)
    if tag == "uint":
        return sf.cel.UInt(int(raw))
    if tag == "double":
        return float(raw)
    if tag in ("string", "bool"):
        return raw
    if tag == "bytes_b64":
        return base64.b64decode(raw)
    if tag == "null":
        return None
    if tag == "list":
        return [decode(v) for v in raw]
    if tag == "map":
        return {decode(k): decode(v) for k, v in raw}
    if tag == "type":
        return sf.cel.Type(raw)
    if tag == "duration":
        return sf.cel.parse_duration(raw)
    if tag == "timestamp":
        return sf.cel.parse_timestamp(raw)
    raise ValueError(f"cannot decode a `{tag}` value")


def same(got: Any, want: Any) -> bool:
    """Equal under CEL semantics, with exact CEL types (bool is not int, int is not uint)."""
    if isinstance(want, (list, tuple)):
        return (
            isinstance(got, (list, tuple))
            and len(got) == len(want)
            and all(same(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, dict):
        if not isinstance(got, dict) or len(got) != len(want):
            return False
        keyed = {(type(k), k): v for k, v in got.items()}
        return all((type(k), k) in keyed and same(keyed[(type(k), k)], v) for k, v in want.items())
    if isinstance(want, datetime):
        return isinstance(got, datetime) and got == want
    if isinstance(want, timedelta):
        return isinstance(got, timedelta) and got == want
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return (math.isnan(got) and math.isnan(want)) or got == want
    return bool(got == want)


def expected_failures() -> dict[str, str]:
    """``id -> reason`` from the expected-failures file (``id  # reason`` per line)."""
    out: dict[str, str] = {}
    if not EXPECTED_FAILURES_FILE.is_file():
        return out
    for line in EXPECTED_FAILURES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        test_id, _, reason = line.partition("#")
        out[test_id.strip()] = reason.strip()
    return out


def run(case: Case, backend: str) -> tuple[bool, str]:
    """Run one case; ``(passed, detail)``."""
    if "proto" in case.needs:
        return False, "protobuf messages are out of scope"
    try:
        activation = {k: decode(v.get("value", v)) for k, v in case.bindings.items()}
        program = sf.cel.compile(case.expr, case.declarations, backend=backend)  # type: ignore[arg-type]
    except sf.CheckError as e:
        if "eval_error" in case.expect and case.declarations is not None:
            return True, "check error where an error was expected"
        return False, f"check error: {e.diagnostics[0].message}"
    except sf.ParseError as e:
        return False, f"parse error: {e.diagnostics[0].message}"
    try:
        result = program.evaluate(activation)
    except sf.EvalError as e:
        if "eval_error" in case.expect:
            return True, f"error {e.kind}"
        return False, f"unexpected error {e.kind}: {e.message}"
    if "value" not in case.expect:
        return False, f"got {result!r}, expected an error"
    want = decode(case.expect["value"])
    return (same(result, want), f"got {result!r}, want {want!r}")
