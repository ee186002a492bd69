"""Consent and bots: rules-only content, no learning, no exploration."""

from __future__ import annotations

import pytest

from personalize.guardrails.bots import Bots
from personalize.guardrails.consent import ConsentGuard
from tests.guardrails.guardrail_kit import candidates, context, outcome, settings, slot


@pytest.mark.parametrize(
    ("tracking", "reason", "pinned", "forced", "source"),
    [
        pytest.param(False, "dnt", None, "calm", "default", id="dnt-default"),
        pytest.param(False, "gpc", "help", "help", "rule", id="gpc-keeps-rule-pin"),
        pytest.param(False, "cookie", "gone", "calm", "default", id="pin-not-eligible"),
        pytest.param(True, "", "help", None, "guardrail", id="consent-given-no-action"),
    ],
)
def test_consent(tracking: bool, reason: str, pinned: str | None, forced: str | None,
                 source: str) -> None:
    hero = slot()
    ctx = context(tracking=tracking, reason=reason)
    work = candidates(hero)
    guard = ConsentGuard()
    guard.before(ctx, outcome(hero, pinned=pinned), work)
    assert (work.forced, work.forced_source) == (forced, source)
    assert work.learn is tracking and work.explore is tracking
    if not tracking:
        assert [r.text for r in work.reasons] == [ctx.consent.explanation]
        assert work.reasons[0].code == "consent"
        assert guard.report()["by_reason"] == {reason: 1}
    else:
        assert work.reasons == [] and guard.report()["rules_only"] == 0


@pytest.mark.parametrize(
    ("enabled", "device", "acts"),
    [
        pytest.param(True, "bot", True, id="bot"),
        pytest.param(True, "mobile", False, id="person"),
        pytest.param(False, "bot", False, id="disabled"),
    ],
)
def test_bots(enabled: bool, device: str, acts: bool) -> None:
    hero = slot()
    work = candidates(hero)
    guard = Bots(settings(enabled=enabled))
    guard.before(context(device=device), outcome(hero), work)
    assert (work.forced == "calm") is acts
    assert work.learn is not acts and work.explore is not acts
    if acts:
        assert work.forced_source == "default"
        assert "automated" in work.reasons[0].text
    assert guard.report() == {"enabled": enabled, "bots": int(acts)}


def test_first_force_wins_so_bots_after_consent_adds_nothing() -> None:
    hero = slot()
    work = candidates(hero)
    ctx = context(tracking=False, reason="dnt", device="bot")
    for guard in (ConsentGuard(), Bots(settings(enabled=True))):
        guard.before(ctx, outcome(hero, pinned="help"), work)
    assert work.forced == "help" and work.acted == ["consent"]
