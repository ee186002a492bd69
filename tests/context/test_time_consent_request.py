"""Local time, consent and request facts: pure functions over plain data."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize.context.consent import read_consent
from personalize.context.request import preferred_language, section_of
from personalize.context.site import BusinessHours, Dayparts, SiteSettings
from personalize.context.time import classify_time, valid_timezone

HELSINKI = SiteSettings(timezone="Europe/Helsinki", languages=("en", "fi"))


@pytest.mark.parametrize(
    ("utc", "cookie", "zone", "source", "hour", "daypart", "weekday"),
    [
        pytest.param("2026-11-23T21:30:00", None, "Europe/Helsinki", "site", 23, "night", "mon",
                     id="site-zone-night"),
        pytest.param("2026-11-23T08:00:00", "America/New_York", "America/New_York", "cookie", 3,
                     "night", "mon", id="cookie-zone"),
        pytest.param("2026-11-23T08:00:00", "Not/AZone", "Europe/Helsinki", "site", 10,
                     "morning", "mon", id="bad-cookie-falls-back"),
        pytest.param("2026-11-23T08:00:00", "../../etc/passwd", "Europe/Helsinki", "site", 10,
                     "morning", "mon", id="path-traversal-cookie"),
        pytest.param("2026-11-28T12:00:00", None, "Europe/Helsinki", "site", 14, "afternoon",
                     "sat", id="weekend-afternoon"),
        pytest.param("2026-07-01T16:30:00", None, "Europe/Helsinki", "site", 19, "evening",
                     "wed", id="summer-time-offset"),
    ],
)
def test_local_time(utc: str, cookie: str | None, zone: str, source: str, hour: int,
                    daypart: str, weekday: str) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    result = classify_time(now, HELSINKI, cookie)
    assert (result.timezone, result.source, result.hour, result.daypart, result.weekday) == (
        zone, source, hour, daypart, weekday)
    assert result.weekend == (weekday in ("sat", "sun"))


def test_business_hours_use_the_sites_zone_not_the_visitors() -> None:
    # 08:00 UTC is 10:00 in Helsinki (open) but 03:00 in New York.
    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert classify_time(now, HELSINKI, "America/New_York").business_hours
    assert not classify_time(datetime(2026, 11, 23, 16, 0, tzinfo=UTC), HELSINKI).business_hours


def test_configured_dayparts_and_hours() -> None:
    site = SiteSettings(dayparts=Dayparts(morning=time(5), afternoon=time(11),
                                          evening=time(17), night=time(23)),
                        business_hours=BusinessHours(days=frozenset({"sat"}), opens=time(10),
                                                     closes=time(14)))
    at = classify_time(datetime(2026, 11, 28, 10, 30, tzinfo=UTC), site)
    assert at.daypart == "morning" and at.business_hours
    assert classify_time(datetime(2026, 11, 28, 22, 30, tzinfo=UTC), site).daypart == "evening"


@given(st.text(max_size=80))
def test_any_cookie_value_is_validated_without_raising(value: str) -> None:
    assert valid_timezone(value) in (True, False)


@pytest.mark.parametrize(
    ("dnt", "gpc", "cookie", "required", "tracking", "reason"),
    [
        pytest.param(None, None, None, False, True, "", id="no-signal-opt-out-site"),
        pytest.param("1", None, None, False, False, "dnt", id="dnt"),
        pytest.param("0", None, None, False, True, "", id="dnt-zero"),
        pytest.param(None, "1", "yes", False, False, "gpc", id="gpc-beats-cookie"),
        pytest.param(None, None, "denied", False, False, "cookie", id="cookie-no"),
        pytest.param(None, None, "granted", True, True, "", id="opt-in-given"),
        pytest.param(None, None, None, True, False, "no_consent", id="opt-in-missing"),
        pytest.param(None, None, "maybe", True, False, "no_consent", id="opt-in-garbage"),
    ],
)
def test_consent(dnt: str | None, gpc: str | None, cookie: str | None, required: bool,
                 tracking: bool, reason: str) -> None:
    consent = read_consent(dnt, gpc, cookie, SiteSettings(consent_required=required))
    assert (consent.tracking, consent.reason) == (tracking, reason)
    assert consent.explanation


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("fi-FI,fi;q=0.9,en;q=0.8", "fi", id="regional-finnish"),
        pytest.param("de-DE,en;q=0.5,fi;q=0.7", "fi", id="q-values-order"),
        pytest.param("sv", "en", id="unsupported-falls-back"),
        pytest.param("", "en", id="empty"),
        pytest.param("fi;q=abc,en", "en", id="bad-q-skipped"),
        pytest.param("en;q=0.8,fi;q=0.8", "en", id="tie-keeps-order"),
    ],
)
def test_preferred_language(header: str, expected: str) -> None:
    assert preferred_language(header, ("en", "fi")) == expected


@pytest.mark.parametrize(
    ("path", "section"),
    [("/", "home"), ("/products/espresso", "products"), ("/Support", "support"), ("", "home")],
)
def test_section_of(path: str, section: str) -> None:
    assert section_of(path) == section
