"""``personalize report`` against a SQLite store the engine filled."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from personalize.store import make_store
from personalize.web.review.cli import report_command
from tests.review.review_kit import RULES, Clock, make_engine, simulate


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "personalize.db"
    clock = Clock(time.time() - 2 * 86400)  # recent, so the default 14 days cover it
    engine = make_engine(f"sqlite:///{path}", clock)
    simulate(engine, clock, visitors=60, seed=11, step=1200)
    engine.close()
    return path


def logged(db: Path) -> Counter[tuple[str, str]]:
    store = make_store(f"sqlite:///{db}")
    try:
        return Counter((r["slot"], r["variant"]) for r in store.read_log(types=["exposure"]))
    finally:
        store.close()


def test_json_report_matches_the_log(db: Path) -> None:
    result = CliRunner().invoke(report_command, ["--store", f"sqlite:///{db}", "--rules",
                                                 str(RULES), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    counts = logged(db)
    assert list(data["slots"]) == ["hero", "cta", "promo"]
    for slot, entry in data["slots"].items():
        assert entry["exposures"] == sum(n for (s, _), n in counts.items() if s == slot)
        assert {v["variant"]: v["exposures"] for v in entry["variants"]} == {
            v: counts[(slot, v)] for v in (x["variant"] for x in entry["variants"])}
        assert "holdout" in entry and "evaluation" in entry
    hero = data["slots"]["hero"]["evaluation"]
    assert set(hero["policies"]) == {"default", "uniform", "rules", "bandit"}
    assert set(data["slots"]["cta"]["evaluation"]["policies"]) == {
        "default", "uniform", "rules", "split"}
    assert data["slots"]["cta"]["split"]["srm"] in (True, False)


def test_text_report(db: Path) -> None:
    result = CliRunner().invoke(report_command, ["--store", f"sqlite:///{db}", "--rules",
                                                 str(RULES), "--no-evaluate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("personalize report")
    for line in ("slot hero  (bandit,", "slot cta  (split,", "holdout lift:", "split:"):
        assert line in result.output
    assert "offline evaluation" not in result.output


def test_a_period_without_traffic(db: Path) -> None:
    result = CliRunner().invoke(report_command, ["--store", "memory://", "--rules", str(RULES)])
    assert result.exit_code == 0, result.output
    assert "slot hero  (bandit, 0 exposures)" in result.output
    assert "offline evaluation: 0 usable logged decisions" in result.output


def test_a_bad_store_url_is_a_clean_error() -> None:
    result = CliRunner().invoke(report_command, ["--store", "ftp://x", "--rules", str(RULES)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "ftp://x" in result.output
