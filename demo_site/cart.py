"""The shopping cart and the forms' CSRF token, both in Flask's signed session.

>>> add("aamu", 2)             # inside a request
>>> lines()                    # [(PRODUCTS["aamu"], 2)]

Every form carries the session's random token in a hidden ``csrf`` field and
:func:`check_csrf` refuses a POST whose token does not match, so another site
cannot add to someone's cart, place an order or change their consent.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import abort, request, session

from .catalog import PRODUCTS, Product

MAX_QUANTITY = 20
CSRF_FIELD = "csrf"


def csrf_token() -> str:
    """This session's form token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Abort with 400 unless a POST carries this session's token (a ``before_request``)."""
    if request.method != "POST":
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400)


def _stored() -> dict[str, int]:
    raw: Any = session.get("cart", {})
    if not isinstance(raw, dict):
        return {}
    return {slug: int(qty) for slug, qty in raw.items()
            if slug in PRODUCTS and isinstance(qty, int) and qty > 0}


def lines() -> list[tuple[Product, int]]:
    """The cart's products and quantities, in catalog order."""
    stored = _stored()
    return [(product, stored[slug]) for slug, product in PRODUCTS.items() if slug in stored]


def count() -> int:
    """How many bags are in the cart."""
    return sum(_stored().values())


def total_cents(items: list[tuple[Product, int]] | None = None) -> int:
    """The cart's total in cents."""
    return sum(product.price_cents * qty for product, qty in (lines() if items is None
                                                                else items))


def add(slug: str, quantity: int) -> None:
    """Add bags of one product (capped at :data:`MAX_QUANTITY` per product)."""
    stored = _stored()
    stored[slug] = min(MAX_QUANTITY, stored.get(slug, 0) + quantity)
    session["cart"] = stored


def set_quantity(slug: str, quantity: int) -> None:
    """Set one product's quantity; 0 removes it."""
    stored = _stored()
    if quantity <= 0:
        stored.pop(slug, None)
    else:
        stored[slug] = min(MAX_QUANTITY, quantity)
    session["cart"] = stored


def quantity_from(form_value: str | None) -> int:
    """A quantity from a form field; 400 when it is not a whole number 0–20."""
    if form_value is None or not form_value.strip().isdigit():
        abort(400)
    quantity = int(form_value)
    if quantity > MAX_QUANTITY:
        abort(400)
    return quantity


def place_order() -> dict[str, Any]:
    """Turn the cart into an order kept in the session, and empty the cart."""
    items = lines()
    order = {"number": f"PA-{secrets.randbelow(900000) + 100000}",
             "items": [[product.slug, qty] for product, qty in items],
             "total": total_cents(items)}
    session["cart"] = {}
    session["last_order"] = order
    return order


def last_order() -> dict[str, Any] | None:
    """The order placed last in this session, if any."""
    order: Any = session.get("last_order")
    return order if isinstance(order, dict) else None
