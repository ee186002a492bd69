"""The ``guardrails:`` section: its schema, and its settings as frozen dataclasses.

>>> settings = build_guardrails({"holdout": {"share": 0.1}})
>>> settings.holdout.share, settings.bots.enabled
(0.1, True)

Every setting is optional; a missing one takes the default below, which is
what the guardrails do out of the box. The guardrails themselves (in
:mod:`personalize.guardrails`) give these settings behaviour; this module only
says what may be written and checks it against the slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..signals import EXPERIENCE_SIGNALS
from .model import Slot
from .source import Path
from .suggest import did_you_mean

_ANNOYING = frozenset({"promo", "upsell", "urgent"})
_TAG = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$",
        "patternErrorMessage": "a tag is lower-case letters, digits, '-' and '_'"}
_TAGS = {"type": "array", "items": _TAG, "uniqueItems": True}


@dataclass(frozen=True)
class ConsentSettings:
    """Consent has no settings: without consent nothing is remembered, always."""


@dataclass(frozen=True)
class BotSettings:
    """:param enabled: bots get the default content and are never counted."""

    enabled: bool = True


@dataclass(frozen=True)
class HoldoutSettings:
    """:param share: sticky share of visitors who always see defaults (0 to 0.5).
    :param salt: mixed into the visitor hash; change it to draw a new holdout group."""

    share: float = 0.05
    salt: str = "holdout"


@dataclass(frozen=True)
class ExplorationSettings:
    """:param floor: least share every live variant keeps.
    :param cap: most share any variant may take."""

    floor: float = 0.02
    cap: float = 0.9


@dataclass(frozen=True)
class FrequencyCap:
    """At most :attr:`max` showings of a variant (or of any variant with a tag) per period.

    :param per: ``visit``, ``day`` or ``week``.
    """

    max: int
    per: str
    variant: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class AnnoyanceBudget:
    """:param tags: tags that cost from the budget.
    :param max_per_visit: how many such showings one visit may get."""

    tags: frozenset[str] = _ANNOYING
    max_per_visit: int = 3


@dataclass(frozen=True)
class SensitiveSettings:
    """:param allowed_tags: on sensitive pages, only variants with one of these tags."""

    allowed_tags: frozenset[str] = frozenset({"calm"})


@dataclass(frozen=True)
class EndOfJourneySettings:
    """:param blocked_tags: variants with these tags never show at the end of a journey."""

    blocked_tags: frozenset[str] = _ANNOYING


@dataclass(frozen=True)
class RampUpSettings:
    """:param share: share of visitors a new variant may be shown to (``1``, the
        default: everyone, i.e. no ramp-up; e.g. ``0.2`` to roll out cautiously).
    :param exposures: exposures after which a variant is no longer new (``0``: none is)."""

    share: float = 1.0
    exposures: int = 300


@dataclass(frozen=True)
class ExperienceMonitorSettings:
    """Pauses a variant whose bad-experience signals exceed the default's.

    :param signals: which of :data:`~personalize.signals.EXPERIENCE_SIGNALS` to watch.
    :param alpha: the sequential test's false-alarm rate.
    :param min_exposures: exposures a variant needs before it can be judged.
    :param harm_ratio: how many times the default's rate counts as harm.
    :param ramp_up: how cautiously a new variant is rolled out while it is judged.
    """

    enabled: bool = True
    signals: tuple[str, ...] = tuple(sorted(EXPERIENCE_SIGNALS))
    alpha: float = 0.05
    min_exposures: int = 100
    harm_ratio: float = 1.5
    ramp_up: RampUpSettings = field(default_factory=RampUpSettings)


@dataclass(frozen=True)
class StickinessSettings:
    """:param scope: ``visit``, ``visitor`` or ``none``: how long a slot keeps its variant."""

    scope: str = "visit"


@dataclass(frozen=True)
class TransparencySettings:
    """:param visitor_link: offer visitors a "why am I seeing this?" link."""

    visitor_link: bool = True


@dataclass(frozen=True)
class GuardrailSettings:
    """Every guardrail's settings, as the rule files give them."""

    consent: ConsentSettings = field(default_factory=ConsentSettings)
    bots: BotSettings = field(default_factory=BotSettings)
    holdout: HoldoutSettings = field(default_factory=HoldoutSettings)
    exploration: ExplorationSettings = field(default_factory=ExplorationSettings)
    frequency_caps: tuple[FrequencyCap, ...] = ()
    annoyance_budget: AnnoyanceBudget = field(default_factory=AnnoyanceBudget)
    sensitive: SensitiveSettings = field(default_factory=SensitiveSettings)
    end_of_journey: EndOfJourneySettings = field(default_factory=EndOfJourneySettings)
    experience_monitor: ExperienceMonitorSettings = field(
        default_factory=ExperienceMonitorSettings)
    stickiness: StickinessSettings = field(default_factory=StickinessSettings)
    transparency: TransparencySettings = field(default_factory=TransparencySettings)


def _section(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "description": description, "additionalProperties": False,
            "properties": properties}


def _share(low: float, high: float, default: float, text: str) -> dict[str, Any]:
    return {"type": "number", "minimum": low, "maximum": high, "default": default,
            "description": text}


_CAP = {
    "type": "object", "additionalProperties": False,
    "description": "At most `max` showings of a variant, or of any variant with a tag, "
                   "per period.",
    "properties": {
        "variant": {"type": "string", "description": "a variant id"},
        "tag": {**_TAG, "description": "a tag"},
        "max": {"type": "integer", "minimum": 1},
        "per": {"enum": ["visit", "day", "week"]},
    },
    "required": ["max", "per"],
    "oneOf": [{"required": ["variant"]}, {"required": ["tag"]}],
}

#: The JSON Schema of the ``guardrails:`` section.
GUARDRAILS_SCHEMA: dict[str, Any] = _section("Settings of the guardrails; all optional.", {
    "consent": {"type": "object", "maxProperties": 0,
                "description": "Always on: without consent nothing is remembered.",
                "errorMessage": "consent has no settings: it is always on"},
    "bots": _section("Bots get default content and are never counted.",
                     {"enabled": {"type": "boolean", "default": True}}),
    "holdout": _section("A sticky share of visitors always sees the defaults.", {
        "share": _share(0, 0.5, 0.05, "share of visitors held out, 0 to 0.5"),
        "salt": {"type": "string", "minLength": 1, "default": "holdout"}}),
    "exploration": _section("Every live variant keeps a floor share; none exceeds the cap.", {
        "floor": _share(0, 0.5, 0.02, "least share of each live variant, 0 to 0.5"),
        "cap": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.9,
                "description": "most share of any variant, above 0 and at most 1"}}),
    "frequency_caps": {"type": "array", "items": _CAP},
    "annoyance_budget": _section("Pushy variants a single visit may see.", {
        "tags": {**_TAGS, "default": sorted(_ANNOYING)},
        "max_per_visit": {"type": "integer", "minimum": 0, "default": 3}}),
    "sensitive": _section("Sensitive pages show only variants with these tags.", {
        "allowed_tags": {**_TAGS, "default": ["calm"]}}),
    "end_of_journey": _section("The end of a journey shows no variant with these tags.", {
        "blocked_tags": {**_TAGS, "default": sorted(_ANNOYING)}}),
    "experience_monitor": _section("Pauses variants with more bad experiences than default.", {
        "enabled": {"type": "boolean", "default": True},
        "signals": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"enum": sorted(EXPERIENCE_SIGNALS)}},
        "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5, "default": 0.05},
        "min_exposures": {"type": "integer", "minimum": 1, "default": 100},
        "harm_ratio": {"type": "number", "exclusiveMinimum": 1, "default": 1.5},
        "ramp_up": _section("A new variant reaches only a share of visitors until it has "
                            "been shown `exposures` times.", {
            "share": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 1,
                      "description": "share of visitors a new variant may be shown to, "
                                     "above 0 and at most 1 (1: no ramp-up)"},
            "exposures": {"type": "integer", "minimum": 0, "default": 300,
                          "description": "exposures after which a variant is no longer "
                                         "new (0: no ramp-up)"}})}),
    "stickiness": _section("How long a visitor keeps a slot's variant.", {
        "scope": {"enum": ["visit", "visitor", "none"], "default": "visit"}}),
    "transparency": _section("Plain reasons for every decision.", {
        "visitor_link": {"type": "boolean", "default": True}}),
})


def build_guardrails(data: Mapping[str, Any]) -> GuardrailSettings:
    """Settings from a schema-valid ``guardrails:`` mapping; missing keys take defaults.

    :param data: the merged ``guardrails:`` sections of all rule files.
    """
    def part(name: str) -> dict[str, Any]:
        raw = dict(data.get(name) or {})
        for key in ("tags", "allowed_tags", "blocked_tags"):
            if key in raw:
                raw[key] = frozenset(raw[key])
        if "signals" in raw:
            raw["signals"] = tuple(raw["signals"])
        if "ramp_up" in raw:
            raw["ramp_up"] = RampUpSettings(**(raw["ramp_up"] or {}))
        return raw

    return GuardrailSettings(
        bots=BotSettings(**part("bots")),
        holdout=HoldoutSettings(**part("holdout")),
        exploration=ExplorationSettings(**part("exploration")),
        frequency_caps=tuple(FrequencyCap(**cap) for cap in data.get("frequency_caps") or ()),
        annoyance_budget=AnnoyanceBudget(**part("annoyance_budget")),
        sensitive=SensitiveSettings(**part("sensitive")),
        end_of_journey=EndOfJourneySettings(**part("end_of_journey")),
        experience_monitor=ExperienceMonitorSettings(**part("experience_monitor")),
        stickiness=StickinessSettings(**part("stickiness")),
        transparency=TransparencySettings(**part("transparency")),
    )


def check_guardrails(settings: GuardrailSettings, data: Mapping[str, Any],
                     slots: Mapping[str, Slot]) -> list[tuple[Path, str, str, str | None]]:
    """Problems that need the slots to see: ``(path, message, severity, slot)`` each.

    ``slot`` names the slot a problem is about when there is one, so that a
    problem with a default setting (written nowhere) can point at the slot.

    :param settings: the built settings.
    :param data: the raw section, to tell written values from defaults.
    :param slots: every slot of the rule set.
    """
    found: list[tuple[Path, str, str, str | None]] = []
    floor, cap = settings.exploration.floor, settings.exploration.cap
    if cap < floor:
        found.append((("exploration", "cap"), f"expected a cap of at least the floor "
                      f"({floor}), got {cap}", "error", None))
    for slot in slots.values():
        n = len(slot.variants)
        if n > 1 and floor * n > 1:
            found.append((("exploration", "floor"), f"slot {slot.name!r} has {n} variants, "
                          f"and {n} × floor {floor} exceeds 1; expected a floor of at most "
                          f"{1 / n:.3f}", "error", slot.name))
    ids = {v for s in slots.values() for v in s.variants}
    tags = {t for s in slots.values() for v in s.variants.values() for t in v.tags}
    for i, capped in enumerate(settings.frequency_caps):
        if capped.variant is not None and capped.variant not in ids:
            found.append((("frequency_caps", i, "variant"), f"unknown variant "
                          f"{capped.variant!r}{did_you_mean(capped.variant, ids)}", "error",
                          None))
        if capped.tag is not None and capped.tag not in tags:
            found.append((("frequency_caps", i, "tag"), f"no variant has the tag "
                          f"{capped.tag!r}{did_you_mean(capped.tag, tags)}", "warning", None))
    for section, key in (("annoyance_budget", "tags"), ("sensitive", "allowed_tags"),
                         ("end_of_journey", "blocked_tags")):
        for i, tag in enumerate((data.get(section) or {}).get(key, ())):
            if tag not in tags:
                found.append(((section, key, i), f"no variant has the tag "
                              f"{tag!r}{did_you_mean(tag, tags)}", "warning", None))
    return found
