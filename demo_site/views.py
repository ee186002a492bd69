"""The shop's pages: home, coffees, product, cart, checkout, thank-you, support, guides.

Sections follow the first path segment, which is what the rules match on:
``/support…`` is sensitive, ``/checkout/thank-you`` ends the journey, and
``/cart`` and ``/checkout`` show no offers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from personalize.context.visitor import VISITOR_COOKIE
from personalize.integrations.flask import Personalize, record

from . import cart
from .catalog import CATEGORIES, PRODUCTS, by_category

shop = Blueprint("shop", __name__)
shop.before_request(cart.check_csrf)

SUPPORT_TOPICS = ("faq", "chat", "contact")
GUIDES = ("pour-over", "fresh-beans")
CONSENT_MAX_AGE = 365 * 86400


@shop.get("/")
def home() -> str:
    return render_template("home.html", featured=list(PRODUCTS.values())[:4])


@shop.get("/coffee")
@shop.get("/coffee/<category>")
def coffee(category: str | None = None) -> str:
    if category is not None and category not in CATEGORIES:
        abort(404)
    return render_template("category.html", category=category, products=by_category(category))


@shop.get("/products/<slug>")
def product(slug: str) -> str:
    found = PRODUCTS.get(slug)
    if found is None:
        abort(404)
    return render_template("product.html", product=found)


@shop.get("/cart")
def view_cart() -> str:
    items = cart.lines()
    added = PRODUCTS.get(request.args.get("added", ""))
    return render_template("cart.html", items=items, total=cart.total_cents(items), added=added)


@shop.post("/cart/add")
def add_to_cart() -> Response:
    slug = request.form.get("product", "")
    if slug not in PRODUCTS:
        abort(404)
    quantity = cart.quantity_from(request.form.get("quantity", "1"))
    if quantity > 0:
        cart.add(slug, quantity)
    # on to the cart: showing the product page again would make new decisions
    # after the visitor had already made theirs
    return redirect(url_for("shop.view_cart", added=slug), 303)


@shop.post("/cart/update")
def update_cart() -> Response:
    slug = request.form.get("product", "")
    if slug not in PRODUCTS:
        abort(404)
    quantity = 0 if "remove" in request.form else cart.quantity_from(request.form.get("quantity"))
    cart.set_quantity(slug, quantity)
    return redirect(url_for("shop.view_cart"), 303)


@shop.get("/checkout")
def checkout() -> str:
    items = cart.lines()
    return render_template("checkout.html", items=items, total=cart.total_cents(items))


@shop.post("/checkout")
def place_order() -> Response:
    if not cart.lines():
        return redirect(url_for("shop.view_cart"), 303)
    order = cart.place_order()
    # credited to the decisions chosen for this visitor (see Personalizer.record);
    # a failure is logged and counted, never in the way of the order
    record("conversion", order["total"] / 100)
    return redirect(url_for("shop.thank_you"), 303)


@shop.get("/checkout/thank-you")
def thank_you() -> str:
    order = cart.last_order()
    items = [(PRODUCTS[slug], qty) for slug, qty in order["items"] if slug in PRODUCTS] \
        if order else []
    return render_template("thank_you.html", order=order, items=items)


@shop.get("/thank-you")
def thank_you_short() -> Response:
    """The short address; the page lives under /checkout, where the rules expect it."""
    return redirect(url_for("shop.thank_you"), 301)


@shop.get("/support")
@shop.get("/support/<topic>")
def support(topic: str | None = None) -> str:
    if topic is not None and topic not in SUPPORT_TOPICS:
        abort(404)
    return render_template("support.html", topic=topic, topics=SUPPORT_TOPICS)


@shop.get("/guides")
@shop.get("/guides/<guide>")
def guides(guide: str | None = None) -> str:
    if guide is not None and guide not in GUIDES:
        abort(404)
    return render_template("guides.html", guide=guide, guides=GUIDES)


@shop.post("/consent")
def consent() -> Response:
    """The banner's answer: remember it in the consent cookie the rules name."""
    choice = request.form.get("choice")
    if choice not in ("yes", "no"):
        abort(400)
    response = redirect(_local(request.form.get("next", "/")), 303)
    cookie = Personalize.engine().ruleset.site.consent_cookie
    response.set_cookie(cookie, choice, max_age=CONSENT_MAX_AGE, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    if choice == "no":
        response.delete_cookie(VISITOR_COOKIE, samesite="Lax", httponly=True)
    return response


def _local(target: str) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirects)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target
