"""Any rule file at all, however wrong, loads or is refused with RuleSetError; nothing else.

A running site reloads rules as they are edited, so the loader meeting a
half-finished edit must never raise anything but a :class:`RuleSetError`.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalize.exceptions import RuleSetError
from personalize.rules import load_texts
from tests.rules.rule_kit import DEMO_RULES

WORDS = ["site", "slots", "segments", "rules", "objectives", "guardrails", "hero", "promo",
         "default", "variants", "id", "html", "key", "template", "tags", "schedule", "start",
         "end", "policy", "split", "weights", "name", "when", "then", "show", "allow",
         "exclude", "slot", "slots", "sensitive", "stage", "priority", "enabled", "segment",
         "device.type", "history.visits", "request.path", "time.local", "history.sections",
         "$in", "$gt", "$regex", "$glob", "$and", "$or", "$not", "$exists", "$options",
         "timezone", "languages", "business_hours", "opens", "closes", "dayparts", "night",
         "click", "bounce", "exploration", "floor", "cap", "frequency_caps", "variant", "tag",
         "max", "per", "consent", "holdout", "share", "h0", "h1", "tag:promo", "mobile"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 30), st.floats(-1, 2),
                    st.sampled_from(WORDS), st.sampled_from(["2026-12-01", "(a", "09:00",
                                                             "Europe/Helsinki", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(WORDS), inner, max_size=5)), max_leaves=25)
DOCUMENTS = st.dictionaries(st.sampled_from(["site", "slots", "segments", "rules",
                                             "objectives", "guardrails"]),
                            VALUES, max_size=5)
GOOD = yaml.safe_dump({"slots": {"hero": {"default": "h0", "variants": [
    {"id": "h0", "html": "<p>0</p>", "tags": ["promo"]}, {"id": "h1", "key": "k"}]}}})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(DOCUMENTS, min_size=1, max_size=3))
def test_any_document_loads_or_is_refused(documents: list[dict[str, Any]]) -> None:
    texts = {"00.yaml": GOOD}
    texts.update({f"{i + 1:02d}.yaml": yaml.safe_dump(d) for i, d in enumerate(documents)})
    try:
        load_texts(texts)
    except RuleSetError as err:
        assert all(p.line >= 0 and p.message for p in err.problems)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in data.items()}
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(data)]


DEMO = {p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(DEMO_RULES.glob("*.yaml"))}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_edit_of_the_demo_rules_loads_or_is_refused(data: st.DataObject) -> None:
    texts = {}
    for name, document in DEMO.items():
        for _ in range(data.draw(st.integers(0, 2))):
            path = data.draw(st.sampled_from(_paths(document)))
            document = _replace(document, path, data.draw(VALUES))
        texts[name] = yaml.safe_dump(document, allow_unicode=True)
    try:
        load_texts(texts)
    except RuleSetError as err:
        assert all(p.line >= 0 and p.message for p in err.problems)
