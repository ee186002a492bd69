"""`personalize check` and `personalize schema`, and the published schema itself."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from personalize.context.fields import FIELDS
from personalize.rules import SCHEMA
from personalize.rules.cli import check_command, schema_command
from personalize.rules.source import parse_document
from tests.rules.rule_kit import DEMO_RULES

WARNED = """
slots:
  hero:
    default: h0
    variants: [{id: h0, html: <p>0</p>}, {id: h1, html: <p>1</p>}]
segments:
  unused: {time.weekend: true}
objectives:
  hero: {click: 1, bounce: -1}
"""


def test_check_demo_rules_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DEMO_RULES.parent)
    result = CliRunner().invoke(check_command, ["rules"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("rules/: valid — version ")
    assert result.output.count("\n") == 1
    assert "4 files, 6 slots, 23 rules, 6 segments, 0 warnings" in result.output


def test_check_prints_warnings_and_strict_fails_on_them(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(WARNED, encoding="utf-8")
    lenient = CliRunner().invoke(check_command, [str(tmp_path)])
    assert lenient.exit_code == 0
    assert f"{tmp_path}/a.yaml:7:3: warning: segment 'unused' is never used" in lenient.output
    assert "1 warning" in lenient.output.splitlines()[-1]
    strict = CliRunner().invoke(check_command, [str(tmp_path), "--strict"])
    assert strict.exit_code == 1


def test_check_counts_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(WARNED.replace("default: h0", "default: h9"),
                                     encoding="utf-8")
    result = CliRunner().invoke(check_command, [str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"{tmp_path}/: 1 error, 1 warning in 1 file — rejected")


def test_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(schema_command, [])
    assert result.exit_code == 0
    assert json.loads(result.output) == SCHEMA


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    target = tmp_path / "rules.schema.json"
    result = CliRunner().invoke(schema_command, ["-o", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8")) == SCHEMA


def test_published_schema_copy_is_current() -> None:
    """rules/personalize.schema.json is what editors read; regenerate it after a change
    with ``personalize schema -o rules/personalize.schema.json``."""
    published = json.loads((DEMO_RULES / "personalize.schema.json").read_text(encoding="utf-8"))
    assert published == SCHEMA


def test_schema_is_valid_draft_07_and_accepts_the_demo() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft7Validator(SCHEMA)
    for path in sorted(DEMO_RULES.glob("*.yaml")):
        doc, problems = parse_document(str(path), path.read_text(encoding="utf-8"))
        assert problems == [] and doc.data, path
        assert list(validator.iter_errors(doc.data)) == [], path


def test_schema_offers_every_context_field_for_completion() -> None:
    condition = SCHEMA["definitions"]["condition"]["properties"]
    assert set(FIELDS) <= set(condition)
    assert condition["device.type"] == {"$ref": "#/definitions/field:device.type"}
    device = SCHEMA["definitions"]["field:device.type"]
    assert device["anyOf"][0]["enum"] == [*FIELDS["device.type"].values, None]
