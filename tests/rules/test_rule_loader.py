"""Loading rule files: safe YAML with positions, merging, building, versions."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from personalize.exceptions import RuleSetError
from personalize.rules import load_rules, load_texts
from personalize.rules.guardrail_settings import GuardrailSettings
from personalize.rules.source import MAX_DEPTH, parse_document
from tests.rules.rule_kit import rules_from

SLOT = """
slots:
  hero:
    default: h0
    variants:
      - {id: h0, html: <p>0</p>}
      - {id: h1, html: <p>1</p>}
objectives:
  hero: {click: 1, bounce: -1}
"""


def _problems(*texts: str) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        rules_from(*texts)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(("text", "data"), [
    pytest.param("a: no", {"a": "no"}, id="no-is-text"),
    pytest.param("a: [yes, off, On]", {"a": ["yes", "off", "On"]}, id="yes-off-are-text"),
    pytest.param("a: [true, False]", {"a": [True, False]}, id="true-false-are-booleans"),
    pytest.param("a: 17:00", {"a": "17:00"}, id="clock-is-text-not-base-60"),
    pytest.param("a: 2026-12-01", {"a": "2026-12-01"}, id="date-stays-text"),
    pytest.param("a: 2026-12-01T08:00:00Z", {"a": "2026-12-01T08:00:00Z"}, id="timestamp-text"),
    pytest.param("a: [1, 1.5, ~, '3']", {"a": [1, 1.5, None, "3"]}, id="numbers-null-quoted"),
    pytest.param("a: &x {b: 1}\nc: *x", {"a": {"b": 1}, "c": {"b": 1}}, id="aliases"),
    pytest.param("", {}, id="empty-file"),
])
def test_yaml_values(text: str, data: object) -> None:
    doc, problems = parse_document("f.yaml", text)
    assert problems == []
    assert doc.data == data


@pytest.mark.parametrize(("text", "message"), [
    pytest.param("a: !!python/object/apply:os.system [ls]", "1:4: the YAML tag "
                 "!!python/object/apply:os.system is not allowed", id="python-tag"),
    pytest.param("a: !!int 'x'", "1:4: the YAML tag !!int is not allowed", id="explicit-int"),
    pytest.param("a: !!binary aGk=", "the YAML tag !!binary is not allowed", id="binary"),
    pytest.param("a: !custom x", "the YAML tag !custom is not allowed", id="local-tag"),
    pytest.param("a: 1\nb: 2\na: 3", "3:1: duplicate key 'a' (first written on line 1)",
                 id="duplicate-key"),
    pytest.param("base: &b {x: 1}\nc:\n  <<: *b", "3:3: YAML merge keys (<<) are not supported",
                 id="merge-key"),
    pytest.param("1: a", "1:1: expected a text key, got '1'; put it in quotes", id="number-key"),
    pytest.param("a: [b", "YAML syntax", id="syntax"),
    pytest.param("---\na: 1\n---\nb: 2", "expected a single document", id="two-documents"),
    pytest.param("a:\n\t- b", "YAML indents with spaces, not tabs", id="tab"),
])
def test_yaml_refusals(text: str, message: str) -> None:
    _, problems = parse_document("f.yaml", text)
    assert any(message in str(p) for p in problems), [str(p) for p in problems]


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    doc, problems = parse_document("bomb.yaml", "\n".join(lines))
    assert doc.data == {}
    assert "expands (through aliases) to more than" in str(problems[0])


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)
    _, problems = parse_document("deep.yaml", text)
    assert "nests deeper than" in str(problems[0])


def test_positions_are_recorded() -> None:
    doc, _ = parse_document("f.yaml", "slots:\n  hero:\n    default:   h0\n")
    assert doc.where(("slots", "hero", "default")) == (3, 16)
    assert doc.where(("slots", "hero", "default"), key=True) == (3, 5)
    assert doc.where(("slots", "hero", "missing", 3)) == (3, 5)


def test_top_level_must_be_a_mapping() -> None:
    assert _problems("- slots") == ["00.yaml:1:1: the file: expected a mapping, got a list"]


def test_unknown_section_suggests() -> None:
    assert _problems(SLOT, "rule:\n  - {name: a, then: {show: h1}}") == [
        "01.yaml:1:1: the file: unknown key 'rule'; did you mean 'rules'?"]


def test_malformed_rules_beside_good_ones_are_reported_not_crashed_on() -> None:
    problems = _problems(SLOT, """
      rules:
        - {name: [a, list], then: {show: h1}}
        - {name: fine, then: {show: h1}}
        - fine
        - {name: fine, then: {show: h0}}
    """)
    assert problems == [
        "01.yaml:3:12: rules[0].name: expected text, got a list",
        "01.yaml:5:5: rules[2]: expected a mapping, got 'fine'",
        "01.yaml:6:12: rule name 'fine' is already used in 01.yaml on line 4; names are unique",
    ]


def test_sections_merge_across_files_in_order() -> None:
    rules = rules_from(SLOT, "rules:\n  - {name: b, priority: 1, then: {show: h1}}",
                       "rules:\n  - {name: a, priority: 1, then: {exclude: [h1]}}")
    assert [r.name for r in rules.rules] == ["b", "a"]
    assert [r.file for r in rules.rules] == ["01.yaml", "02.yaml"]
    assert rules.files == ("00.yaml", "01.yaml", "02.yaml")


def test_slots_carry_policy_weights_and_objective() -> None:
    rules = rules_from("""
      slots:
        cta:
          default: a
          policy: split
          weights: {a: 3, b: 1}
          variants: [{id: a, key: k.a, tags: [calm]}, {id: b, template: t/b.html}]
      objectives:
        cta: {conversion: 5, complaint: -10}
    """)
    cta = rules.slots["cta"]
    assert (cta.policy, cta.weights, cta.objective) == ("split", {"a": 3, "b": 1},
                                                        {"conversion": 5.0, "complaint": -10.0})
    assert cta.variants["a"].key == "k.a" and cta.variants["a"].tags == {"calm"}
    assert cta.variants["b"].template == "t/b.html"


def test_site_section_becomes_site_settings() -> None:
    rules = rules_from(SLOT, """
      site:
        timezone: Europe/Helsinki
        languages: [fi, en, sv]
        business_hours: {days: [mon, sat], opens: "9:30", closes: 17:00}
        dayparts: {morning: "05:00", night: "23:00"}
        consent_cookie: ok
        consent_required: true
        visit_timeout_minutes: 45
        internal_hosts: [shop.example]
    """)
    site = rules.site
    assert site.timezone == "Europe/Helsinki" and site.languages == ("fi", "en", "sv")
    hours = site.business_hours
    assert (hours.days, hours.opens, hours.closes) == ({"mon", "sat"}, time(9, 30), time(17))
    assert (site.dayparts.morning, site.dayparts.night) == (time(5), time(23))
    assert (site.consent_cookie, site.consent_required) == ("ok", True)
    assert (site.visit_timeout_minutes, site.internal_hosts) == (45, ("shop.example",))


def test_dayparts_must_be_in_order() -> None:
    assert _problems(SLOT, "site:\n  dayparts: {evening: '23:00', night: '22:00'}") == [
        "01.yaml:2:13: site.dayparts: expected morning < afternoon < evening < night, got "
        "morning 06:00, afternoon 12:00, evening 23:00, night 22:00"]


def test_guardrails_default_when_absent() -> None:
    assert rules_from(SLOT).guardrails == GuardrailSettings()


@pytest.mark.parametrize(("written", "expected"), [
    pytest.param("2026-12-01", datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/Helsinki")),
                 id="date-is-midnight-in-site-zone"),
    pytest.param("2026-12-01T08:30", datetime(2026, 12, 1, 8, 30,
                                              tzinfo=ZoneInfo("Europe/Helsinki")),
                 id="naive-is-site-zone"),
    pytest.param("2026-12-01T08:30:00Z", datetime(2026, 12, 1, 10, 30,
                                                  tzinfo=ZoneInfo("Europe/Helsinki")),
                 id="utc"),
    pytest.param("2026-12-01 08:30+05:00", datetime(2026, 12, 1, 5, 30,
                                                    tzinfo=ZoneInfo("Europe/Helsinki")),
                 id="offset"),
])
def test_schedule_times(written: str, expected: datetime) -> None:
    rules = rules_from("site: {timezone: Europe/Helsinki}", SLOT,
                       f"rules:\n  - {{name: a, schedule: {{start: '{written}'}}, "
                       "then: {show: h1}}")
    assert rules.rules[0].schedule is not None
    assert rules.rules[0].schedule.start == expected


def test_expired_schedule_is_a_warning() -> None:
    rules = rules_from(SLOT, "rules:\n  - {name: old, schedule: {end: 2020-01-01}, "
                             "then: {show: h1}}", now=datetime(2026, 1, 1).astimezone())
    assert [w.message for w in rules.warnings] == [
        "rule 'old': its schedule ended 2020-01-01 00:00, so it will not match again"]
    assert rules.warnings[0].severity == "warning"


def test_rule_set_error_lists_errors_and_keeps_warnings() -> None:
    with pytest.raises(RuleSetError) as caught:
        rules_from(SLOT, "segments: {unused: {}}\nrules:\n  - {name: a, then: {show: h9}}")
    severities = [p.severity for p in caught.value.problems]
    assert severities == ["warning", "error"]
    assert str(caught.value) == ("1 error(s) in the rule files:\n01.yaml:3:28: "
                                 "rules[0].then.show: unknown variant 'h9'")


def test_version_is_a_content_hash() -> None:
    one = rules_from(SLOT)
    assert one.version == rules_from(SLOT).version and len(one.version) == 12
    assert rules_from(SLOT + "\n# a comment").version != one.version
    assert one.loaded_at > 0


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_load_rules_reads_yaml_files_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path, {"20-b.yaml": "rules:\n  - {name: b, then: {show: h1}}",
                      "10-a.yaml": SLOT, "sub/30-c.yaml": "rules:\n  - {name: c, "
                      "priority: -1, then: {exclude: [h1]}}",
                      ".hidden.yaml": "not: [valid", ".git/x.yaml": "nor: [this",
                      "notes.txt": "ignored"})
    rules = load_rules(tmp_path)
    assert [Path(f).name for f in rules.files] == ["10-a.yaml", "20-b.yaml", "30-c.yaml"]
    assert [r.name for r in rules.rules] == ["b", "c"]


def test_yml_files_are_ignored_with_a_warning(tmp_path: Path) -> None:
    _write(tmp_path, {"10-a.yaml": SLOT, "20-b.yml": "rules: []"})
    rules = load_rules(tmp_path)
    assert [w.message for w in rules.warnings] == ["ignored: rule files end in .yaml"]


@pytest.mark.parametrize(("files", "message"), [
    pytest.param({}, "no *.yaml rule files here", id="empty-directory"),
    pytest.param({"a.yaml": "slots: {}"}, "", id="no-slots-is-only-a-warning"),
])
def test_load_rules_edge_directories(tmp_path: Path, files: dict[str, str],
                                     message: str) -> None:
    _write(tmp_path, files)
    if message:
        with pytest.raises(RuleSetError, match=message.replace("*", r"\*")):
            load_rules(tmp_path)
    else:
        assert "no slots are defined" in load_rules(tmp_path).warnings[0].message


def test_load_rules_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(RuleSetError, match="expected a directory of"):
        load_rules(tmp_path / "nope")


def test_load_rules_refuses_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"slots: {}\n# caf\xe9\n")
    with pytest.raises(RuleSetError, match="expected UTF-8 text"):
        load_rules(tmp_path)


def test_too_large_file_is_refused() -> None:
    with pytest.raises(RuleSetError, match="file is larger than"):
        load_texts({"big.yaml": "# " + "x" * 1_000_001})
