"""Referrer classification: the spec table in ``referrers_cases.json``, the data file, fuzzing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.context.referrer import (
    AD_CLICK_IDS,
    KINDS,
    MAX_INPUT,
    MAX_VALUE,
    TABLE,
    Referrer,
    _by_host,
    _classify,
    _referer_host,
    classify_referrer,
    compile_table,
    lookup_host,
)

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "referrers_cases.json").read_text("utf-8"))["cases"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES])
def test_case_table(case: dict[str, Any]) -> None:
    got = classify_referrer(case["referer"], case["query"], case.get("host", "shop.example"),
                            tuple(case.get("internal_hosts", ())))
    assert got == Referrer(**case["expect"])


def test_case_table_covers_every_kind_and_is_large() -> None:
    assert len(CASES) >= 60
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert {c["expect"]["kind"] for c in CASES} == set(KINDS)


def test_click_id_networks_are_known_sources() -> None:
    for network in AD_CLICK_IDS.values():
        assert network in TABLE.names


@pytest.mark.parametrize(("host", "expected"), [
    pytest.param("www.google.com", ("search", "google"), id="any-tld-exact-www"),
    pytest.param("google.com.br", ("search", "google"), id="any-tld-com-cc"),
    pytest.param("google.co.jp", ("search", "google"), id="any-tld-co-cc"),
    pytest.param("google.org", None, id="any-tld-is-com-or-country-code"),
    pytest.param("maps.google.com", None, id="exact-pattern-not-subdomains"),
    pytest.param("mail.google.com", ("email", "gmail"), id="exact-beats-any-tld"),
    pytest.param("mail.yahoo.co.uk", ("email", "yahoo-mail"), id="suffix-any-tld"),
    pytest.param("uk.search.yahoo.com", ("search", "yahoo"), id="suffix-any-tld-subdomain"),
    pytest.param("news.yahoo.com", None, id="sibling-not-matched"),
    pytest.param("notfacebook.com", None, id="suffix-on-label-boundary"),
    pytest.param("facebook.com.evil.example", None, id="prefix-not-matched"),
    pytest.param("webmail.example.net", None, id="mail-guess-is-not-in-table"),
    pytest.param("", None, id="empty"),
])
def test_lookup_host(host: str, expected: tuple[str, str] | None) -> None:
    assert lookup_host(host) == expected


def _data(*entries: dict[str, Any], aliases: dict[str, str] | None = None) -> dict[str, Any]:
    return {"sources": list(entries), "aliases": aliases or {}}


def test_most_specific_pattern_wins_whatever_the_order() -> None:
    table = compile_table(_data(
        {"source": "b", "kind": "social", "hosts": [".example.*"]},
        {"source": "a", "kind": "email", "hosts": [".mail.example.com"]},
    ))
    assert lookup_host("x.mail.example.com", table) == ("email", "a")
    assert lookup_host("x.other.example.com", table) == ("social", "b")


@pytest.mark.parametrize(("data", "message"), [
    pytest.param(_data({"source": "a", "kind": "direct", "hosts": ["a.com"]}),
                 "kind 'direct'", id="kind-not-external"),
    pytest.param(_data({"source": "a", "kind": "search", "hosts": ["A.com"]}),
                 "not a host pattern", id="upper-case"),
    pytest.param(_data({"source": "a", "kind": "search", "hosts": ["*.a.com"]}),
                 "not a host pattern", id="leading-star"),
    pytest.param(_data({"source": "a", "kind": "search", "hosts": ["a.com"]},
                       {"source": "b", "kind": "social", "hosts": ["www.a.com"]}),
                 "already listed for 'a'", id="duplicate-host"),
    pytest.param(_data({"source": "a", "kind": "search", "hosts": ["a.com"]},
                       aliases={"x": "missing"}),
                 "alias 'x'", id="alias-to-unknown-source"),
    pytest.param(_data({"source": "a", "kind": "search", "hosts": ["a.com"]},
                       aliases={"a": "a"}),
                 "alias 'a'", id="alias-shadows-source"),
])
def test_bad_data_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compile_table(data)


def test_long_inputs_are_cut() -> None:
    long_path = "https://www.bing.com/" + "a" * 1_000_000
    assert classify_referrer(long_path, "", "shop.example").source == "bing"
    late = "x=" + "y" * MAX_INPUT + "&utm_medium=email"
    assert classify_referrer(None, late, "shop.example").kind == "direct"
    long_value = classify_referrer(None, "utm_campaign=" + "c" * 500, "shop.example")
    assert long_value.campaign == "c" * MAX_VALUE
    too_long_host = "https://" + "a" * 250 + ".example/"
    assert classify_referrer(too_long_host, "", "shop.example").kind == "direct"


def test_values_are_cleaned() -> None:
    got = classify_referrer(None, "utm_campaign=a%00b%0Ac%ED%A0%80d&utm_source=\ud800x",
                            "shop.example")
    assert got.campaign == "abc\ufffd\ufffd\ufffdd"
    assert got.source == "?x"


def test_lookup_is_fast() -> None:
    calls = [("https://www.google.fi/", ""), (None, "utm_source=chatgpt.com&utm_medium=ref"),
             ("https://l.facebook.com/", "fbclid=IwAR0"), ("https://shop.example/a", "")]
    for referer, query in calls:
        classify_referrer(referer, query, "shop.example")
    rounds = 2000
    start = time.perf_counter()
    for _ in range(rounds):
        for referer, query in calls:
            classify_referrer(referer, query, "shop.example")
    per_call = (time.perf_counter() - start) / (rounds * len(calls))
    assert per_call < 50e-6  # a few microseconds expected; generous for loaded CI machines


def _check(got: Referrer) -> None:
    assert got.kind in KINDS
    for value in (got.source, got.domain, got.medium, got.campaign, got.click_id):
        assert isinstance(value, str)
        value.encode("utf-8")  # storable: no lone surrogates
    assert len(got.medium) <= MAX_VALUE and len(got.campaign) <= MAX_VALUE
    assert got.click_id in ("", "fbclid", *AD_CLICK_IDS)


@settings(max_examples=400, deadline=None)
@given(referer=st.none() | st.text(), query=st.text(), host=st.text(),
       internal=st.lists(st.text(), max_size=3))
def test_never_raises_on_arbitrary_text(referer: str | None, query: str, host: str,
                                        internal: list[str]) -> None:
    _check(classify_referrer(referer, query, host, tuple(internal)))


_label = st.text(st.sampled_from("abcxyz019-_.%[]:@ü"), max_size=12)


@settings(max_examples=400, deadline=None)
@given(scheme=st.sampled_from(["http", "https", "android-app", "", "1bad", "HTTP"]),
       userinfo=st.none() | _label, host=_label, port=st.none() | _label, rest=st.text(),
       query=st.lists(st.tuples(st.sampled_from(["utm_source", "utm_medium", "utm_campaign",
                                                 "gclid", "fbclid", "UTM_MEDIUM", "x"]),
                                st.text()), max_size=4))
def test_never_raises_on_url_shaped_text(scheme: str, userinfo: str | None, host: str,
                                         port: str | None, rest: str,
                                         query: list[tuple[str, str]]) -> None:
    authority = (f"{userinfo}@" if userinfo is not None else "") + host
    authority += f":{port}" if port is not None else ""
    referer = f"{scheme}://{authority}/{rest}" if scheme else f"//{authority}/{rest}"
    query_string = "&".join(f"{k}={v}" for k, v in query)
    got = classify_referrer(referer, query_string, "Shop.Example:80")
    _check(got)
    assert got.domain == got.domain.lower()


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES
                                  if "=" not in c["query"] and c["referer"]])
def test_a_cached_channel_is_the_one_classified_afresh(case: dict[str, Any]) -> None:
    host, internal = case.get("host", "shop.example"), tuple(case.get("internal_hosts", ()))
    first = classify_referrer(case["referer"], case["query"], host, internal)
    referer_host = _referer_host(case["referer"])
    fresh = _classify({}, referer_host, host, internal) if referer_host else first
    assert first == fresh == classify_referrer(case["referer"], case["query"], host, internal)


def test_the_channel_cache_is_keyed_by_hosts_and_bounded() -> None:
    a = classify_referrer("https://www.google.com/search?q=one", "", "shop.example")
    b = classify_referrer("https://www.google.com/other/path", "page=2", "shop.example")
    assert a is b  # the path and a query without campaign parameters are not in the key
    size = _by_host.cache_info().maxsize
    assert size is not None
    for i in range(size + 10):
        classify_referrer(f"https://site{i}.example/", "", "shop.example")
    assert _by_host.cache_info().currsize <= size
