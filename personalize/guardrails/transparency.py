"""Transparency: every decision can say, in plain words, why it came out as it did.

::

    describe_context(context)
    # "you are on a phone in the evening, coming from a search engine"
    why_text(decision.reasons)
    # "Shown the calm version because … Kept 'Big sale' so the page stays …"

Every guardrail adds its own reasons when it acts; this module phrases the
context and joins reasons for the dashboard, ``personalize explain`` and —
when ``guardrails.transparency.visitor_link`` is on — the visitor's own
"why am I seeing this?" page. The guardrail itself records nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .base import Guardrail

if TYPE_CHECKING:
    from ..context import Context
    from ..decision import Reason
    from ..rules.model import Slot

_DEVICES = {"mobile": "on a phone", "tablet": "on a tablet", "desktop": "on a computer",
            "tv": "on a TV", "bot": "an automated program"}
_DAYPARTS = {"morning": "in the morning", "afternoon": "in the afternoon",
             "evening": "in the evening", "night": "at night"}
_REFERRERS = {"search": "coming from a search engine", "social": "coming from social media",
              "email": "coming from an email", "paid": "coming from an ad",
              "chatbot": "coming from an AI assistant", "direct": "coming here directly"}

NO_REASONS = "This is the standard content; nothing about you changed it."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def describe_context(context: Context) -> str:
    """The situation as the site understood it, in one lower-case clause.

    Only what the decision could use is named: device, time of day, where the
    visit came from and, with consent, how many visits there have been.
    """
    device = _DEVICES.get(context.device.type)
    if context.device.type == "bot":
        return "you are an automated program"
    parts = [f"you are {device}" if device else "you are visiting"]
    if context.time.daypart in _DAYPARTS:
        weekend = " at the weekend" if context.time.weekend else ""
        parts[0] += f" {_DAYPARTS[context.time.daypart]}{weekend}"
    referrer = context.referrer
    if referrer.kind == "referral":
        parts.append(f"coming from {referrer.domain}" if referrer.domain
                     else "coming from another site")
    elif referrer.kind in _REFERRERS:
        parts.append(_REFERRERS[referrer.kind])
    if context.consent.tracking and context.history.visits > 1:
        parts.append(f"on your {_ordinal(context.history.visits)} visit")
    return ", ".join(parts)


def why_text(decision_reasons: Iterable[Reason]) -> str:
    """The reasons as one paragraph, each sentence once, in the order they arose."""
    seen: list[str] = []
    for reason in decision_reasons:
        text = reason.text.strip()
        if text and text not in seen:
            seen.append(text if text[-1] in ".!?" else f"{text}.")
    return " ".join(seen) if seen else NO_REASONS


class TransparencySettings(Protocol):
    """The ``guardrails.transparency`` settings this guardrail reads."""

    @property
    def visitor_link(self) -> bool: ...


class Transparency(Guardrail):
    """Reports whether visitors may see their own reasons ("why am I seeing this?").

    :param settings: ``settings.transparency``.
    """

    name = "transparency"

    def __init__(self, settings: TransparencySettings) -> None:
        self.visitor_link = bool(settings.visitor_link)

    def applies_to(self, slot: Slot) -> bool:
        """False everywhere: it reports, and edits no decision."""
        return False

    def report(self) -> dict[str, Any]:
        """Whether the visitor link is on; reasons themselves are always recorded."""
        return {"enabled": True, "visitor_link": self.visitor_link}
