"""The demo shop's Flask application factory.

>>> from demo_site.app import create_app
>>> app = create_app({"PERSONALIZE_STORE": "memory://"})

Paahtimo is a small coffee roastery's shop in English and Finnish, wrapped by
:class:`personalize.integrations.flask.Personalize` with the rules in
``rules/`` and, by default, the SQLite store ``var/personalize.db``. When the
review dashboard is installed it is mounted at ``/review``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from personalize.integrations.flask import Personalize

from . import cart
from .catalog import CATEGORIES, category_name, format_price
from .i18n import current_language, t
from .personalization import ShopHelper
from .views import shop

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("demo_site")

#: status codes with their own words on the error page; others use the 404 text
ERROR_TEXTS = (400, 404, 405, 500)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the shop.

    :param config: overrides any default, e.g. ``PERSONALIZE_STORE`` (tests pass
        ``memory://``), ``PERSONALIZE_CLOCK`` (simulations) or
        ``PERSONALIZE_REVIEW_PASSWORD`` (the dashboard's login).
    """
    app = Flask(__name__)
    var = ROOT / "var"
    app.config.update(
        PERSONALIZE_RULES=str(ROOT / "rules"),
        PERSONALIZE_STORE=f"sqlite:///{var / 'personalize.db'}",
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("PERSONALIZE_SECRET") or _local_secret(var)
    Personalize(app)
    app.register_blueprint(shop)
    app.jinja_env.globals.update(
        shop=ShopHelper(), t=t, lang=current_language, csrf_token=cart.csrf_token,
        cart_count=cart.count, price=lambda cents: format_price(cents, current_language()),
        category_name=lambda c: category_name(c, current_language()), categories=CATEGORIES)
    _register_error_pages(app)
    _mount_review(app)
    return app


def _register_error_pages(app: Flask) -> None:
    """Error pages in the visitor's language, with no personalization on them."""

    def page(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        words = code if code in ERROR_TEXTS else (500 if code >= 500 else 404)
        return render_template("error.html", code=code, words=words), code

    def crash(error: InternalServerError) -> tuple[str, int]:
        log.error("unhandled error: %r", error.original_exception or error)
        return page(error)

    app.register_error_handler(HTTPException, page)
    app.register_error_handler(InternalServerError, crash)


def _mount_review(app: Flask) -> None:
    """Mount the review dashboard at /review, when this install of personalize has it.

    Its password is ``PERSONALIZE_REVIEW_PASSWORD`` (app config, else the
    environment); ``python -m demo_site`` sets and prints it.
    """
    if importlib.util.find_spec("personalize.web.review") is None:
        return
    from personalize.web.review import review_blueprint

    app.register_blueprint(review_blueprint(Personalize.engine(app)), url_prefix="/review")


def _local_secret(var: Path) -> str:
    """A per-checkout secret kept under var/, so cookies survive restarts of the demo."""
    var.mkdir(parents=True, exist_ok=True)
    path = var / "secret.key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()
