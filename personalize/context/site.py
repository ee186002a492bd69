"""Site-wide settings the classifier needs: time zone, languages, hours, consent.

The rule files' ``site:`` section becomes one :class:`SiteSettings`; a site
with no rule files gets the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class BusinessHours:
    """When the business is open, in the site's own time zone."""

    days: frozenset[str] = frozenset({"mon", "tue", "wed", "thu", "fri"})
    opens: time = time(9, 0)
    closes: time = time(17, 0)


@dataclass(frozen=True)
class Dayparts:
    """Local start times of each part of the day; night runs to morning."""

    morning: time = time(6, 0)
    afternoon: time = time(12, 0)
    evening: time = time(18, 0)
    night: time = time(22, 0)

    def part_of(self, at: time) -> str:
        """The daypart a local wall-clock time falls in."""
        if self.morning <= at < self.afternoon:
            return "morning"
        if self.afternoon <= at < self.evening:
            return "afternoon"
        if self.evening <= at < self.night:
            return "evening"
        return "night"


@dataclass(frozen=True)
class SiteSettings:
    """Everything site-specific the context classifier reads.

    :param timezone: IANA zone used when the visitor's own is not known.
    :param languages: languages the site speaks, preferred first.
    :param consent_cookie: cookie holding the visitor's consent choice.
    :param consent_required: when true, tracking needs an explicit yes in the
        consent cookie (opt-in, as under GDPR); when false, only an explicit no,
        ``DNT: 1`` or ``Sec-GPC: 1`` turns it off.
    :param visit_timeout_minutes: inactivity after which a new visit begins.
    :param internal_hosts: extra host names that count as this site.
    """

    timezone: str = "UTC"
    languages: tuple[str, ...] = ("en",)
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    dayparts: Dayparts = field(default_factory=Dayparts)
    consent_cookie: str = "pz_consent"
    consent_required: bool = False
    visit_timeout_minutes: int = 30
    internal_hosts: tuple[str, ...] = ()
