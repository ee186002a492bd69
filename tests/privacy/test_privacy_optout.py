"""The visitor's own opt-out: ``POST /_personalize/optout`` erases and stops remembering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.badinput.demo_kit import CONSENT, Demo, make_demo, visitor_id
from tests.privacy.dump import dump_sqlite


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[Demo, Path]]:
    path = tmp_path / "p.db"
    demo = make_demo(f"sqlite:///{path}")
    try:
        yield demo, path
    finally:
        demo.engine.store.close()


def everything(demo: Demo, path: Path) -> str:
    demo.engine.store.flush()
    return "\n".join(dump_sqlite(path).values())


def profiles(path: Path) -> int:
    return len(dump_sqlite(path)["profiles"].splitlines())


def test_opting_out_erases_the_visitor_and_stops_remembering(shop: tuple[Demo, Path]) -> None:
    demo, path = shop
    first = demo.get("/")
    cookie = first.visitor_cookie
    assert cookie is not None
    visitor = visitor_id(cookie)
    demo.get("/", cookie=cookie)
    click = {"type": "click", "decision": first.decisions["hero"]}
    assert demo.post("/_personalize/events", json.dumps(click), cookie=cookie).status == 202
    other = demo.get("/").visitor_cookie  # someone else, who stays
    assert other is not None
    assert visitor in everything(demo, path)
    assert demo.engine.store.get_profile(visitor) is not None

    out = demo.post("/_personalize/optout", cookie=f"{CONSENT}=yes; {cookie}",
                    content_type="application/x-www-form-urlencoded")
    assert out.status == 200
    assert "Personalization is off" in out.body
    assert out.cookies[CONSENT] == "no"
    deleted = [line for line in out.set_cookies if line.startswith("pz_vid=")]
    assert len(deleted) == 1 and "Max-Age=0" in deleted[0]
    assert demo.engine.store.get_profile(visitor) is None
    assert visitor not in everything(demo, path)
    assert demo.engine.store.get_profile(visitor_id(other)) is not None
    assert demo.engine.counters.get("optouts") == 1

    # the browser now sends the consent cookie the opt-out set, and no visitor cookie
    before = profiles(path)
    after = demo.get("/", consent=False, cookie=f"{CONSENT}=no")
    assert after.status == 200
    assert after.visitor_cookie is None
    assert profiles(path) == before
    assert visitor not in everything(demo, path)


def test_a_stale_visitor_cookie_after_opting_out_is_ignored(shop: tuple[Demo, Path]) -> None:
    """A client that keeps sending the old visitor cookie is still not remembered."""
    demo, path = shop
    cookie = demo.get("/").visitor_cookie
    assert cookie is not None
    visitor = visitor_id(cookie)
    assert demo.post("/_personalize/optout", cookie=cookie).status == 200
    for _ in range(3):
        page = demo.get("/", consent=False, cookie=f"{CONSENT}=no; {cookie}")
        assert page.status == 200 and page.visitor_cookie is None
    assert demo.engine.store.get_profile(visitor) is None
    assert visitor not in everything(demo, path)


def test_opting_out_without_a_visitor_cookie_sets_the_choice(shop: tuple[Demo, Path]) -> None:
    demo, path = shop
    out = demo.post("/_personalize/optout")
    assert out.status == 200
    assert out.cookies[CONSENT] == "no"
    assert profiles(path) == 0
