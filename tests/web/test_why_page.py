"""The "why am I seeing this?" page tells each visitor the truth about their decision."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from personalize.engine import Personalizer
from personalize.web.app import NOT_REMEMBERED, PersonalizeWeb

RULES = Path(__file__).resolve().parents[2] / "rules"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


@pytest.fixture
def engine() -> Iterator[Personalizer]:
    engine = Personalizer(rules=RULES, store="memory://", secret="why-page-secret-0123456789",
                          background_sync=False)
    yield engine
    engine.close()


def decide(engine: Personalizer, cookie: str) -> tuple[str, str | None]:
    """A page's hero decision id, and the visitor it was made for (``None``: not tracked)."""
    visit = engine.visit(EnvironBuilder(path="/", headers={
        "User-Agent": PHONE, "Cookie": cookie}).get_environ())
    decision = engine.decide(visit.context, "hero")
    engine.commit(visit, [decision])
    return decision.id, visit.context.visitor_id


def why(engine: Personalizer, token: str, cookie: str = "") -> tuple[int, str]:
    environ = EnvironBuilder(path="/_personalize/why", query_string={"d": token},
                             headers={"Cookie": cookie}).get_environ()
    body, status, _ = run_wsgi_app(PersonalizeWeb(engine), environ)
    return int(status.split()[0]), html.unescape(b"".join(body).decode())


def test_a_visitor_without_consent_is_told_nothing_was_kept(engine: Personalizer) -> None:
    token, visitor = decide(engine, "")
    assert visitor is None
    status, page = why(engine, token)
    assert status == 200
    assert NOT_REMEMBERED in page
    assert "this one is gone" not in page


def test_a_tracked_visitor_sees_the_logged_reasons(engine: Personalizer) -> None:
    consent = "paahtimo_consent=yes"
    visit = engine.visit(EnvironBuilder(path="/", headers={
        "User-Agent": PHONE, "Cookie": consent}).get_environ())
    cookie = f"{consent}; pz_vid={visit.new_visitor_cookie}"
    token, visitor = decide(engine, cookie)
    assert visitor is not None
    engine.store.flush()
    status, page = why(engine, token, cookie)
    assert status == 200
    assert NOT_REMEMBERED not in page
    assert "you are on a phone" in page
    # another browser is not shown this visitor's reasons
    assert why(engine, token)[0] == 403
