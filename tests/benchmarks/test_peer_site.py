"""The benchmarks' GrowthBook peer does the work it is compared for, and the timing harness is fair.

A peer that silently served the defaults, or tracked nothing, would make the
comparison in the README flatter us; these tests keep it honest.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask

from benchmarks.middleware import Timings, call, timings, versus
from benchmarks.throughput_site import (
    CONSENT_COOKIE,
    GROWTHBOOK_SLOTS,
    _split_at_slots,
    bare_app,
    create_app,
    growthbook_app,
    growthbook_skipped,
    page,
    visitors,
)
from personalize.context.visitor import VISITOR_COOKIE, VisitorIds

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


def fetch(app: Flask, visitor: str, *, consent: bool) -> bytes:
    client = app.test_client()
    client.set_cookie("pz_vid", visitor)
    client.set_cookie(CONSENT_COOKIE, "yes" if consent else "no")
    response = client.get("/", headers={"User-Agent": PHONE})
    assert response.status_code == 200
    return response.data


def slot_contents(body: bytes) -> dict[str, str]:
    """What each slot element holds."""
    out = {}
    for slot in GROWTHBOOK_SLOTS:
        opening = f"data-personalize-slot='{slot}'>".encode()
        start = body.index(opening) + len(opening)
        out[slot] = body[start:body.index(b"</", start)].decode()
    return out


def test_consenting_visitor_gets_a_variation_per_slot_and_is_tracked() -> None:
    viewed: list[tuple[str, str, int]] = []
    body = fetch(growthbook_app(lambda *e: viewed.append(e)), "visitor-1", consent=True)
    contents = slot_contents(body)
    for slot, variations in GROWTHBOOK_SLOTS.items():
        assert contents[slot].startswith(tuple(v.split("</")[0] for v in variations))
    assert sorted(key for _, key, _ in viewed) == [f"{slot}-test" for slot in
                                                    sorted(GROWTHBOOK_SLOTS)]
    assert {visitor for visitor, _, _ in viewed} == {"visitor-1"}
    # everything outside the slots is the bare page
    assert body.count(b"<li>") == page().count(b"<li>")


def test_visitor_without_consent_gets_the_bare_page_and_is_not_tracked() -> None:
    viewed: list[tuple[str, str, int]] = []
    body = fetch(growthbook_app(lambda *e: viewed.append(e)), "visitor-1", consent=False)
    assert body == page()
    assert viewed == []


def test_assignment_is_sticky_per_visitor_and_spreads_over_variations() -> None:
    app = growthbook_app(lambda *e: None)
    first = {f"v{i}": slot_contents(fetch(app, f"v{i}", consent=True)) for i in range(120)}
    again = {v: slot_contents(fetch(app, v, consent=True)) for v in list(first)[:20]}
    assert all(again[v] == first[v] for v in again)
    for slot, variations in GROWTHBOOK_SLOTS.items():
        assert len({contents[slot] for contents in first.values()}) == len(variations)


def test_a_page_without_the_slots_is_refused() -> None:
    with pytest.raises(ValueError, match="no 'greeting' slot"):
        _split_at_slots(b"<html><body>nothing here</body></html>")


def test_create_app_knows_the_peer_and_refuses_unknown_modes() -> None:
    assert fetch(create_app("growthbook", "memory://"), "v", consent=False) == page()
    with pytest.raises(ValueError, match="bare, wrapped or growthbook"):
        create_app("optimizely", "memory://")


def test_timings_give_every_app_the_same_visitors_in_turns() -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}

    def app_named(name: str) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            seen[name].append(environ["PATH_INFO"])
            start_response("200 OK", [])
            return [b"ok"]
        return app

    visitors = [{"PATH_INFO": f"/{i}"} for i in range(5)]
    measured = timings({"a": app_named("a"), "b": app_named("b")}, visitors, rounds=3,
                       per_round=4)
    assert seen["a"] == seen["b"] == [f"/{i % 5}" for i in range(12)]
    assert [len(measured[name].times) for name in "ab"] == [12, 12]
    assert [len(measured[name].medians) for name in "ab"] == [3, 3]


def test_versus_compares_medians_of_round_medians_and_p99s() -> None:
    bare = Timings(times=[100e-6] * 98 + [300e-6] * 2, medians=[90e-6, 100e-6, 110e-6])
    page = Timings(times=[400e-6] * 98 + [1000e-6] * 2, medians=[380e-6, 400e-6, 500e-6])
    assert versus(bare, page) == {
        "requests": 100, "bare_us": 100.0, "wrapped_us": 400.0, "ratio": 4.0,
        "added_us": 300.0, "bare_p99_us": 300.0, "wrapped_p99_us": 1000.0,
        "added_p99_us": 700.0}


def test_call_runs_a_real_page_to_the_end() -> None:
    app = bare_app().wsgi_app
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
    assert call(app, environ) > 0


def test_the_peer_is_skipped_with_a_reason_only_when_growthbook_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert growthbook_skipped() == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert growthbook_skipped() == ["growthbook: not installed (pip install -e '.[dev]')"]


def test_load_visitors_are_returning_consenting_and_signed() -> None:
    ids = VisitorIds("load-secret-0123456789abcdef")
    people = visitors(ids.sign, 5)
    cookies = [dict(part.split("=", 1) for part in cookie.split("; ")) for cookie, _ in people]
    assert [ids.read(c[VISITOR_COOKIE]) for c in cookies] == [f"{i:032x}" for i in range(5)]
    assert {c[CONSENT_COOKIE] for c in cookies} == {"yes"}
    assert all(agent for _, agent in people)
