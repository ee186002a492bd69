"""Builders for the guardrail tests: slots, contexts, rule outcomes, settings, a clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from personalize.context import (
    Consent,
    Context,
    Device,
    History,
    LocalTime,
    Referrer,
    RequestInfo,
)
from personalize.context.history import Exposure
from personalize.guardrails.base import Candidates
from personalize.rules.model import RuleOutcome, Slot, Variant

NOW = 1_700_000_000.0
HOUR = 3600.0
DAY = 86400.0

#: variant id → tags; "calm" is the default.
VARIANTS: dict[str, tuple[str, ...]] = {
    "calm": ("calm",),
    "sale": ("promo", "upsell"),
    "gold": ("upsell",),
    "help": ("calm", "help"),
    "new": (),
}
TITLES = {"sale": "Big sale", "gold": "Gold plan", "help": "Help first"}


def slot(name: str = "hero", default: str = "calm",
         variants: dict[str, tuple[str, ...]] | None = None,
         objective: dict[str, float] | None = None) -> Slot:
    """A slot whose variants carry the given tags."""
    spec = VARIANTS if variants is None else variants
    return Slot(name=name, default=default, objective=objective or {},
                variants={v: Variant(id=v, html=f"<p>{v}</p>", tags=frozenset(tags),
                                     title=TITLES.get(v, "")) for v, tags in spec.items()})


def exposure(variant: str, at: float, slot_name: str = "hero") -> Exposure:
    """One past exposure of a variant of :data:`VARIANTS`."""
    return Exposure(slot_name, variant, tuple(sorted(VARIANTS.get(variant, ()))), at)


def context(*, device: str = "desktop", tracking: bool = True, reason: str = "",
            visitor_id: str | None = "visitor-1", section: str = "home",
            daypart: str = "afternoon", weekend: bool = False, referrer: str = "direct",
            domain: str = "", visits: int = 1, visit_started: float | None = NOW - HOUR,
            exposures: tuple[Exposure, ...] = (),
            last_shown: dict[str, tuple[str, float]] | None = None) -> Context:
    """A request's context with only what the guardrails read set meaningfully."""
    local = datetime.fromtimestamp(NOW, UTC)
    return Context(
        device=Device(type=device, os="Other", browser="Other", touch=device == "mobile"),
        time=LocalTime(local=local, timezone="UTC", source="site", hour=local.hour,
                       daypart=daypart, weekday="sat" if weekend else "tue", weekend=weekend,
                       business_hours=False),
        referrer=Referrer(kind=referrer, domain=domain),
        history=History(visits=visits, visit_started=visit_started, exposures=exposures,
                        last_shown=last_shown or {}),
        consent=Consent(tracking=tracking, reason=reason),
        request=RequestInfo(path=f"/{section}", section=section, language="en", secure=True),
        visitor_id=visitor_id if tracking else None,
    )


def outcome(the_slot: Slot, *, sensitive: bool = False, stage: str | None = None,
            pinned: str | None = None) -> RuleOutcome:
    """What the rules said: every variant eligible unless told otherwise."""
    return RuleOutcome(slot=the_slot.name, eligible=tuple(the_slot.variants), pinned=pinned,
                       sensitive=sensitive, stage=stage)


def candidates(the_slot: Slot, shown: tuple[Exposure, ...] = ()) -> Candidates:
    """A fresh working set with every variant of the slot eligible."""
    return Candidates(the_slot, eligible=list(the_slot.variants), shown_this_request=list(shown))


def settings(**values: Any) -> SimpleNamespace:
    """A duck-typed settings object, as the rule files' parser would give."""
    return SimpleNamespace(**values)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: float = NOW
    calls: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        self.calls.append(self.now)
        return self.now


def full_settings(**overrides: Any) -> SimpleNamespace:
    """The whole ``guardrails:`` section with everything switched on."""
    values: dict[str, Any] = {
        "bots": settings(enabled=True),
        "holdout": settings(share=0.05, salt="test"),
        "exploration": settings(floor=0.02, cap=0.9),
        "frequency_caps": (settings(variant="sale", tag=None, max=3, per="day"),),
        "annoyance_budget": settings(tags=("promo",), max_per_visit=2),
        "sensitive": settings(allowed_tags=("calm", "help")),
        "end_of_journey": settings(blocked_tags=("upsell", "promo")),
        "experience_monitor": settings(enabled=True, signals=("complaint", "bounce"),
                                       alpha=0.05, min_exposures=100, harm_ratio=1.2,
                                       ramp_up=settings(share=0.2, exposures=300)),
        "stickiness": settings(scope="visit"),
        "transparency": settings(visitor_link=True),
    }
    values.update(overrides)
    return settings(**values)
