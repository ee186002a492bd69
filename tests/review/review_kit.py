"""A small shop's traffic, simulated by driving the engine, for the dashboard's tests.

>>> clock = Clock()
>>> engine = make_engine("memory://", clock)
>>> simulate(engine, clock, visitors=120, seed=1)

Visitors arrive through real WSGI environs (werkzeug's ``EnvironBuilder``),
every slot is decided and committed as a page would, and clicks, conversions
(some server-side, without a decision id) and complaints follow with
probabilities that differ per variant, so the reports have something to show.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from personalize.context.visitor import VISITOR_COOKIE
from personalize.decision import Decision
from personalize.engine import Personalizer
from personalize.rules import RuleReloader
from personalize.rules.model import Variant
from personalize.store.base import Store
from personalize.web.review import review_blueprint
from personalize.web.review.auth import LoginLimiter

RULES = Path(__file__).resolve().parent / "rules"
SECRET = "review-tests-secret-0123456789abcdef"
START = 1_777_860_000.0  # 2026-05-04 02:00 UTC, a Monday: 05:00 in Helsinki
PASSWORD = "correct horse battery staple"

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
)
REFERRERS = ("", "https://www.google.com/", "https://www.facebook.com/")
#: chance of a click per variant; the night banner and the countdown draw complaints
CLICK = {"hero-default": 0.10, "hero-night": 0.25, "hero-guide": 0.15, "cta-add": 0.20,
         "cta-fresh": 0.30, "promo-shipping": 0.05, "promo-countdown": 0.12}
COMPLAINT = {"promo-countdown": 0.05}


class Clock:
    """A clock the simulation moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def render(variant: Variant) -> str:
    """What the host app would render for key-based variants."""
    return variant.html if variant.html is not None else f"<button>{variant.key}</button>"


def make_engine(store: Store | str, clock: Clock,
                rules: Path | RuleReloader = RULES) -> Personalizer:
    """The test shop's engine, on the given store and clock."""
    return Personalizer(rules=rules, store=store, secret=SECRET, renderer=render,
                        reward_window=600.0, sync_interval=60.0, background_sync=False,
                        clock=clock, random_state=0)


def simulate(engine: Personalizer, clock: Clock, *, visitors: int = 150, seed: int = 0,
             step: float = 900.0) -> list[Decision]:
    """Drive ``visitors`` visits (a third come back once) through the engine.

    :param step: seconds between two visitors' arrivals.
    :returns: every decision made, in order.
    """
    rng = random.Random(seed)
    made: list[Decision] = []
    cookies: list[str] = []
    for _ in range(visitors):
        clock.now += step * rng.uniform(0.5, 1.5)
        cookie = rng.choice(cookies) if cookies and rng.random() < 0.33 else None
        environ = _environ(rng, cookie)
        visit = engine.visit(environ)
        if visit.new_visitor_cookie:
            cookies.append(visit.new_visitor_cookie)
        decisions: list[Decision] = []
        for slot in engine.ruleset.slots:
            decisions.append(engine.decide(visit.context, slot))
        engine.commit(visit, decisions)
        made.extend(decisions)
        visitor = visit.context.visitor_id
        assert visitor is not None
        for decision in decisions:
            _events(engine, clock, rng, visitor, decision)
        if rng.random() < 0.1:
            # a server-side conversion: no decision id, attributed by visitor and slot
            clock.now += rng.uniform(1, 60)
            engine.record(visitor, "conversion", value=1.0)
        engine.sync()
    clock.now += 700.0
    engine.sync()
    engine.store.flush()
    return made


def _environ(rng: random.Random, cookie: str | None) -> dict[str, Any]:
    headers = {"User-Agent": rng.choice(AGENTS), "Accept-Language": "en"}
    referrer = rng.choice(REFERRERS)
    if referrer:
        headers["Referer"] = referrer
    if cookie:
        headers["Cookie"] = f"{VISITOR_COOKIE}={cookie}"
    builder = EnvironBuilder(path=rng.choice(("/", "/coffee/aamu", "/guides/pour-over")),
                             base_url="http://shop.example/", headers=list(headers.items()))
    try:
        return dict(builder.get_environ())
    finally:
        builder.close()


def _events(engine: Personalizer, clock: Clock, rng: random.Random, visitor: str,
            d: Decision) -> None:
    if rng.random() < CLICK[d.variant]:
        clock.now += rng.uniform(1, 20)
        engine.record_event(event("click", visitor, d, clock.now))
        if rng.random() < 0.3:
            clock.now += rng.uniform(1, 20)
            engine.record_event(event("conversion", visitor, d, clock.now, value=1.0))
    if rng.random() < COMPLAINT.get(d.variant, 0.0):
        clock.now += rng.uniform(1, 20)
        engine.record_event(event("complaint", visitor, d, clock.now))


def event(kind: str, visitor: str, d: Decision | Mapping[str, Any], at: float, *,
          decision: str | bool | None = True, value: float = 0.0) -> dict[str, Any]:
    """An event record as the event endpoint logs it."""
    slot = d.slot if isinstance(d, Decision) else str(d["slot"])
    variant = d.variant if isinstance(d, Decision) else str(d["variant"])
    ident = d.id if isinstance(d, Decision) else str(d["decision"])
    signal, amount = {"click": ("click", 1.0), "conversion": ("conversion", value or 1.0),
                      "complaint": ("complaint", 1.0)}[kind]
    return {"ts": at, "type": kind, "visitor": visitor,
            "decision": ident if decision is True else decision or None, "slot": slot,
            "variant": variant, "value": value, "signal": signal, "amount": amount,
            "reason": ""}


def make_app(engine: Personalizer, *, password: str | None = PASSWORD,
             limiter: LoginLimiter | None = None, **config: Any) -> Flask:
    """A host app with the dashboard under /review.

    :param password: passed to the blueprint; ``None`` leaves it to the config.
    :param config: host app config, e.g. ``PERSONALIZE_REVIEW_PASSWORD``.
    """
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "host-app-secret-key-0123456789abcdef"
    app.config.update(config)
    app.register_blueprint(review_blueprint(engine, password=password, limiter=limiter),
                           url_prefix="/review")
    return app


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: FlaskClient, password: str = PASSWORD, name: str = "Aino") -> str:
    """Sign in through the login form; the session's CSRF token."""
    token = csrf_of(client.get("/review/login").get_data(as_text=True))
    response = client.post("/review/login", data={"csrf_token": token, "password": password,
                                                  "name": name})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client.get("/review/rules").get_data(as_text=True))
