"""The visitor's local time: daypart, weekday, weekend, business hours.

The visitor's own zone comes from a time-zone cookie that the optional beacon
writes; it is validated against the IANA database, and the site's zone is used
when it is missing or not a real zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .site import WEEKDAYS, SiteSettings

_ZONE_SHAPE = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+){0,2}")


@dataclass(frozen=True, slots=True)
class LocalTime:
    """When the visit happens, in the visitor's zone (business hours in the site's)."""

    local: datetime
    timezone: str
    source: str  # "cookie" | "site"
    hour: int
    daypart: str
    weekday: str
    weekend: bool
    business_hours: bool


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached :class:`ZoneInfo`; ``name`` must already be valid."""
    return ZoneInfo(name)


def valid_timezone(name: str | None) -> bool:
    """True when ``name`` is a real IANA time-zone name."""
    return (
        bool(name)
        and len(name) <= 64  # type: ignore[arg-type]
        and _ZONE_SHAPE.fullmatch(name) is not None  # type: ignore[arg-type]
        and name in _known_zones()
    )


def classify_time(now: datetime, site: SiteSettings, tz_cookie: str | None = None) -> LocalTime:
    """Local time facts for an aware ``now``, in the cookie's zone when it is valid."""
    if tz_cookie and valid_timezone(tz_cookie):
        name, source = tz_cookie, "cookie"
    else:
        name, source = site.timezone, "site"
    local = now.astimezone(zone(name))
    site_local = local if name == site.timezone else now.astimezone(zone(site.timezone))
    hours = site.business_hours
    weekday = WEEKDAYS[local.weekday()]
    return LocalTime(
        local=local,
        timezone=name,
        source=source,
        hour=local.hour,
        daypart=site.dayparts.part_of(local.time()),
        weekday=weekday,
        weekend=weekday in ("sat", "sun"),
        business_hours=WEEKDAYS[site_local.weekday()] in hours.days
        and hours.opens <= site_local.time() < hours.closes,
    )
