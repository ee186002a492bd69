"""The visitor's history: a bounded server-side profile keyed by the visitor id.

A profile is a small JSON-able dict kept in the store. :func:`advance` applies
one pageview to it (a new visit after the site's inactivity timeout), and
:func:`history_of` reads the frozen :class:`History` the context carries. Every
list in a profile is bounded, so a profile never grows without limit.

The profile is read and rewritten on every page, so its form is compact
(version 2)::

    {"v": 2, "visits": 3, "pv": 12, "vpv": 2, "sections": ["products", "home"],
     "first": 1.7e9, "last": 1.7e9, "vstart": 1.7e9, "landing": "/",
     "referrer": ["search", "google", "www.google.com", "", "", ""],
     "shown": [["hero", "hero-sale", ["promo"]], ["cta", "cta-buy", []]],
     "exposures": [[1.7e9, 0, 1], [1.7e9, 1]],
     "slots": {"hero": ["hero-sale", 1.7e9], "cta": ["cta-buy", 1.7e9]},
     "chosen": {"hero": {"hero-sale": [1.7e9, "<decision id>"]}},
     "conv": 1, "lastconv": 1.7e9, "fb+": 0, "fb-": 0}

``referrer`` is the visit's channel as the fields of a :class:`Referrer`, in
order. ``shown`` lists each distinct slot, variant and tags once, and
``exposures`` holds one entry per page: the time, then the indices into
``shown`` of what that page showed, oldest first. A page showing three slots
thus costs one time and three small numbers instead of three copies of each
name, and each exposure keeps the tags it had when it was shown. Counters
missing from a profile are zero.

Version 1 profiles, written by earlier releases (``exp`` as a list of
``[slot, variant, tags, time]`` and ``channel`` as a dict), are read by every
function here and saved in the current form on the visitor's next page. The
keys whose form changed have new names, so an earlier release reading a
version 2 profile sees no exposures rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import attrgetter
from typing import Any, NamedTuple, overload

from .referrer import Referrer

PROFILE_VERSION = 2
MAX_SECTIONS = 8
MAX_EXPOSURES = 64
MAX_SLOTS = 32
DAY = 86400.0

_new_tuple = tuple.__new__


class Exposure(NamedTuple):
    """One time a slot showed a variant to this visitor.

    A named tuple rather than a dataclass: a profile holds up to
    :data:`MAX_EXPOSURES` of them and a request may read them all back.
    """

    slot: str
    variant: str
    tags: tuple[str, ...]
    at: float
    #: the decision's id when a policy chose the variant (bandit, A/B split or
    #: holdout), so events the host app reports later can quote it
    decision: str | None = None


class ExposureLog(Sequence[Exposure]):
    """A stored profile's exposures, oldest first, decoded when first read.

    A profile holds up to :data:`MAX_EXPOSURES` exposures, and building them
    costs more than the rest of :func:`history_of`, while a request often
    reads none (only frequency caps and the annoyance budget do, and only when
    a variant they limit is eligible).

    :param shown: the profile's ``shown`` table (see the module docstring).
    :param pages: the profile's ``exposures``: ``[time, index, ...]`` per page.
    """

    __slots__ = ("_decoded", "_pages", "_shown")

    def __init__(self, shown: Sequence[list[Any]], pages: Sequence[list[Any]]) -> None:
        self._shown = shown
        self._pages = pages
        self._decoded: tuple[Exposure, ...] | None = None

    def _all(self) -> tuple[Exposure, ...]:
        if self._decoded is None:
            entries = [(str(slot), str(variant), tuple(tags))
                       for slot, variant, tags in self._shown]
            decoded: list[Exposure] = []
            for page in self._pages:
                tail = (float(page[0]), None)
                # Exposure._make without its length check: a third faster here
                decoded += [_new_tuple(Exposure, entries[i] + tail) for i in page[1:]]
            self._decoded = tuple(decoded)
        return self._decoded

    @overload
    def __getitem__(self, index: int) -> Exposure: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Exposure, ...]: ...

    def __getitem__(self, index: int | slice) -> Exposure | tuple[Exposure, ...]:
        return self._all()[index]

    def __iter__(self) -> Iterator[Exposure]:
        return iter(self._all())

    def __len__(self) -> int:
        return sum(map(len, self._pages)) - len(self._pages)

    def count_since(self, since: float, variant: str | None = None,
                    tags: frozenset[str] | None = None) -> int:
        """:meth:`History.count_since`, counted in the stored form.

        Each distinct slot, variant and tags is judged once and pages are
        filtered by time, so no :class:`Exposure` is built: frequency caps ask
        on most pages of a returning visitor.
        """
        hit = [variant == v if tags is None else not tags.isdisjoint(t)
               for _slot, v, t in self._shown]
        count = 0
        for page in self._pages:
            if page[0] >= since:
                for i in page[1:]:
                    if hit[i]:
                        count += 1
        return count

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExposureLog | tuple):
            return self._all() == tuple(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"ExposureLog({list(self)!r})"


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
    #: oldest first; an :class:`ExposureLog` when read from a profile
    exposures: Sequence[Exposure] = ()
    #: slot → variant last shown, and when, for stickiness
    last_shown: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    #: the visit's acquisition channel, set on its landing request
    channel: Referrer | None = None

    def exposures_since(self, since: float) -> list[Exposure]:
        """Exposures at or after epoch time ``since``, oldest first."""
        return [e for e in self.exposures if e.at >= since]

    def count_since(self, since: float, *, variant: str | None = None,
                    tags: frozenset[str] | None = None) -> int:
        """How many exposures at or after ``since`` showed ``variant`` (in any slot) or,
        when ``tags`` is given, a variant carrying any of them."""
        if isinstance(self.exposures, ExposureLog):
            return self.exposures.count_since(since, variant, tags)
        return count_of(self.exposures_since(since), variant, tags)


def count_of(exposures: Iterable[Exposure], variant: str | None = None,
             tags: frozenset[str] | None = None) -> int:
    """How many of ``exposures`` showed ``variant`` or, given ``tags``, any of them."""
    count = 0
    # plain loops: guardrails count on every capped slot, and sum() over a
    # generator costs three times as much
    if tags is None:
        for e in exposures:
            if e.variant == variant:
                count += 1
    else:
        for e in exposures:
            if not tags.isdisjoint(e.tags):
                count += 1
    return count


ANONYMOUS = History()


def new_profile() -> dict[str, Any]:
    """An empty profile for a visitor never seen before."""
    return {"v": PROFILE_VERSION, "visits": 0, "pv": 0, "vpv": 0, "sections": [],
            "shown": [], "exposures": [], "slots": {}}


def _current(profile: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``profile`` in the current form; see the module docstring."""
    p = dict(profile)
    if p.get("v") == PROFILE_VERSION:
        return p
    # version 1: one [slot, variant, tags, time] per exposure, the channel as a dict
    p["shown"], p["exposures"] = _encoded([Exposure(str(s), str(v), tuple(t), float(at))
                                           for s, v, t, at in p.pop("exp", ())])
    channel = p.pop("channel", None)
    if channel:
        p["referrer"] = _referrer_fields(Referrer(**channel))
    p["v"] = PROFILE_VERSION
    return p


def advance(profile: Mapping[str, Any] | None, *, now: float, path: str, section: str,
            referrer: Referrer, visit_timeout: float) -> dict[str, Any]:
    """The profile after one pageview at epoch time ``now``.

    A visit starts on the first pageview and after ``visit_timeout`` seconds of
    inactivity. The visit's channel is set on its landing request; internal
    navigation and direct hits inside a visit keep it, while a new external
    campaign or referrer mid-visit replaces it (as web analytics does).
    """
    p = _current(profile) if profile else new_profile()
    last = p.get("last")
    new_visit = last is None or now - float(last) > visit_timeout
    if new_visit:
        p["visits"] = int(p.get("visits", 0)) + 1
        p["vstart"] = now
        p["vpv"] = 0
        p["landing"] = path
        p["referrer"] = _referrer_fields(referrer)
    elif referrer.kind not in ("internal", "direct"):
        p["referrer"] = _referrer_fields(referrer)
    p.setdefault("first", now)
    p["last"] = now
    p["pv"] = int(p.get("pv", 0)) + 1
    p["vpv"] = int(p.get("vpv", 0)) + 1
    sections = [s for s in p.get("sections", []) if s != section]
    p["sections"] = [section, *sections][:MAX_SECTIONS]
    return p


def record_exposures(profile: Mapping[str, Any], shown: Iterable[Exposure]) -> dict[str, Any]:
    """The profile after slots showed variants (bounded, oldest dropped first)."""
    p = _current(profile)
    shown = list(shown)
    table, pages = list(p["shown"]), list(p["exposures"])
    grew = _append(table, pages, shown)
    p["shown"], p["exposures"] = _bounded(table, pages, compact=grew)
    slots = dict(p.get("slots", {}))
    for e in shown:
        slots[e.slot] = [e.variant, e.at]
    p["slots"] = _newest(slots, lambda last: float(last[1]))
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
    if profile.get("v") != PROFILE_VERSION:  # read-only here: a current one needs no copy
        profile = _current(profile)
    first = float(profile.get("first", now))
    last_conv = profile.get("lastconv")
    channel = profile.get("referrer")
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
        exposures=ExposureLog(profile["shown"], profile["exposures"]),
        last_shown={k: (str(v[0]), float(v[1])) for k, v in profile.get("slots", {}).items()},
        channel=_stored_channel(*channel) if channel else None,
    )


#: A visit's channel as read back from its profile, on each of the visit's pages;
#: a :class:`Referrer` is immutable, so the pages of all visits from one channel share one.
_stored_channel = lru_cache(maxsize=1024)(Referrer)


def _referrer_fields(referrer: Referrer) -> list[str]:
    """The channel as stored: :class:`Referrer`'s fields in their order."""
    return [referrer.kind, referrer.source, referrer.domain, referrer.medium,
            referrer.campaign, referrer.click_id]


def _encoded(exposures: Iterable[Exposure]) -> tuple[list[list[Any]], list[list[Any]]]:
    """A ``shown`` table and ``exposures`` pages holding just ``exposures``."""
    table: list[list[Any]] = []
    pages: list[list[Any]] = []
    _append(table, pages, exposures)
    return table, pages


def _append(table: list[list[Any]], pages: list[list[Any]], shown: Iterable[Exposure]) -> bool:
    """Add exposures to a profile's ``shown`` table and ``exposures`` pages, in place.

    Consecutive exposures at the same time share a page. Only the lists
    themselves are changed, never an entry in them, so both may be shallow
    copies of a profile's. Returns whether the table grew.
    """
    size = len(table)
    for e in shown:
        entry = [e.slot, e.variant, list(e.tags)]
        try:  # the table holds a few entries per slot: a search beats building an index
            i = table.index(entry)
        except ValueError:
            i = len(table)
            table.append(entry)
        if pages and pages[-1][0] == e.at:
            pages[-1] = [*pages[-1], i]
        else:
            pages.append([e.at, i])
    return len(table) > size


def _bounded(table: list[list[Any]], pages: list[list[Any]], *,
             compact: bool) -> tuple[list[list[Any]], list[list[Any]]]:
    """The newest :data:`MAX_EXPOSURES` exposures; with ``compact``, the table only as used.

    ``pages`` is cut in place. Compacting renumbers every page, so it is done
    only when the table has just grown; an entry whose exposures were dropped
    meanwhile stays until then, so the table never holds more than
    :data:`MAX_EXPOSURES` entries.
    """
    excess = sum(map(len, pages)) - len(pages) - MAX_EXPOSURES
    while excess > 0:
        oldest = pages[0]
        if len(oldest) - 1 <= excess:
            del pages[0]
        else:
            pages[0] = [oldest[0], *oldest[1 + excess:]]
        excess -= len(oldest) - 1
    if not compact:
        return table, pages
    used = sorted({i for page in pages for i in page[1:]})
    if len(used) == len(table):
        return table, pages
    number = {old: new for new, old in enumerate(used)}
    return [table[i] for i in used], [[page[0], *[number[i] for i in page[1:]]] for page in pages]


def merge_profiles(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """One profile from two browsers of the same person (after a login).

    Counts add up, lists merge newest first within their bounds, and the
    visit in progress is whichever was active last, so the experience
    continues where the person is now.
    """
    a, b = _current(a), _current(b)
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
    exposures = sorted([*ExposureLog(a["shown"], a["exposures"]),
                        *ExposureLog(b["shown"], b["exposures"])], key=attrgetter("at"))
    merged["shown"], merged["exposures"] = _encoded(exposures[-MAX_EXPOSURES:])
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
