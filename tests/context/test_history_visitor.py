"""Visits, sessions and the profile's bounds under a frozen clock; signed visitor ids."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.context.history import (
    MAX_EXPOSURES,
    MAX_SECTIONS,
    PROFILE_VERSION,
    Exposure,
    ExposureLog,
    _stored_channel,
    advance,
    chosen_since,
    history_of,
    merge_profiles,
    record_exposures,
    record_outcome,
)
from personalize.context.referrer import Referrer
from personalize.context.visitor import VisitorIds, request_cookies

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


def test_a_page_stores_its_time_once_and_each_shown_variant_once() -> None:
    profile = pageviews([(0.0, "/", DIRECT)])
    page = [Exposure("hero", "sale", ("promo",), 10.0), Exposure("cta", "buy", (), 10.0),
            Exposure("promo", "none", ("calm",), 10.0)]
    profile = record_exposures(record_exposures(profile, page), [e._replace(at=20.0) for e in page])
    assert profile["shown"] == [["hero", "sale", ["promo"]], ["cta", "buy", []],
                                ["promo", "none", ["calm"]]]
    assert profile["exposures"] == [[10.0, 0, 1, 2], [20.0, 0, 1, 2]]
    assert history_of(profile, 20.0).exposures == (*page, *[e._replace(at=20.0) for e in page])


def test_the_oldest_page_is_cut_to_keep_exactly_the_newest_exposures() -> None:
    profile = record_exposures(pageviews([(0.0, "/", DIRECT)]),
                               [Exposure("hero", f"v{i}", (), 1.0) for i in range(MAX_EXPOSURES)])
    profile = record_exposures(profile, [Exposure("cta", "buy", (), 2.0),
                                         Exposure("cta", "sell", (), 2.0)])
    exposures = history_of(profile, 2.0).exposures
    assert len(exposures) == MAX_EXPOSURES
    assert [e.variant for e in exposures[:2]] == ["v2", "v3"]
    assert [e.variant for e in exposures[-2:]] == ["buy", "sell"]
    assert len(profile["shown"]) == MAX_EXPOSURES  # v0 and v1 are no longer shown


def test_an_exposure_keeps_the_tags_it_was_shown_with() -> None:
    profile = record_exposures(pageviews([(0.0, "/", DIRECT)]),
                               [Exposure("hero", "sale", ("promo",), 1.0)])
    profile = record_exposures(profile, [Exposure("hero", "sale", ("calm",), 2.0)])
    history = history_of(profile, 2.0)
    assert [e.tags for e in history.exposures] == [("promo",), ("calm",)]
    assert history.exposures_since(1.5) == [Exposure("hero", "sale", ("calm",), 2.0)]


#: A profile as the previous release (version 1) wrote it.
VERSION_1 = {
    "v": 1, "visits": 2, "pv": 5, "vpv": 2, "sections": ["products", "home"], "conv": 1,
    "fb+": 0, "fb-": 1, "lastconv": 50.0, "first": 0.0, "last": 4000.0, "vstart": 3990.0,
    "landing": "/products",
    "channel": {"kind": "email", "source": "newsletter", "domain": "", "medium": "email",
                "campaign": "winter", "click_id": ""},
    "exp": [["hero", "sale", ["promo"], 10.0], ["cta", "buy", [], 10.0],
            ["hero", "calm", ["calm"], 3995.0]],
    "slots": {"hero": ["calm", 3995.0], "cta": ["buy", 10.0]},
    "chosen": {"hero": {"sale": [10.0, "d1"]}},
}
VERSION_1_EXPOSURES = (Exposure("hero", "sale", ("promo",), 10.0), Exposure("cta", "buy", (), 10.0),
                       Exposure("hero", "calm", ("calm",), 3995.0))


def test_a_version_1_profile_reads_as_it_did() -> None:
    history = history_of(VERSION_1, 4000.0)
    assert (history.visits, history.pageviews, history.visit_pageviews) == (2, 5, 2)
    assert history.sections == ("products", "home") and history.landing_page == "/products"
    assert (history.conversions, history.feedback_negative, history.visit_started) == (1, 1, 3990.0)
    assert history.channel == EMAIL
    assert history.exposures == VERSION_1_EXPOSURES
    assert history.exposures_since(3990.0) == [VERSION_1_EXPOSURES[2]]
    assert history.last_shown == {"hero": ("calm", 3995.0), "cta": ("buy", 10.0)}
    assert [(e.slot, e.variant, e.decision) for e in chosen_since(VERSION_1, 0.0)] == [
        ("hero", "sale", "d1")]


def test_a_version_1_profile_is_saved_in_the_current_form() -> None:
    profile = advance(VERSION_1, now=4010.0, path="/cart", section="cart", referrer=INTERNAL,
                      visit_timeout=TIMEOUT)
    profile = record_exposures(profile, [Exposure("cta", "buy", (), 4011.0)])
    assert profile["v"] == PROFILE_VERSION and not {"exp", "channel"} & set(profile)
    history = history_of(profile, 4011.0)
    assert history.exposures == (*VERSION_1_EXPOSURES, Exposure("cta", "buy", (), 4011.0))
    assert history.channel == EMAIL and history.pageviews == 6
    assert VERSION_1["exp"] and "channel" in VERSION_1  # the caller's dict is not changed


def test_version_1_and_current_profiles_merge() -> None:
    current = record_exposures(pageviews([(5.0, "/", SEARCH)]),
                               [Exposure("hero", "calm", ("calm",), 20.0)])
    merged = merge_profiles(VERSION_1, current)
    history = history_of(merged, 4000.0)
    assert history.exposures == (*VERSION_1_EXPOSURES[:2],
                                 Exposure("hero", "calm", ("calm",), 20.0), VERSION_1_EXPOSURES[2])
    assert history.channel == EMAIL and history.visits == 3  # VERSION_1 was active last


def test_an_exposure_log_is_a_sequence_of_exposures() -> None:
    log = ExposureLog([["hero", "sale", ["promo"]], ["cta", "buy", []]],
                      [[10.0, 0, 1], [20, 1]])
    expected = (Exposure("hero", "sale", ("promo",), 10.0), Exposure("cta", "buy", (), 10.0),
                Exposure("cta", "buy", (), 20.0))
    assert len(log) == 3 and log[-1] == expected[-1] and log[:2] == expected[:2]
    assert log == expected and list(log) == list(expected)
    assert isinstance(log[2].at, float)


@settings(max_examples=200, deadline=None)
@given(pages=st.lists(st.tuples(st.floats(0, 100), st.lists(st.sampled_from([
    ("hero", "sale", ("promo",)), ("hero", "calm", ("calm",)), ("cta", "sale", ("promo", "x")),
    ("cta", "buy", ())]), min_size=1, max_size=3)), max_size=30),
       since=st.floats(0, 100), variant=st.sampled_from(["sale", "calm", "buy", "none"]),
       tags=st.sampled_from([None, frozenset({"promo"}), frozenset({"calm", "x"}),
                             frozenset({"other"})]))
def test_counting_exposures_in_the_stored_form_counts_as_the_exposures_do(
        pages: list[tuple[float, list[tuple[str, str, tuple[str, ...]]]]], since: float,
        variant: str, tags: frozenset[str] | None) -> None:
    profile: dict[str, Any] = {}
    for at, shown in sorted(pages):
        profile = record_exposures(advance(profile or None, now=at, path="/", section="home",
                                           referrer=DIRECT, visit_timeout=1800.0),
                                   [Exposure(slot, v, t, at) for slot, v, t in shown])
    stored = history_of(profile or None, 100.0)
    decoded = replace(stored, exposures=tuple(stored.exposures))
    expected = sum(1 for e in decoded.exposures if e.at >= since
                   and (e.variant == variant if tags is None else not tags.isdisjoint(e.tags)))
    assert stored.count_since(since, variant=variant, tags=tags) == expected
    assert decoded.count_since(since, variant=variant, tags=tags) == expected


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


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("", {}, id="none"),
        pytest.param("pz_vid=abc; pz_consent=yes", {"pz_vid": "abc", "pz_consent": "yes"},
                     id="two"),
        pytest.param("pz_vid=first; pz_vid=second", {"pz_vid": "first"}, id="first-wins"),
        pytest.param('pz_tz="Europe\\057Helsinki"', {"pz_tz": "Europe/Helsinki"}, id="quoted"),
        pytest.param("pz_tz=\xc3\xa9t\xff\xfe; a=1", {"pz_tz": "\u00e9t", "a": "1"},
                     id="not-utf8"),
    ],
)
def test_request_cookies_match_werkzeug(header: str, expected: dict[str, str]) -> None:
    assert request_cookies({"HTTP_COOKIE": header}) == expected


def test_a_channel_read_back_is_shared_but_equal_and_its_cache_bounded() -> None:
    profile = pageviews([(0.0, "/", EMAIL), (10.0, "/cart", INTERNAL)])
    first, again = history_of(profile, 20.0).channel, history_of(dict(profile), 30.0).channel
    assert first == EMAIL and first is again
    size = _stored_channel.cache_info().maxsize
    assert size is not None
    for i in range(size + 10):
        history_of(pageviews([(0.0, "/", Referrer("email", campaign=f"c{i}"))]), 1.0)
    assert _stored_channel.cache_info().currsize <= size


def test_the_mac_is_keyed_blake2b_of_the_id() -> None:
    # the cookie format: id, then the unpadded url-safe base64 of this MAC
    secret, visitor = "a-secret-for-tests-only", "0123456789abcdef" * 2
    key = hashlib.sha256(b"personalize.visitor|" + secret.encode()).digest()
    mac = hashlib.blake2b(visitor.encode(), key=key, digest_size=32).digest()
    signature = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    ids = VisitorIds(secret)
    for _ in range(2):  # the keyed state is copied, never consumed
        assert ids.sign(visitor) == f"{visitor}.{signature}"
