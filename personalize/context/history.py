"""The visitor's history: a bounded server-side profile keyed by the visitor id.

A profile is a small JSON-able dict kept in the store. :func:`advance` applies
one pageview to it (a new visit after the site's inactivity timeout), and
:func:`history_of` reads the frozen :class:`History` the context carries. Every
list in a profile is bounded, so a profile never grows without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .referrer import Referrer

PROFILE_VERSION = 1
MAX_SECTIONS = 8
MAX_EXPOSURES = 64
MAX_SLOTS = 32
DAY = 86400.0


class Exposure(NamedTuple):
    """One time a slot showed a variant to this visitor.

    A named tuple rather than a dataclass: a profile holds up to
    :data:`MAX_EXPOSURES` of them and every request reads them all back.
    """

    slot: str
    variant: str
    tags: tuple[str, ...]
    at: float
    #: the decision's id when a policy chose the variant (bandit, A/B split or
    #: holdout), so events the host app reports later can quote it
    decision: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    """What the profile says, as of this request (the request itself included)."""

    visits: int = 1
    pageviews: int = 1
    visit_pageviews: int = 1
    landing_page: str = ""
    sections: tuple[str, ...] = ()
    conversions: int = 0
    first_seen: float | None = None
    visit_started: float | None = None
    last_conversion: float | None = None
    days_since_conversion: float | None = None
    days_since_first_visit: float = 0.0
    feedback_positive: int = 0
    feedback_negative: int = 0
    exposures: tuple[Exposure, ...] = ()
    #: slot → variant last shown, and when, for stickiness
    last_shown: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    #: the visit's acquisition channel, set on its landing request
    channel: Referrer | None = None

    def exposures_since(self, since: float) -> list[Exposure]:
        """Exposures at or after epoch time ``since``, oldest first."""
        return [e for e in self.exposures if e.at >= since]


ANONYMOUS = History()


def new_profile() -> dict[str, Any]:
    """An empty profile for a visitor never seen before."""
    return {"v": PROFILE_VERSION, "visits": 0, "pv": 0, "vpv": 0, "sections": [],
            "conv": 0, "fb+": 0, "fb-": 0, "exp": [], "slots": {}}


def advance(profile: Mapping[str, Any] | None, *, now: float, path: str, section: str,
            referrer: Referrer, visit_timeout: float) -> dict[str, Any]:
    """The profile after one pageview at epoch time ``now``.

    A visit starts on the first pageview and after ``visit_timeout`` seconds of
    inactivity. The visit's channel is set on its landing request; internal
    navigation and direct hits inside a visit keep it, while a new external
    campaign or referrer mid-visit replaces it (as web analytics does).
    """
    p = dict(profile) if profile else new_profile()
    last = p.get("last")
    new_visit = last is None or now - float(last) > visit_timeout
    if new_visit:
        p["visits"] = int(p.get("visits", 0)) + 1
        p["vstart"] = now
        p["vpv"] = 0
        p["landing"] = path
        p["channel"] = _channel_dict(referrer)
    elif referrer.kind not in ("internal", "direct"):
        p["channel"] = _channel_dict(referrer)
    p.setdefault("first", now)
    p["last"] = now
    p["pv"] = int(p.get("pv", 0)) + 1
    p["vpv"] = int(p.get("vpv", 0)) + 1
    sections = [s for s in p.get("sections", []) if s != section]
    p["sections"] = [section, *sections][:MAX_SECTIONS]
    return p


def record_exposures(profile: Mapping[str, Any], shown: Iterable[Exposure]) -> dict[str, Any]:
    """The profile after slots showed variants (bounded, oldest dropped first)."""
    p = dict(profile)
    exposures = list(p.get("exp", []))
    slots = dict(p.get("slots", {}))
    for e in shown:
        exposures.append([e.slot, e.variant, list(e.tags), e.at])
        slots[e.slot] = [e.variant, e.at]
    p["exp"] = exposures[-MAX_EXPOSURES:]
    p["slots"] = _newest(slots, lambda shown: float(shown[1]))
    chosen = dict(p.get("chosen", {}))
    for e in shown:
        if e.decision is not None:
            chosen[e.slot] = {**chosen.get(e.slot, {}), e.variant: [e.at, e.decision]}
    if chosen:
        p["chosen"] = _newest(chosen, _latest_choice)
    return p


def chosen_since(profile: Mapping[str, Any], since: float) -> list[Exposure]:
    """Each variant a policy chose at or after ``since``, through its latest decision.

    Rules and guardrails also show variants (a pin, the variant stickiness
    repeats, the calm default on a support page); an event is credited to what
    a policy chose, which is what the bandit learns from and an A/B test
    compares. A split repeats its assignment on every page, so each slot and
    variant is credited once.
    """
    return [Exposure(slot, variant, (), float(at), str(decision))
            for slot, variants in profile.get("chosen", {}).items()
            for variant, (at, decision) in variants.items() if float(at) >= since]


def _latest_choice(variants: Mapping[str, list[Any]]) -> float:
    return max(float(at) for at, _decision in variants.values())


def _newest(by_slot: dict[str, Any], when: Callable[[Any], float]) -> dict[str, Any]:
    """At most :data:`MAX_SLOTS` slots' entries, those ``when`` finds most recent."""
    if len(by_slot) <= MAX_SLOTS:
        return by_slot
    return dict(sorted(by_slot.items(), key=lambda kv: when(kv[1]))[-MAX_SLOTS:])


def record_outcome(profile: Mapping[str, Any], kind: str, *, now: float,
                   value: float = 0.0) -> dict[str, Any]:
    """The profile after a conversion or feedback event."""
    p = dict(profile)
    if kind == "conversion":
        p["conv"] = int(p.get("conv", 0)) + 1
        p["lastconv"] = now
    elif kind == "feedback":
        key = "fb+" if value > 0 else "fb-"
        p[key] = int(p.get(key, 0)) + 1
    return p


def history_of(profile: Mapping[str, Any] | None, now: float) -> History:
    """The :class:`History` a profile describes at epoch time ``now``."""
    if not profile:
        return ANONYMOUS
    first = float(profile.get("first", now))
    last_conv = profile.get("lastconv")
    channel = profile.get("channel")
    return History(
        visits=int(profile.get("visits", 1)),
        pageviews=int(profile.get("pv", 1)),
        visit_pageviews=int(profile.get("vpv", 1)),
        landing_page=str(profile.get("landing", "")),
        sections=tuple(profile.get("sections", ())),
        conversions=int(profile.get("conv", 0)),
        first_seen=first,
        visit_started=profile.get("vstart"),
        last_conversion=last_conv,
        days_since_conversion=None if last_conv is None else (now - float(last_conv)) / DAY,
        days_since_first_visit=(now - first) / DAY,
        feedback_positive=int(profile.get("fb+", 0)),
        feedback_negative=int(profile.get("fb-", 0)),
        exposures=tuple([Exposure(s, v, tuple(t), float(at))
                         for s, v, t, at in profile.get("exp", ())]),
        last_shown={k: (str(v[0]), float(v[1])) for k, v in profile.get("slots", {}).items()},
        channel=Referrer(**channel) if channel else None,
    )


def _channel_dict(referrer: Referrer) -> dict[str, str]:
    return {"kind": referrer.kind, "source": referrer.source, "domain": referrer.domain,
            "medium": referrer.medium, "campaign": referrer.campaign,
            "click_id": referrer.click_id}


def merge_profiles(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """One profile from two browsers of the same person (after a login).

    Counts add up, lists merge newest first within their bounds, and the
    visit in progress is whichever was active last, so the experience
    continues where the person is now.
    """
    newer, older = (a, b) if float(a.get("last", 0)) >= float(b.get("last", 0)) else (b, a)
    merged = dict(newer)
    for key in ("visits", "pv", "conv", "fb+", "fb-"):
        merged[key] = int(a.get(key, 0)) + int(b.get(key, 0))
    merged["first"] = min(float(a.get("first", newer.get("last", 0))),
                          float(b.get("first", newer.get("last", 0))))
    conversions = [c for c in (a.get("lastconv"), b.get("lastconv")) if c is not None]
    merged["lastconv"] = max(conversions) if conversions else None
    sections = list(newer.get("sections", []))
    sections += [s for s in older.get("sections", []) if s not in sections]
    merged["sections"] = sections[:MAX_SECTIONS]
    exposures = sorted([*a.get("exp", []), *b.get("exp", [])], key=lambda e: float(e[3]))
    merged["exp"] = exposures[-MAX_EXPOSURES:]
    merged["slots"] = _newest(_later(older.get("slots", {}), newer.get("slots", {}),
                                      lambda shown: float(shown[1])),
                              lambda shown: float(shown[1]))
    older_chosen, newer_chosen = older.get("chosen", {}), newer.get("chosen", {})
    chosen = {slot: _later(older_chosen.get(slot, {}), newer_chosen.get(slot, {}),
                           lambda entry: float(entry[0]))
              for slot in {*older_chosen, *newer_chosen}}
    if chosen:
        merged["chosen"] = _newest(chosen, _latest_choice)
    return merged


def _later(older: Mapping[str, Any], newer: Mapping[str, Any],
           when: Callable[[Any], float]) -> dict[str, Any]:
    """Both mappings' keys, each with whichever entry ``when`` finds later (newer on ties)."""
    out = dict(older)
    for key, entry in newer.items():
        if key not in out or when(entry) >= when(out[key]):
            out[key] = entry
    return out
