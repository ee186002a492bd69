"""Checks that need more than one file's shape: site, slots, objectives, segments.

The schema has already checked each file's shape; here the merged sections
become :class:`SiteSettings`, :class:`Slot` and compiled segments, and every
reference between them is checked: a default that is not one of the slot's
variants, a weight for a variant that does not exist, a schedule that ends
before it starts, an objective for an unknown slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import available_timezones

from ..context.site import BusinessHours, Dayparts, SiteSettings
from ..context.time import valid_timezone, zone
from ..exceptions import RuleError
from ..signals import EXPERIENCE_SIGNALS
from .conditions import Condition, ConditionCompiler, ConditionProblem
from .model import Schedule, Slot, Variant
from .parts import Merged, Part
from .source import Path, dotted
from .suggest import did_you_mean

_UNSAFE_HTML = re.compile(r"<\s*script|javascript:|\son[a-z]+\s*=", re.IGNORECASE)


def parse_moment(text: str, tz: tzinfo) -> datetime:
    """A schedule bound: a date (midnight) or date-time, in ``tz`` unless it has an offset.

    :raises ValueError: when the text is not a real date.
    """
    moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def build_schedule(part: Part, sub: Path, data: dict[str, str], tz: tzinfo,
                   problems: list[RuleError]) -> Schedule | None:
    """A :class:`Schedule` from ``{start, end}``; bad dates and reversed windows are errors."""
    bounds: dict[str, datetime] = {}
    where = dotted((*part.path, *sub))
    for key in ("start", "end"):
        if key in data:
            try:
                bounds[key] = parse_moment(data[key], tz)
            except ValueError as err:
                problems.append(part.error((*sub, key), f"{where}.{key}: expected a real date, "
                                           f"got {data[key]!r} ({err})"))
    if len(bounds) < len(data):
        return None
    start, end = bounds.get("start"), bounds.get("end")
    if start is not None and end is not None and end <= start:
        problems.append(part.error((*sub, "end"), f"{where}: the schedule ends ({data['end']}) "
                                   f"before it starts ({data['start']})"))
        return None
    return Schedule(start, end)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def build_site(merged: Merged, problems: list[RuleError]) -> SiteSettings:
    """The site settings; anything not given keeps :class:`SiteSettings`' default."""
    values: dict[str, object] = {}
    for key, part in merged.keyed["site"].items():
        if merged.is_broken("site", key):
            continue
        data = part.data
        if key == "timezone" and not valid_timezone(data):
            problems.append(part.error((), f"site.timezone: expected an IANA time zone such as "
                                       f"'Europe/Helsinki', got {data!r}"
                                       f"{did_you_mean(data, available_timezones())}"))
        elif key == "business_hours":
            hours = BusinessHours()
            opens = _clock(data["opens"]) if "opens" in data else hours.opens
            closes = _clock(data["closes"]) if "closes" in data else hours.closes
            if closes <= opens:
                problems.append(part.error(("closes",) if "closes" in data else (),
                                           f"site.business_hours: expected closing after "
                                           f"opening ({opens:%H:%M}), got {closes:%H:%M}"))
            days = frozenset(data["days"]) if "days" in data else hours.days
            values[key] = BusinessHours(days, opens, closes)
        elif key == "dayparts":
            default = Dayparts()
            marks = {p: _clock(data[p]) if p in data else getattr(default, p)
                     for p in ("morning", "afternoon", "evening", "night")}
            if not marks["morning"] < marks["afternoon"] < marks["evening"] < marks["night"]:
                problems.append(part.error((), "site.dayparts: expected morning < afternoon < "
                                           "evening < night, got " + ", ".join(
                                               f"{p} {t:%H:%M}" for p, t in marks.items())))
            values[key] = Dayparts(**marks)
        elif key in ("languages", "internal_hosts"):
            values[key] = tuple(data)
        else:
            values[key] = data
    return SiteSettings(**values)  # type: ignore[arg-type]


def build_slots(merged: Merged, tz: tzinfo, problems: list[RuleError]) -> dict[str, Slot]:
    """Every slot whose entry has no schema errors, with its variants."""
    slots: dict[str, Slot] = {}
    owner: dict[str, str] = {}
    for name, part in merged.keyed["slots"].items():
        if merged.is_broken("slots", name):
            continue
        variants: dict[str, Variant] = {}
        for i, raw in enumerate(part.data["variants"]):
            vid = raw["id"]
            if vid in owner:
                problems.append(part.error(("variants", i, "id"), f"variant id {vid!r} is "
                                           f"already used in slot {owner[vid]!r}; ids are "
                                           "unique across all slots"))
                continue
            owner[vid] = name
            schedule = None
            if "schedule" in raw:
                schedule = build_schedule(part, ("variants", i, "schedule"), raw["schedule"],
                                          tz, problems)
            html = raw.get("html")
            if html is not None and _UNSAFE_HTML.search(html):
                problems.append(part.warning(("variants", i, "html"), f"variant {vid!r}: inline "
                                             "HTML with scripts or event handlers; use a "
                                             "template the developers review instead"))
            variants[vid] = Variant(vid, html, raw.get("template"), raw.get("key"),
                                    frozenset(raw.get("tags", ())), schedule,
                                    raw.get("title", ""))
        problems.extend(_slot_problems(part, name, variants))
        slots[name] = Slot(name, part.data["default"], variants,
                           part.data.get("policy", "bandit"),
                           dict(part.data.get("weights", {})), {},
                           part.data.get("description", ""))
    return slots


def _slot_problems(part: Part, name: str, variants: dict[str, Variant]) -> Iterator[RuleError]:
    data = part.data
    default = data["default"]
    if default not in variants:
        yield part.error(("default",), f"slots.{name}.default: {default!r} is not one of the "
                         f"slot's variants{did_you_mean(default, variants)}")
    elif variants[default].schedule is not None:
        yield part.error(("default",), f"slots.{name}.default: the default {default!r} cannot "
                         "have a schedule; it is what the slot shows when nothing else may")
    weights = data.get("weights", {})
    for vid in weights:
        if vid not in variants:
            yield part.error(("weights", vid), f"slots.{name}.weights: unknown variant "
                             f"{vid!r}{did_you_mean(vid, variants)}", key=True)
    if data.get("policy") == "split":
        missing = [v for v in variants if v not in weights]
        if missing:
            yield part.error(("weights",) if weights else ("policy",),
                             f"slots.{name}: policy split needs a weight for every variant "
                             f"(0 leaves one out); missing {', '.join(missing)}")
        elif not any(weights.values()):
            yield part.error(("weights",), f"slots.{name}.weights: expected at least one "
                             "weight above 0")
    elif weights:
        yield part.warning(("weights",), f"slots.{name}.weights only matter with "
                           "policy: split", key=True)


def build_objectives(merged: Merged, slots: dict[str, Slot],
                     problems: list[RuleError]) -> dict[str, Slot]:
    """The slots with their objectives filled in from ``objectives:``."""
    given = merged.keyed["objectives"]
    for name, part in given.items():
        if merged.is_broken("objectives", name):
            continue
        if name not in slots:
            if not merged.is_broken("slots", name):
                problems.append(part.error((), f"objectives: unknown slot {name!r}"
                                           f"{did_you_mean(name, slots)}", key=True))
            continue
        weights = {k: float(v) for k, v in part.data.items()}
        if not any(weights.get(s, 0.0) < 0 for s in EXPERIENCE_SIGNALS):
            problems.append(part.warning((), f"objectives.{name} weighs no bad-experience "
                                         f"signal ({', '.join(sorted(EXPERIENCE_SIGNALS))}) "
                                         "negative, so harm is never penalized", key=True))
        if not any(w > 0 for w in weights.values()):
            problems.append(part.warning((), f"objectives.{name} rewards nothing positive",
                                         key=True))
        slots[name] = replace(slots[name], objective=weights)
    for name in slots:
        if name not in given and not merged.is_broken("objectives", name):
            owner = merged.keyed["slots"][name]
            problems.append(owner.warning((), f"slot {name!r} has no objective under "
                                          "objectives:, so the policy learns nothing", key=True))
    return slots


class SegmentTable:
    """Compiles segments on first use, so they may refer to each other in any order.

    A segment that refers to itself, directly or through others, is an error.
    """

    def __init__(self, merged: Merged, problems: list[RuleError]) -> None:
        self.parts = merged.keyed["segments"]
        self.merged = merged
        self.problems = problems
        self.compiled: dict[str, Condition | None] = {}
        self._open: list[str] = []
        self.used: set[str] = set()

    @property
    def names(self) -> set[str]:
        """Every defined segment name."""
        return set(self.parts)

    def get(self, name: str) -> Condition | None:
        """The compiled segment, or ``None`` when it has errors; marks it as used."""
        self.used.add(name)
        return self._compile(name)

    def _compile(self, name: str) -> Condition | None:
        if name in self.compiled:
            return self.compiled[name]
        part = self.parts[name]
        if name in self._open:
            cycle = " → ".join([*self._open[self._open.index(name):], name])
            self.problems.append(part.error((), f"segments refer to each other in a circle: "
                                            f"{cycle}", key=True))
            return None
        if self.merged.is_broken("segments", name):
            self.compiled[name] = None
            return None
        self._open.append(name)
        compiler = ConditionCompiler(self.get, self.names)
        condition = compiler.compile(part.data)
        self._open.pop()
        self.problems.extend(located(part, compiler.problems))
        self.compiled[name] = None if compiler.problems else condition
        return self.compiled[name]

    def compile_all(self) -> dict[str, Condition]:
        """Every segment, used or not, so that each is checked."""
        for name in self.parts:
            self._compile(name)
        return {n: c for n, c in self.compiled.items() if c is not None}

    def unused(self) -> list[RuleError]:
        """Warnings for segments that no rule or other segment refers to."""
        conditions = [p.data.get("when") for p in self.merged.rules if isinstance(p.data, dict)]
        named = set(_segment_names([*conditions, *(p.data for p in self.parts.values())]))
        return [part.warning((), f"segment {name!r} is never used", key=True)
                for name, part in self.parts.items() if name not in named]


def _segment_names(data: Any) -> Iterator[str]:
    """Every name a ``segment:`` key refers to, anywhere in raw conditions."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "segment" and isinstance(value, str):
                yield value
            else:
                yield from _segment_names(value)
    elif isinstance(data, list):
        for item in data:
            yield from _segment_names(item)


def located(part: Part, problems: list[ConditionProblem], sub: Path = ()) -> list[RuleError]:
    """Condition problems as located errors, each message led by its dotted path."""
    out = []
    for p in problems:
        path = (*part.path, *sub, *p.path)
        out.append(part.doc.error(path, f"{dotted(path)}: {p.message}", key=p.key))
    return out


def site_zone(site: SiteSettings) -> tzinfo:
    """The site's zone, for dates written without an offset (UTC if it is not valid)."""
    return zone(site.timezone) if valid_timezone(site.timezone) else zone("UTC")
