"""The condition language's specification: every case of condition_cases.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personalize.rules.conditions import Condition, ConditionCompiler

CASES = json.loads((Path(__file__).parent / "condition_cases.json").read_text(encoding="utf-8"))


def _compiler() -> ConditionCompiler:
    raw: dict[str, Any] = CASES["segments"]
    compiled: dict[str, Condition] = {}

    def lookup(name: str) -> Condition:
        if name not in compiled:
            inner = ConditionCompiler(lookup, raw)
            compiled[name] = inner.compile(raw[name])
            assert not inner.problems, inner.problems
        return compiled[name]

    return ConditionCompiler(lookup, raw)


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES["match"]])
def test_match_case(case: dict[str, Any]) -> None:
    compiler = _compiler()
    condition = compiler.compile(case["condition"])
    assert compiler.problems == []
    assert condition.test(case["context"]) is case["expected"]
    matched, why = condition.why(case["context"])
    assert matched is case["expected"], "why() must agree with test()"
    if "why" in case:
        assert why == case["why"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES["errors"]])
def test_error_case(case: dict[str, Any]) -> None:
    compiler = _compiler()
    compiler.compile(case["condition"])
    assert len(compiler.problems) == 1, compiler.problems
    problem = compiler.problems[0]
    assert case["error"] in problem.message
    assert list(problem.path) == case["path"]


def test_case_ids_are_unique() -> None:
    ids = [c["id"] for c in CASES["match"] + CASES["errors"]]
    assert len(ids) == len(set(ids))


def test_every_operator_has_a_case() -> None:
    written = json.dumps(CASES["match"])
    for operator in ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists",
                     "$regex", "$options", "$glob", "$and", "$or", "$not", "segment"):
        assert f'"{operator}"' in written, operator
