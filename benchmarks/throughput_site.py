"""The site ``benchmarks/throughput.py`` serves with gunicorn: one 20 KB page, 3 slots.

::

    PZ_BENCH_MODE=wrapped PZ_BENCH_STORE=sqlite:////tmp/b.db gunicorn benchmarks.throughput_site:app

``PZ_BENCH_MODE`` is ``bare`` (the Flask app alone: the slot markers' default
content is served as is), ``wrapped`` (the same app with ``Personalize(app)``,
the demo shop's rules and ``PZ_BENCH_STORE``) or ``growthbook`` (the peer: the
same page with its three slots filled by GrowthBook's Python SDK, see
:func:`growthbook_app`). The bare and GrowthBook apps never import personalize,
so each server pays only for what it serves.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, request

ROOT = Path(__file__).resolve().parent.parent
SECRET = "throughput-benchmark-secret-0123456789"
CONSENT_COOKIE = "paahtimo_consent"  # the demo rules ask for opt-in consent


def page() -> bytes:
    """About 20 KB of ordinary HTML with three slot markers holding their defaults."""
    items = "".join(f"<li><a href='/products/{i}'>Coffee number {i}</a> — roasted on "
                    f"Tuesday, 250 g, {10 + i % 7},90 €</li>" for i in range(210))
    html = (f"<!doctype html><html><head><title>Shop</title></head><body>"
            f"<header data-personalize-slot='greeting'>Welcome</header>"
            f"<section data-personalize-slot='hero'>Freshly roasted</section><ul>{items}</ul>"
            f"<aside data-personalize-slot='promo'>Free shipping</aside></body></html>")
    return html.encode()


def visitors(sign: Callable[[str], str], count: int = 1000) -> list[tuple[str, str]]:
    """``(Cookie header, User-Agent)`` of returning, consenting visitors, for the load.

    :param sign: signs a visitor id into its cookie value (``VisitorIds.sign``
        with the secret of the site under load).
    """
    from personalize.context.visitor import VISITOR_COOKIE  # the load's, not the site's

    rows = json.loads((ROOT / "tests/context/user_agents.json").read_text())["rows"]
    agents = [row["ua"] for row in rows if row["type"] in ("mobile", "desktop", "tablet")]
    return [(f"{VISITOR_COOKIE}={sign(f'{i:032x}')}; {CONSENT_COOKIE}=yes",
             agents[i % len(agents)]) for i in range(count)]


def bare_app() -> Flask:
    """The site without personalization: :func:`page` at ``/``, its markers' defaults as is."""
    app = Flask("throughput")
    body = page()

    @app.get("/")
    def home() -> tuple[bytes, int, dict[str, str]]:
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


#: the demo shop's variants of the page's three slots, as GrowthBook features: one
#: experiment each, for consenting visitors, split evenly over its variations
GROWTHBOOK_SLOTS = {
    "greeting": ["Welcome", "<p class='greeting'>Welcome back.</p>",
                 "<p class='greeting'>Tervetuloa Paahtimoon.</p>",
                 "<p class='greeting'>First time here?</p>"],
    "hero": ["Freshly roasted", "<h1>Good morning</h1><p>Aamu, our morning blend.</p>",
             "<h1>Still up?</h1><p>Our Swiss-water decaf.</p>",
             "<h1>Brew it your way</h1><p>Our five-minute guide.</p>"],
    "promo": ["Free shipping", "<p class='promo'>Add a bag of Aamu and save 15 %.</p>",
              "<p class='promo'>A fresh bag every two weeks.</p>"],
}
GROWTHBOOK_FEATURES = {
    slot: {"defaultValue": variations[0], "rules": [{
        "key": f"{slot}-test", "hashAttribute": "id", "coverage": 1.0,
        "condition": {"consent": True, "deviceType": {"$in": ["mobile", "tablet", "desktop"]}},
        "variations": variations, "weights": [1 / len(variations)] * len(variations)}]}
    for slot, variations in GROWTHBOOK_SLOTS.items()
}


def growthbook_skipped() -> list[str]:
    """Why the GrowthBook peer cannot be measured here: ``[]`` when it can."""
    if importlib.util.find_spec("growthbook") is None:
        return ["growthbook: not installed (pip install -e '.[dev]')"]
    return []


def growthbook_app(track: Callable[[str, str, int], object]) -> Flask:
    """The page with its slots filled by GrowthBook, used as its documentation says.

    A new ``GrowthBook`` per request with the visitor's attributes, each slot's
    feature evaluated, ``destroy()`` at the end; each experiment a visitor is in
    is reported to ``track(visitor, experiment, variation)``. It is the least a
    site needs to fill the slots with GrowthBook, and generous to it: the
    device is guessed from one substring rather than parsed, the values go in
    with a byte join rather than a template, and tracking goes to memory rather
    than to an analytics service. GrowthBook keeps no history, runs no guardrail
    or bandit and stores nothing.
    """
    from growthbook import GrowthBook

    app = Flask("growthbook")
    parts = _split_at_slots(page())

    def on_experiment_viewed(experiment: Any, result: Any, **_: Any) -> None:
        track(result.hashValue, experiment.key, result.variationId)

    @app.get("/")
    def home() -> tuple[bytes, int, dict[str, str]]:
        agent = request.headers.get("User-Agent", "")
        growthbook = GrowthBook(
            attributes={"id": request.cookies.get("pz_vid", ""),
                        "deviceType": "mobile" if "Mobi" in agent else "desktop",
                        "consent": request.cookies.get(CONSENT_COOKIE) == "yes"},
            features=GROWTHBOOK_FEATURES, on_experiment_viewed=on_experiment_viewed)
        try:
            body = [parts[0]]
            for slot, rest in zip(GROWTHBOOK_SLOTS, parts[1:], strict=True):
                body += [growthbook.get_feature_value(slot, "").encode(), rest]
        finally:
            growthbook.destroy()
        return b"".join(body), 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


def _split_at_slots(html: bytes) -> list[bytes]:
    """The page cut where each slot's default content stands (in GROWTHBOOK_SLOTS' order)."""
    parts = []
    for slot, variations in GROWTHBOOK_SLOTS.items():
        before, found, html = html.partition(
            f"data-personalize-slot='{slot}'>{variations[0]}".encode())
        if not found:
            raise ValueError(f"the page has no {slot!r} slot holding {variations[0]!r}")
        parts.append(before + f"data-personalize-slot='{slot}'>".encode())
    return [*parts, html]


def create_app(mode: str, store: str) -> Flask:
    """The benchmark's site, bare or wrapped.

    :param mode: ``bare``, ``wrapped`` or ``growthbook``.
    :param store: the store URL the wrapped site uses.
    """
    if mode not in ("bare", "wrapped", "growthbook"):
        raise ValueError(f"PZ_BENCH_MODE: expected bare, wrapped or growthbook, got {mode!r}")
    if mode == "growthbook":
        viewed: deque[tuple[str, str, int]] = deque(maxlen=10_000)
        return growthbook_app(lambda *exposure: viewed.append(exposure))
    app = bare_app()
    if mode == "wrapped":
        from personalize.integrations.flask import Personalize

        # PERSONALIZE_SECRET, not SECRET_KEY: a SECRET_KEY would switch on Flask's own
        # session cookie and make the wrapped app do more than personalization.
        app.config.update(PERSONALIZE_SECRET=SECRET, PERSONALIZE_RULES=str(ROOT / "rules"),
                          PERSONALIZE_STORE=store)
        Personalize(app)
    return app


app = create_app(os.environ.get("PZ_BENCH_MODE", "bare"),
                 os.environ.get("PZ_BENCH_STORE", "memory://"))
