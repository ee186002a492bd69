"""What the rule files describe, as plain frozen data the engine hands on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..decision import Reason


@dataclass(frozen=True, slots=True)
class Schedule:
    """A window in time; either end may be open. Times are timezone-aware."""

    start: datetime | None = None
    end: datetime | None = None

    def active(self, at: datetime) -> bool:
        """True when ``at`` falls inside the window (start inclusive, end exclusive)."""
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class Variant:
    """One alternative content for a slot.

    Exactly one of ``html``, ``template`` and ``key`` is set: inline HTML from the
    rule file, a template name the host renders, or a plain key the host maps
    to content itself.
    """

    id: str
    html: str | None = None
    template: str | None = None
    key: str | None = None
    tags: frozenset[str] = frozenset()
    schedule: Schedule | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Slot:
    """A named place on a page, its default and its variants.

    :param policy: ``bandit`` (learn) or ``split`` (fixed-weight A/B test).
    :param weights: for ``split``, variant id → weight.
    :param objective: reward weight per signal (see :mod:`personalize.signals`).
    """

    name: str
    default: str
    variants: dict[str, Variant]
    policy: str = "bandit"
    weights: dict[str, float] = field(default_factory=dict)
    objective: dict[str, float] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule's verdict for one request: matched or not, and why."""

    rule: str
    matched: bool
    why: str
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What the rules alone say about one slot on one request.

    :param eligible: variant ids the bandit may choose among (the default is
        always eligible unless a rule excluded it explicitly).
    :param pinned: a variant a ``show`` action pins, or ``None``.
    :param sensitive: some matching rule marked the request sensitive.
    :param stage: ``"end"`` at the end of a journey, else ``None``.
    """

    slot: str
    eligible: tuple[str, ...]
    pinned: str | None = None
    pinned_by: str | None = None
    sensitive: bool = False
    stage: str | None = None
    matches: tuple[RuleMatch, ...] = ()
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for ``personalize explain``."""
        return {
            "slot": self.slot,
            "eligible": list(self.eligible),
            "pinned": self.pinned,
            "pinned_by": self.pinned_by,
            "sensitive": self.sensitive,
            "stage": self.stage,
            "matched": [{"rule": m.rule, "why": m.why} for m in self.matches if m.matched],
            "not_matched": [{"rule": m.rule, "why": m.why} for m in self.matches if not m.matched],
            "reasons": [r.text for r in self.reasons],
        }
