"""The site ``benchmarks/throughput.py`` serves with gunicorn: one 20 KB page, 3 slots.

::

    PZ_BENCH_MODE=wrapped PZ_BENCH_STORE=sqlite:////tmp/b.db gunicorn benchmarks.throughput_site:app

``PZ_BENCH_MODE`` is ``bare`` (the Flask app alone: the slot markers' default
content is served as is) or ``wrapped`` (the same app with
``Personalize(app)``, the demo shop's rules and ``PZ_BENCH_STORE``). The bare
app never imports personalize, so each server pays only for what it serves.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
SECRET = "throughput-benchmark-secret-0123456789"


def page() -> bytes:
    """About 20 KB of ordinary HTML with three slot markers holding their defaults."""
    items = "".join(f"<li><a href='/products/{i}'>Coffee number {i}</a> — roasted on "
                    f"Tuesday, 250 g, {10 + i % 7},90 €</li>" for i in range(210))
    html = (f"<!doctype html><html><head><title>Shop</title></head><body>"
            f"<header data-personalize-slot='greeting'>Welcome</header>"
            f"<section data-personalize-slot='hero'>Freshly roasted</section><ul>{items}</ul>"
            f"<aside data-personalize-slot='promo'>Free shipping</aside></body></html>")
    return html.encode()


def bare_app() -> Flask:
    """The site without personalization: :func:`page` at ``/``, its markers' defaults as is."""
    app = Flask("throughput")
    body = page()

    @app.get("/")
    def home() -> tuple[bytes, int, dict[str, str]]:
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}

    return app


def create_app(mode: str, store: str) -> Flask:
    """The benchmark's site, bare or wrapped.

    :param mode: ``bare`` or ``wrapped``.
    :param store: the store URL the wrapped site uses.
    """
    if mode not in ("bare", "wrapped"):
        raise ValueError(f"PZ_BENCH_MODE: expected bare or wrapped, got {mode!r}")
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
