"""docs/rules.md documents every field, operator, section and setting, with valid examples."""

from __future__ import annotations

import re

import pytest

from personalize.context.fields import FIELDS
from personalize.rules.guardrail_settings import GUARDRAILS_SCHEMA
from personalize.rules.operators import ALL_OPERATORS
from personalize.rules.schema import SCHEMA
from personalize.rules.source import parse_document
from personalize.rules.validation import schema_problems
from tests.rules.rule_kit import REPO

DOC = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.DOTALL)


def test_every_context_field_is_documented() -> None:
    for name in FIELDS:
        assert f"| `{name}` |" in DOC, name


def test_every_operator_and_action_is_documented() -> None:
    for word in (*ALL_OPERATORS, "$options", "$and", "$or", "$not", "segment", "show",
                 "allow", "exclude", "sensitive", "stage", "slot", "slots", "tag:"):
        assert f"`{word}" in DOC, word


def test_every_section_and_setting_is_documented() -> None:
    for section in SCHEMA["properties"]:
        assert f"## `{section}`" in DOC, section
    for key in SCHEMA["properties"]["site"]["properties"]:
        assert f"`{key}`" in DOC, key
    for name, setting in GUARDRAILS_SCHEMA["properties"].items():
        assert f"  {name}:" in DOC, name
        for key in setting.get("properties", {}):
            assert key in DOC, (name, key)


def test_the_recipes_of_the_issue_are_there() -> None:
    for title in ("Mobile visitors at night", "Returning buyers", "A campaign landing page",
                  "Support pages marked sensitive", "A dated seasonal banner"):
        assert f"**{title}**" in DOC, title


@pytest.mark.parametrize("example", [pytest.param(e, id=f"example-{i}")
                                     for i, e in enumerate(EXAMPLES)])
def test_every_yaml_example_is_valid(example: str) -> None:
    doc, problems = parse_document("example.yaml", example)
    assert problems == []
    shape, _ = schema_problems(doc)
    assert [str(p) for p in shape] == []
