"""Visits, sessions and the profile's bounds under a frozen clock; signed visitor ids."""

from __future__ import annotations

import pytest

from personalize.context.history import (
    MAX_EXPOSURES,
    MAX_SECTIONS,
    Exposure,
    advance,
    chosen_since,
    history_of,
    merge_profiles,
    record_exposures,
    record_outcome,
)
from personalize.context.referrer import Referrer
from personalize.context.visitor import VisitorIds

SEARCH = Referrer("search", "google", "www.google.com")
INTERNAL = Referrer("internal", "", "shop.example")
DIRECT = Referrer("direct")
EMAIL = Referrer("email", "newsletter", medium="email", campaign="winter")
TIMEOUT = 30 * 60.0


def pageviews(steps: list[tuple[float, str, Referrer]]) -> dict[str, object]:
    profile = None
    for at, path, referrer in steps:
        profile = advance(profile, now=at, path=path, section=path.strip("/") or "home",
                          referrer=referrer, visit_timeout=TIMEOUT)
    assert profile is not None
    return profile


def test_first_pageview_starts_a_visit() -> None:
    history = history_of(pageviews([(1000.0, "/", SEARCH)]), 1000.0)
    assert (history.visits, history.pageviews, history.visit_pageviews) == (1, 1, 1)
    assert history.landing_page == "/" and history.channel == SEARCH


def test_inactivity_of_30_minutes_starts_a_new_visit() -> None:
    profile = pageviews([(0.0, "/", SEARCH), (60.0, "/products", INTERNAL),
                         (60.0 + TIMEOUT - 1, "/cart", INTERNAL),
                         (60.0 + 2 * TIMEOUT + 1, "/support", DIRECT)])
    history = history_of(profile, 60.0 + 2 * TIMEOUT + 1)
    assert history.visits == 2
    assert history.pageviews == 4 and history.visit_pageviews == 1
    assert history.landing_page == "/support"
    assert history.sections[:2] == ("support", "cart")


def test_internal_navigation_keeps_the_visits_channel() -> None:
    profile = pageviews([(0.0, "/", EMAIL), (10.0, "/products", INTERNAL), (20.0, "/x", DIRECT)])
    assert history_of(profile, 20.0).channel == EMAIL


def test_a_new_campaign_mid_visit_replaces_the_channel() -> None:
    profile = pageviews([(0.0, "/", EMAIL), (10.0, "/sale", SEARCH)])
    assert history_of(profile, 10.0).channel == SEARCH


def test_profile_lists_stay_bounded() -> None:
    profile = pageviews([(float(i), f"/s{i}", INTERNAL) for i in range(50)])
    profile = record_exposures(profile, [Exposure("hero", f"v{i}", ("promo",), float(i))
                                         for i in range(500)])
    history = history_of(profile, 500.0)
    assert len(history.sections) == MAX_SECTIONS
    assert len(history.exposures) == MAX_EXPOSURES
    assert history.exposures[-1].variant == "v499"
    assert history.last_shown["hero"] == ("v499", 499.0)


def test_outcomes_are_counted() -> None:
    profile = pageviews([(0.0, "/", DIRECT)])
    profile = record_outcome(profile, "conversion", now=86400.0 * 2)
    profile = record_outcome(profile, "feedback", now=0.0, value=-1)
    history = history_of(profile, 86400.0 * 3)
    assert history.conversions == 1 and history.days_since_conversion == pytest.approx(1.0)
    assert history.feedback_negative == 1 and history.feedback_positive == 0


def test_the_profile_keeps_the_latest_chosen_decision_of_each_variant() -> None:
    profile = pageviews([(0.0, "/", DIRECT)])
    profile = record_exposures(profile, [Exposure("hero", "sale", ("promo",), 10.0, "d1"),
                                         Exposure("promo", "none", ("calm",), 10.0)])
    profile = record_exposures(profile, [Exposure("hero", "sale", ("promo",), 20.0, "d2"),
                                         Exposure("hero", "calm", (), 30.0, "d3")])
    credited = {(e.slot, e.variant): e.decision for e in chosen_since(profile, 0.0)}
    assert credited == {("hero", "sale"): "d2", ("hero", "calm"): "d3"}  # not the unchosen promo
    assert [e.decision for e in chosen_since(profile, 25.0)] == ["d3"]
    other = record_exposures(pageviews([(0.0, "/", DIRECT)]),
                             [Exposure("hero", "sale", (), 40.0, "d4"),
                              Exposure("cta", "buy", (), 5.0, "d5")])
    merged = {(e.slot, e.variant): e.decision for e in chosen_since(
        merge_profiles(profile, other), 0.0)}
    assert merged == {("hero", "sale"): "d4", ("hero", "calm"): "d3", ("cta", "buy"): "d5"}


def test_visitor_ids_are_random_and_signed() -> None:
    ids = VisitorIds("a-secret-for-tests-only")
    first, second = ids.new(), ids.new()
    assert first != second and len(first) == 32
    assert ids.read(ids.sign(first)) == first


def test_a_cookie_is_the_id_and_a_mac_of_it() -> None:
    ids, visitor = VisitorIds("a-secret-for-tests-only"), "0123456789abcdef" * 2
    cookie = ids.sign(visitor)
    assert cookie.split(".")[0] == visitor and len(cookie.split(".")[1]) == 43
    assert ids.read(cookie + "x") is None
    assert ids.read("not-hex." + cookie.split(".")[1]) is None
    assert ids.read(visitor + ".\u00e9\u00e9") is None  # non-ASCII signature: refused, no error


@pytest.mark.parametrize(
    "tamper",
    [
        # a middle character: the last one of a base64 HMAC carries padding bits,
        # so changing it may not change the signature at all
        pytest.param(lambda v: v[:-10] + ("A" if v[-10] != "A" else "B") + v[-9:],
                     id="signature"),
        pytest.param(lambda v: "0" * 32 + v[32:], id="id-swapped"),
        pytest.param(lambda v: "", id="empty"),
        pytest.param(lambda v: "x" * 5000, id="huge"),
        pytest.param(lambda v: "\x00\xff.garbage", id="binary"),
        pytest.param(lambda v: VisitorIds("another-secret-entirely").sign(v.split(".")[0]),
                     id="other-secret"),
    ],
)
def test_a_tampered_cookie_is_a_new_visitor_not_an_error(tamper) -> None:  # type: ignore[no-untyped-def]
    ids = VisitorIds("a-secret-for-tests-only")
    assert ids.read(tamper(ids.sign(ids.new()))) is None
