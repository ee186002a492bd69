"""Plain words: the context described, reasons joined, objectives checked."""

from __future__ import annotations

from typing import Any

import pytest

from personalize.decision import Reason
from personalize.guardrails.composite_reward import objective_warnings
from personalize.guardrails.transparency import NO_REASONS, Transparency, describe_context, why_text
from tests.guardrails.guardrail_kit import context, settings, slot


@pytest.mark.parametrize(
    ("facts", "text"),
    [
        pytest.param({"device": "mobile", "daypart": "evening", "referrer": "search"},
                     "you are on a phone in the evening, coming from a search engine",
                     id="phone-evening-search"),
        pytest.param({"device": "desktop", "daypart": "night", "weekend": True,
                      "referrer": "referral", "domain": "news.example", "visits": 5},
                     "you are on a computer at night at the weekend, coming from "
                     "news.example, on your 5th visit", id="returning-referral"),
        pytest.param({"device": "tablet", "daypart": "morning", "referrer": "internal",
                      "visits": 2, "tracking": False},
                     "you are on a tablet in the morning", id="no-consent-no-visit-count"),
        pytest.param({"device": "other", "daypart": "afternoon", "referrer": "paid",
                      "visits": 22},
                     "you are visiting in the afternoon, coming from an ad, on your 22nd visit",
                     id="unknown-device"),
        pytest.param({"device": "bot"}, "you are an automated program", id="bot"),
        pytest.param({"referrer": "referral", "visits": 13},
                     "you are on a computer in the afternoon, coming from another site, on "
                     "your 13th visit", id="referral-without-domain"),
    ],
)
def test_describe_context(facts: dict[str, Any], text: str) -> None:
    assert describe_context(context(**facts)) == text


@pytest.mark.parametrize(
    ("texts", "paragraph"),
    [
        pytest.param(["Shown the calm version.", "Kept 'X' so the page stays consistent"],
                     "Shown the calm version. Kept 'X' so the page stays consistent.",
                     id="joined-and-punctuated"),
        pytest.param(["Same.", "Same.", " "], "Same.", id="duplicates-and-blanks"),
        pytest.param([], NO_REASONS, id="nothing"),
    ],
)
def test_why_text(texts: list[str], paragraph: str) -> None:
    assert why_text([Reason("guardrail", t) for t in texts]) == paragraph


@pytest.mark.parametrize("link", [pytest.param(True, id="on"), pytest.param(False, id="off")])
def test_transparency_reports_the_visitor_link(link: bool) -> None:
    assert Transparency(settings(visitor_link=link)).report()["visitor_link"] is link


@pytest.mark.parametrize(
    ("objective", "warned"),
    [
        pytest.param({"conversion": 1.0}, True, id="conversions-alone"),
        pytest.param({"conversion": 1.0, "complaint": 0.0}, True, id="zero-weight"),
        pytest.param({"conversion": 1.0, "bounce": -0.5}, False, id="bounce-negative"),
        pytest.param({"click": 1.0, "feedback_negative": -1.0}, False, id="feedback-negative"),
        pytest.param({"click": 1.0, "feedback_positive": -1.0}, True, id="not-an-experience"),
    ],
)
def test_objective_warnings(objective: dict[str, float], warned: bool) -> None:
    warnings = objective_warnings([slot("hero", objective=objective),
                                   slot("help", objective={"complaint": -1, "click": 1})])
    assert len(warnings) == int(warned)
    if warned:
        assert warnings[0].startswith("slot 'hero': ")
        assert "complaint: -1" in warnings[0]
