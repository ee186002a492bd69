"""Rule regexes cannot be turned against the site (ReDoS).

``$regex`` and ``$glob`` run on RE2, which matches in time linear in the input.
The evidence here does not rest on a stopwatch: RE2 refuses what only a
backtracking engine can do (back-references), a catastrophic pattern that
Python's backtracking ``re`` cannot finish on a 40-character input in a
subprocess is evaluated on 100 KB inputs, and a rule with that pattern serves
pages normally.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from personalize.exceptions import RuleSetError
from personalize.rules import load_texts
from personalize.rules.conditions import ConditionCompiler
from tests.badinput.demo_kit import make_demo

CATASTROPHIC = ["(a+)+$", "(a|aa)+$", "(a*)*b", "^(([a-z])+.)+[A-Z]([a-z])+$", "(.*a){12}"]
ROOT = Path(__file__).resolve().parents[2]


def test_rule_regexes_are_compiled_by_re2_not_a_backtracking_engine() -> None:
    """A back-reference compiles in Python's re but not in RE2: the loader refuses it."""
    pattern = r"^(a+)\1$"
    re.compile(pattern)
    with pytest.raises(RuleSetError) as caught:
        load_texts({"10.yaml": textwrap.dedent(f"""\
            slots:
              hero:
                default: a
                variants: [{{id: a, html: A}}, {{id: b, html: B}}]
            rules:
              - name: backtracking
                when: {{request.path: {{$regex: '{pattern}'}}}}
                then: {{show: b}}
            """)})
    assert "RE2" in str(caught.value)


@pytest.mark.timeout(120)
def test_python_re_cannot_finish_what_the_rule_engine_finishes() -> None:
    """The same pattern, 40 characters: ``re`` needs ~2^40 steps and is killed after 5 s."""
    script = "import re; re.search(r'(a+)+$', 'a' * 40 + '!')"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", script], timeout=5, check=False)
    condition = ConditionCompiler().compile({"referrer.campaign": {"$regex": "(a+)+$"}})
    assert condition.test({"referrer.campaign": "a" * 40 + "!"}) is False
    assert condition.test({"referrer.campaign": "a" * 40}) is True


@pytest.mark.timeout(120)
@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_on_100_kb_inputs_complete(pattern: str) -> None:
    compiler = ConditionCompiler()
    condition = compiler.compile({"referrer.campaign": {"$regex": pattern},
                                  "history.sections": {"$regex": pattern}})
    assert compiler.problems == []
    for text in ("a" * 100_000 + "!", "a" * 99_999 + "X" + "a"):
        fields = {"referrer.campaign": text, "history.sections": ["guides", text]}
        matched = condition.test(fields)
        explained, why = condition.why(fields)
        assert matched == explained and why
        # the answer is right, not merely fast: RE2 on a slice re can do
        short = text[:24]
        expected = re.search(pattern, short) is not None
        assert ConditionCompiler().compile(
            {"referrer.campaign": {"$regex": pattern}}).test(
            {"referrer.campaign": short}) is expected


@pytest.mark.timeout(120)
def test_a_rule_with_a_catastrophic_pattern_serves_pages(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "90-redos.yaml").write_text(textwrap.dedent("""\
        rules:
          - name: catastrophic-path
            when: {request.path: {$regex: "^/(a+)+$"}}
            then: {slot: hero, show: hero-brew-guide}
        """), encoding="utf-8")
    demo = make_demo(PERSONALIZE_RULES=str(rules))
    # a Tuesday afternoon in Helsinki: the demo pins other heroes mornings and nights
    demo.clock.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
    try:
        pins = {}
        for path in ("/" + "a" * 2000 + "!", "/" + "a" * 2000):
            environ = EnvironBuilder(path=path, headers={"Cookie": "paahtimo_consent=yes"})
            visit = demo.engine.visit(environ.get_environ())
            pins[path[-1]] = demo.engine.ruleset.evaluate(visit.context, "hero").pinned
        assert pins == {"!": None, "a": "hero-brew-guide"}
        page = demo.get("/")
        assert page.status == 200 and page.decisions
        assert not any(k.startswith("fail_open") for k in demo.engine.counters)
    finally:
        demo.engine.store.close()
