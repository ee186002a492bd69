"""Stickiness keeps a slot's variant within the visit, or for the visitor."""

from __future__ import annotations

import pytest

from personalize.exceptions import ConfigError
from personalize.guardrails.stickiness import Stickiness
from tests.guardrails.guardrail_kit import (
    DAY,
    HOUR,
    NOW,
    candidates,
    context,
    exposure,
    outcome,
    settings,
    slot,
)

STARTED = NOW - HOUR


@pytest.mark.parametrize(
    ("scope", "last", "eligible", "kept", "text"),
    [
        pytest.param("visit", ("sale", NOW - 600), None, "sale",
                     "Kept 'Big sale' so the page stays consistent during your visit.",
                     id="visit-same-visit"),
        pytest.param("visit", ("sale", STARTED - 60), None, None, None,
                     id="visit-earlier-visit"),
        pytest.param("visitor", ("sale", NOW - 30 * DAY), None, "sale",
                     "Kept 'Big sale' so the page stays consistent from one visit to the next.",
                     id="visitor-any-time"),
        pytest.param("none", ("sale", NOW - 600), None, None, None, id="none"),
        pytest.param("visit", ("sale", NOW - 600), ["calm", "gold"], None, None,
                     id="no-longer-eligible"),
        pytest.param("visit", None, None, None, None, id="never-shown"),
    ],
)
def test_stickiness(scope: str, last: tuple[str, float] | None, eligible: list[str] | None,
                    kept: str | None, text: str | None) -> None:
    hero = slot()
    work = candidates(hero)
    if eligible is not None:
        work.eligible = eligible
    guard = Stickiness(settings(scope=scope))
    guard.before(context(visit_started=STARTED, last_shown={"hero": last} if last else {}),
                 outcome(hero), work)
    assert work.forced == kept
    assert work.learn is (kept is None)
    assert [r.text for r in work.reasons] == ([text] if text else [])
    if kept:
        assert work.forced_source == "guardrail"
    assert guard.report()["kept"] == int(kept is not None)


def test_same_slot_earlier_on_this_request_wins() -> None:
    hero = slot()
    work = candidates(hero, shown=(exposure("gold", NOW),))
    Stickiness(settings(scope="visit")).before(
        context(last_shown={"hero": ("sale", NOW - 60)}), outcome(hero), work)
    assert work.forced == "gold"


def test_an_earlier_force_is_not_overridden() -> None:
    hero = slot()
    work = candidates(hero)
    work.force("calm", "holdout", "held out", source="holdout")
    Stickiness(settings(scope="visitor")).before(
        context(last_shown={"hero": ("sale", NOW - 60)}), outcome(hero), work)
    assert (work.forced, work.forced_source, work.learn) == ("calm", "holdout", True)


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(ConfigError, match="visit, visitor, none"):
        Stickiness(settings(scope="session"))
