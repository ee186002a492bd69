"""``personalize guardrails``: status, and pausing and resuming by hand, on a SQLite store."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from personalize.guardrails.cli import guardrails_group
from personalize.guardrails.experience import ExperienceMonitor
from personalize.rules import load_rules
from personalize.store import make_store
from personalize.store.base import Store

RULES = """
site: {timezone: UTC, consent_required: false}
slots:
  promo:
    default: promo-calm
    variants:
      - {id: promo-calm, tags: [calm], html: "<p>Free shipping</p>"}
      - {id: promo-push, tags: [promo, urgent], html: "<p>Only 2 left!</p>"}
      - {id: promo-bundle, tags: [upsell], html: "<p>Save 15 %</p>"}
objectives:
  promo: {conversion: 4, complaint: -15, feedback_negative: -4}
guardrails:
  holdout: {share: 0.1, salt: test}
  experience_monitor: {signals: [complaint], alpha: 0.05, min_exposures: 50, harm_ratio: 1.5}
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(textwrap.dedent(RULES), encoding="utf-8")
    return directory


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/personalize.db"
    make_store(url).close()  # the commands refuse to create a database
    return url


def invoke(store_url: str, rules_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(guardrails_group, [*args, "--store", store_url,
                                                 "--rules", str(rules_dir)])


def harmful_traffic(n: int, now: float) -> list[dict[str, Any]]:
    """Exposures of the default and of promo-push; one in five push exposures draws a complaint."""
    records: list[dict[str, Any]] = []
    for i in range(n):
        variant = ("promo-calm", "promo-push")[i % 2]
        records.append({"ts": now + i, "type": "exposure", "visitor": f"{i:032x}",
                        "slot": "promo", "variant": variant})
        if variant == "promo-push" and i % 10 == 1:
            records.append({"ts": now + i + 0.5, "type": "complaint", "visitor": f"{i:032x}",
                            "slot": "promo", "variant": variant, "signal": "complaint"})
    return records


def open_store(url: str) -> Store:
    return make_store(url)


def test_pause_then_resume_by_hand(store_url: str, rules_dir: Path) -> None:
    paused = invoke(store_url, rules_dir, "pause", "promo", "promo-push",
                    "--reason", "fake   scarcity", "--by", "anna")
    assert paused.exit_code == 0, paused.output
    assert paused.output == "paused promo-push in slot promo (by anna): fake scarcity\n"
    store = open_store(store_url)
    doc = store.get_state("pause:promo:promo-push")
    store.close()
    assert doc is not None
    assert (doc["by"], doc["reason"], doc["auto"]) == ("anna", "fake scarcity", False)

    resumed = invoke(store_url, rules_dir, "resume", "promo", "promo-push", "--by", "bob")
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith("resumed promo-push in slot promo (by bob)")
    store = open_store(store_url)
    assert store.get_state("pause:promo:promo-push") is None
    lifted = store.get_state("resumed:promo:promo-push")
    store.close()
    assert lifted is not None
    assert (lifted["by"], lifted["pause"]["reason"]) == ("bob", "fake scarcity")


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("resume", "promo", "promo-push", "--by", "bob"), "is not paused",
                 id="resume-not-paused"),
    pytest.param(("resume", "promo", "promo-nope", "--by", "bob"),
                 "slot 'promo' has no variant 'promo-nope'", id="resume-unknown-variant"),
    pytest.param(("pause", "promo", "promo-nope", "--reason", "x", "--by", "anna"),
                 "slot 'promo' has no variant 'promo-nope'", id="pause-unknown-variant"),
    pytest.param(("pause", "hero", "promo-push", "--reason", "x", "--by", "anna"),
                 "no slot named 'hero'", id="pause-unknown-slot"),
    pytest.param(("pause", "promo", "promo-calm", "--reason", "x", "--by", "anna"),
                 "is the default of slot 'promo'", id="pause-the-default"),
])
def test_refusals_exit_1_with_a_message(store_url: str, rules_dir: Path, args: tuple[str, ...],
                                        message: str) -> None:
    result = invoke(store_url, rules_dir, *args)
    assert result.exit_code == 1
    assert message in result.output
    store = open_store(store_url)
    assert store.list_state("pause:") == {}
    assert store.list_state("resumed:") == {}
    store.close()


def test_a_second_pause_keeps_the_first(store_url: str, rules_dir: Path) -> None:
    assert invoke(store_url, rules_dir, "pause", "promo", "promo-push", "--reason", "first",
                  "--by", "anna").exit_code == 0
    again = invoke(store_url, rules_dir, "pause", "promo", "promo-push", "--reason", "second",
                   "--by", "bob")
    assert again.exit_code == 1
    assert "already paused" in again.output
    store = open_store(store_url)
    assert store.get_state("pause:promo:promo-push")["reason"] == "first"  # type: ignore[index]
    store.close()


@pytest.mark.parametrize("args", [
    pytest.param(("pause", "promo", "promo-push", "--reason", "  ", "--by", "anna"), id="reason"),
    pytest.param(("pause", "promo", "promo-push", "--reason", "why", "--by", " "), id="by"),
    pytest.param(("pause", "promo", "promo-push", "--by", "anna"), id="missing-reason"),
])
def test_blank_or_missing_options_are_usage_errors(store_url: str, rules_dir: Path,
                                                   args: tuple[str, ...]) -> None:
    assert invoke(store_url, rules_dir, *args).exit_code == 2


def test_status_lists_settings_rates_and_paused_variants_with_evidence(
        store_url: str, rules_dir: Path) -> None:
    now = time.time() - 3600
    store = open_store(store_url)
    store.append(harmful_traffic(400, now))
    store.flush()
    monitor = ExperienceMonitor(load_rules(rules_dir).guardrails.experience_monitor, store,
                                slots=load_rules(rules_dir).slots, clock=lambda: now + 500)
    for record in store.read_log():
        monitor.observe(record)  # as a serving worker would: it pauses promo-push
    store.close()
    assert invoke(store_url, rules_dir, "pause", "promo", "promo-bundle", "--reason",
                  "legal review", "--by", "anna").exit_code == 0

    result = invoke(store_url, rules_dir, "status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = [g["name"] for g in data["guardrails"]]
    assert names[:4] == ["consent", "bots", "holdout", "experience_monitor"]
    reports = {g["name"]: g["report"] for g in data["guardrails"]}
    assert reports["holdout"]["share"] == 0.1
    rates = reports["experience_monitor"]["rates"]
    assert rates["promo:promo-push"] == {"exposures": 200, "complaint": 0.2}
    assert rates["promo:promo-calm"] == {"exposures": 200, "complaint": 0.0}
    paused = {doc["variant"]: doc for doc in data["paused"]}
    assert set(paused) == {"promo-push", "promo-bundle"}
    assert paused["promo-push"]["auto"] is True
    assert paused["promo-push"]["evidence"]["default_exposures"] >= 50
    assert paused["promo-bundle"]["reason"] == "legal review"

    text = invoke(store_url, rules_dir, "status").output
    assert "promo / promo-push: complaints at" in text
    assert "evidence: " in text
    assert "promo / promo-bundle: legal review" in text


def test_status_only_reads_even_when_the_log_shows_harm(store_url: str,
                                                        rules_dir: Path) -> None:
    store = open_store(store_url)
    store.append(harmful_traffic(400, time.time() - 3600))
    store.close()
    result = invoke(store_url, rules_dir, "status", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["paused"] == []
    monitor = next(g["report"] for g in data["guardrails"] if g["name"] == "experience_monitor")
    assert monitor["enabled"] is True
    assert monitor["rates"]["promo:promo-push"]["exposures"] == 200
    store = open_store(store_url)
    assert store.list_state("pause:") == {}
    store.close()


def test_a_store_that_does_not_exist_is_a_usage_error(tmp_path: Path, rules_dir: Path) -> None:
    result = invoke(f"sqlite:///{tmp_path}/missing.db", rules_dir, "status")
    assert result.exit_code == 2
    assert "no database file" in result.output


def test_broken_rules_exit_1(store_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rules.yaml").write_text("slots: {promo: {variants: []}}\n", encoding="utf-8")
    result = invoke(store_url, broken, "status")
    assert result.exit_code == 1
    assert "not usable" in result.output


def test_status_lists_the_variants_still_ramping_up(store_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "ramp-rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(textwrap.dedent(RULES).replace(
        "harm_ratio: 1.5}", "harm_ratio: 1.5,\n                       "
        "ramp_up: {share: 0.2, exposures: 150}}"), encoding="utf-8")
    store = open_store(store_url)
    store.append(harmful_traffic(400, time.time() - 3600))  # 200 of promo-push, none of bundle
    store.close()
    result = invoke(store_url, directory, "status", "--json")
    assert result.exit_code == 0, result.output
    monitor = next(g["report"] for g in json.loads(result.output)["guardrails"]
                   if g["name"] == "experience_monitor")
    assert monitor["ramp_up"]["variants"] == ["promo:promo-bundle"]
    assert json.loads(result.output)["paused"] == []  # still only a reader
