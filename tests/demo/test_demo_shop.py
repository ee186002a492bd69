"""The demo shop, Paahtimo, through real WSGI: pages, languages, slots, guardrails, failures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from demo_site.app import create_app
from demo_site.i18n import STRINGS, VARIANTS_FI
from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.integrations.flask import Personalize
from personalize.simulation import SimClock
from personalize.simulation.page import SlotSeen, parse_page
from personalize.store import MemoryStore

HELSINKI = ZoneInfo("Europe/Helsinki")
CONSENT = "paahtimo_consent"
SLOT = re.compile(r'data-personalize-slot="([a-z]+)"')
#: a weekday afternoon: the roastery is open, no daypart pins the hero
TUESDAY_3PM = datetime(2026, 11, 24, 15, 0, tzinfo=HELSINKI).timestamp()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(TUESDAY_3PM)


@pytest.fixture
def app(clock: SimClock) -> Iterator[Flask]:
    app = create_app({
        "PERSONALIZE_STORE": MemoryStore(clock=clock), "PERSONALIZE_CLOCK": clock,
        "PERSONALIZE_RANDOM_STATE": 3, "SECRET_KEY": "demo-shop-test-secret-0123456789",
        "PERSONALIZE_REVIEW_PASSWORD": "review-test-password"})
    yield app
    Personalize.engine(app).close()


@pytest.fixture
def engine(app: Flask) -> Personalizer:
    return Personalize.engine(app)


def visitor(app: Flask, consent: str | None = "yes") -> Client:
    client = Client(app)
    if consent is not None:
        client.set_cookie(CONSENT, consent)
    return client


def cookie(client: Client, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def visitor_id_of(engine: Personalizer, client: Client) -> str:
    found = engine.contexts.visitor_ids.read(cookie(client, VISITOR_COOKIE))
    assert found is not None
    return found


def get(client: Client, path: str, language: str = "en") -> TestResponse:
    response = client.get(path, headers={"Accept-Language": language})
    response.close()  # the middleware logs exposures when the body is closed
    return response


def csrf(response: TestResponse) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "the page has no form token"
    return found.group(1)


def fill_cart(client: Client, slug: str = "aamu", quantity: int = 2) -> str:
    """Put coffee in the cart and open the checkout; the checkout form's token."""
    page = get(client, f"/products/{slug}")
    client.post("/cart/add", data={"csrf": csrf(page), "product": slug,
                                   "quantity": str(quantity)}).close()
    return csrf(get(client, "/checkout"))


def place_order(client: Client, token: str) -> TestResponse:
    done = client.post("/checkout", data={"csrf": token}, follow_redirects=True)
    done.close()
    return done


def order(client: Client, slug: str = "aamu", quantity: int = 2) -> TestResponse:
    return place_order(client, fill_cart(client, slug, quantity))


def slots(response: TestResponse) -> dict[str, SlotSeen]:
    return {s.name: s for s in parse_page(response.get_data(as_text=True)).slots}


PAGES = ["/", "/coffee", "/coffee/single-origin", "/products/kenia-kiambu", "/cart",
         "/checkout", "/checkout/thank-you", "/support", "/support/faq", "/guides",
         "/guides/pour-over"]


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(("language", "html_lang", "nav"), [
    pytest.param("en-GB,en;q=0.8", "en", "Coffee", id="en"),
    pytest.param("fi-FI,fi;q=0.9,en;q=0.5", "fi", "Kahvit", id="fi"),
])
def test_every_page_answers_in_both_languages(app: Flask, path: str, language: str,
                                              html_lang: str, nav: str) -> None:
    response = get(visitor(app), path, language)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<html lang="{html_lang}"' in body
    assert f'<a href="/coffee">{nav}</a>' in body
    assert '<script src="/_personalize/static/beacon.js" data-endpoint="/_personalize/events" ' \
           "defer></script>" in body


@pytest.mark.parametrize(("path", "expected"), [
    pytest.param("/", {"greeting", "hero", "promo", "help"}, id="home"),
    pytest.param("/coffee/decaf", {"greeting", "hero", "promo", "help"}, id="category"),
    pytest.param("/products/aamu", {"greeting", "cta", "promo", "help"}, id="product"),
    pytest.param("/support", {"help", "promo"}, id="support"),
    pytest.param("/checkout/thank-you", {"closing", "help"}, id="thank-you"),
])
def test_pages_show_their_slots_with_signed_decisions(app: Flask, engine: Personalizer,
                                                      path: str, expected: set[str]) -> None:
    client = visitor(app)
    response = get(client, path)
    shown = slots(response)
    assert set(shown) == expected
    assert set(SLOT.findall(response.get_data(as_text=True))) == expected
    visitor_id = visitor_id_of(engine, client)
    for name, slot in shown.items():
        claims = engine.signer.verify(slot.decision)
        assert (claims.visitor, claims.slot, claims.variant) == (visitor_id, name, slot.variant)
    assert response.headers["Cache-Control"].startswith("private")
    assert "Cookie" in response.headers["Vary"]


def test_finnish_visitors_see_the_chosen_variant_in_finnish(app: Flask) -> None:
    response = get(visitor(app), "/", "fi")
    body = response.get_data(as_text=True)
    for name, slot in slots(response).items():
        if name != "help" or slot.variant in VARIANTS_FI:
            assert VARIANTS_FI[slot.variant] in body, name
    assert "Freshly roasted in Helsinki" not in body


def test_both_languages_have_every_string_and_variant(engine: Personalizer) -> None:
    assert set(STRINGS["fi"]) == set(STRINGS["en"])
    html_variants = {v.id for slot in engine.ruleset.slots.values()
                     for v in slot.variants.values() if v.html is not None}
    assert set(VARIANTS_FI) == html_variants
    keys = {v.key for slot in engine.ruleset.slots.values() for v in slot.variants.values()
            if v.key is not None}
    assert keys <= set(STRINGS["en"])


def test_the_feedback_widget_and_why_link_are_in_the_markup(app: Flask) -> None:
    body = get(visitor(app), "/coffee").get_data(as_text=True)
    promo = re.search(r'<div class="slot slot-promo"[^>]*>(.*?)</div></div>', body, re.S)
    assert promo and 'data-personalize-feedback="Was this useful?"' in promo.group(1)
    assert re.search(r'<a class="why" data-personalize-why href="/_personalize/why\?d=[^"]+">'
                     r"Why am I seeing this\?</a>", body)


def test_the_support_page_gets_only_calm_variants(app: Flask, engine: Personalizer,
                                                  clock: SimClock) -> None:
    """The shared offer box sits on the support page too; there the guardrail keeps it calm."""
    seen_on_product_pages: set[str] = set()
    for n in range(40):
        client = visitor(app)
        clock.advance(600)
        page = get(client, "/products/aamu")
        seen_on_product_pages.add(slots(page)["promo"].variant)
        clock.advance(30)  # decision ids carry the time: a frozen clock would repeat them
        support = slots(get(client, "/support"))
        for name, slot in support.items():
            tags = engine.ruleset.slots[name].variants[slot.variant].tags
            assert "calm" in tags, (name, slot.variant, tags)
        if n == 0:
            why = get(client, f"/_personalize/why?d={support['promo'].decision}")
            assert "is a sensitive one" in why.get_data(as_text=True)
    # the same visitors were shown offers elsewhere: the calm comes from the guardrail
    assert seen_on_product_pages - {"promo-shipping"}


def test_thank_you_ends_the_journey_without_upsell(app: Flask, engine: Personalizer,
                                                   clock: SimClock) -> None:
    blocked = {"upsell", "promo", "urgent"}
    for _ in range(20):
        clock.advance(600)
        done = order(visitor(app))
        assert done.status_code == 200 and done.request.path == "/checkout/thank-you"
        body = done.get_data(as_text=True)
        assert "Thank you!" in body and "Order number PA-" in body
        for name, slot in slots(done).items():
            assert not engine.ruleset.slots[name].variants[slot.variant].tags & blocked
    # a buyer is spared the referral offer by a rule (recent buyers get no upsell);
    # without a fresh order it is the end-of-journey guardrail that leaves it out
    # (a visitor in the 5 % holdout sees defaults for another reason, so ask a few)
    explanations = []
    for _ in range(4):
        clock.advance(600)
        client = visitor(app)
        closing = slots(get(client, "/checkout/thank-you"))["closing"]
        why = get(client, f"/_personalize/why?d={closing.decision}")
        explanations.append(why.get_data(as_text=True))
    assert any("finished what you came to do" in text for text in explanations)
    closings = [r for r in engine.store.read_log(types=["exposure"]) if r["slot"] == "closing"]
    assert len(closings) == 24 and all(r["variant"] != "closing-refer" for r in closings)
    # a holdout decision is settled on the default before any other guardrail looks
    assert all("closing-refer" not in r["eligible"] for r in closings
               if r["source"] != "holdout")


def test_an_order_credits_the_decisions_chosen_this_visit(app: Flask, engine: Personalizer,
                                                         clock: SimClock) -> None:
    client = visitor(app)
    get(client, "/")
    clock.advance(40)
    get(client, "/coffee")
    clock.advance(40)
    token = fill_cart(client, "kenia-kiambu", 2)
    visitor_id = visitor_id_of(engine, client)
    chosen: dict[str, tuple[str, str]] = {}
    for record in engine.store.read_log(types=["exposure"]):
        if record["visitor"] == visitor_id and record["source"] in ("bandit", "split",
                                                                    "holdout"):
            chosen[record["slot"]] = (record["variant"], record["decision"])  # the latest
    assert chosen
    place_order(client, token)
    conversions = [r for r in engine.store.read_log(types=["conversion"])
                   if r["visitor"] == visitor_id]
    assert {r["slot"]: (r["variant"], r["decision"]) for r in conversions} == chosen
    assert len(conversions) == len(chosen)
    assert {r["value"] for r in conversions} == {33.8}
    assert all(r["signal"] == "conversion" and r["amount"] == 33.8 for r in conversions)
    profile = engine.store.get_profile(visitor_id)
    assert profile is not None and profile["conv"] == 1
    assert "Cart (0)" in get(client, "/cart").get_data(as_text=True)


def test_no_consent_no_conversion_record(app: Flask, engine: Personalizer) -> None:
    client = visitor(app, consent="no")
    done = order(client)
    assert done.status_code == 200
    assert list(engine.store.read_log(types=["conversion"])) == []


def test_the_cart_adds_updates_and_removes(app: Flask) -> None:
    client = visitor(app)
    token = csrf(get(client, "/products/ilta"))
    added = client.post("/cart/add", data={"csrf": token, "product": "ilta", "quantity": "3"})
    assert added.status_code == 303 and added.headers["Location"] == "/cart?added=ilta"
    body = get(client, "/cart?added=ilta").get_data(as_text=True)
    assert "€38.70" in body and "Ilta is in your cart." in body
    client.post("/cart/update", data={"csrf": token, "product": "ilta", "quantity": "1"})
    assert "€12.90" in get(client, "/cart").get_data(as_text=True)
    client.post("/cart/update", data={"csrf": token, "product": "ilta", "remove": "1"})
    assert "Your cart is empty." in get(client, "/cart").get_data(as_text=True)


@pytest.mark.parametrize("data", [
    pytest.param({"product": "aamu", "quantity": "1"}, id="no-token"),
    pytest.param({"product": "aamu", "quantity": "1", "csrf": "forged"}, id="wrong-token"),
])
def test_forms_need_the_session_token(app: Flask, data: dict[str, str]) -> None:
    client = visitor(app)
    get(client, "/products/aamu")
    response = client.post("/cart/add", data=data)
    assert response.status_code == 400
    assert "That form had gone stale" in response.get_data(as_text=True)
    assert "Cart (0)" in get(client, "/").get_data(as_text=True)


def test_consent_banner_accept_and_decline(app: Flask) -> None:
    client = visitor(app, consent=None)
    first = get(client, "/coffee")
    body = first.get_data(as_text=True)
    assert 'data-personalize-tracking="off"' in body and 'action="/consent"' in body
    assert client.get_cookie(VISITOR_COOKIE) is None and 'class="why"' not in body
    answer = client.post("/consent", data={"csrf": csrf(first), "choice": "yes",
                                           "next": "/coffee"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/coffee"
    assert cookie(client, CONSENT) == "yes"
    second = get(client, "/coffee")
    assert 'data-personalize-tracking="on"' in second.get_data(as_text=True)
    assert client.get_cookie(VISITOR_COOKIE) is not None

    other = visitor(app, consent=None)
    page = get(other, "/")
    other.post("/consent", data={"csrf": csrf(page), "choice": "no", "next": "/"})
    after = get(other, "/").get_data(as_text=True)
    assert cookie(other, CONSENT) == "no"
    assert other.get_cookie(VISITOR_COOKIE) is None
    assert 'class="consent"' not in after and "Allow personalization" in after


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:x",
                                    "\\\\evil"])
def test_consent_redirects_only_within_the_shop(app: Flask, target: str) -> None:
    client = visitor(app, consent=None)
    token = csrf(get(client, "/"))
    answer = client.post("/consent", data={"csrf": token, "choice": "yes", "next": target})
    assert answer.headers["Location"] == "/"


def test_the_footer_opt_out_erases_the_visitor(app: Flask, engine: Personalizer) -> None:
    client = visitor(app)
    body = get(client, "/").get_data(as_text=True)
    assert '<form method="post" action="/_personalize/optout">' in body
    visitor_id = visitor_id_of(engine, client)
    assert visitor_id is not None and engine.store.get_profile(visitor_id) is not None
    client.post("/_personalize/optout").close()
    assert engine.store.get_profile(visitor_id) is None
    assert cookie(client, CONSENT) == "no"
    assert 'data-personalize-tracking="off"' in get(client, "/").get_data(as_text=True)


@pytest.mark.parametrize(("path", "language", "words"), [
    pytest.param("/no-such-page", "en", "We could not find that page", id="page-en"),
    pytest.param("/no-such-page", "fi", "Emme löytäneet sivua", id="page-fi"),
    pytest.param("/products/espresso-gold", "en", "The coffee is still here", id="product"),
    pytest.param("/coffee/instant", "en", "We could not find that page", id="category"),
])
def test_not_found_speaks_like_a_person(app: Flask, path: str, language: str,
                                        words: str) -> None:
    response = get(visitor(app), path, language)
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert words in body and '<a class="button" href="/">' in body
    assert "Not Found" not in body and "data-personalize-slot" not in body


def test_a_crash_gets_a_human_500_page(clock: SimClock) -> None:
    app = create_app({"PERSONALIZE_STORE": MemoryStore(clock=clock), "PERSONALIZE_CLOCK": clock,
                      "SECRET_KEY": "demo-shop-test-secret-0123456789",
                      "PERSONALIZE_REVIEW_PASSWORD": "review-test-password"})

    def broken() -> str:
        raise RuntimeError("the grinder jammed")

    app.add_url_rule("/broken", view_func=broken)
    try:
        response = get(visitor(app), "/broken")
    finally:
        Personalize.engine(app).close()
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, something went wrong on our side" in body
    assert "grinder" not in body and "Traceback" not in body


def test_a_failure_inside_personalization_still_serves_the_defaults(
        app: Flask, engine: Personalizer, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the bandit fell over")

    monkeypatch.setattr(engine, "decide", explode)
    for path in ("/", "/coffee", "/products/aamu", "/support", "/checkout/thank-you"):
        response = get(visitor(app), path)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, path
        for name in SLOT.findall(body):
            slot = engine.ruleset.slots[name]
            assert (slot.variants[slot.default].html or "Add to cart") in body, name
        assert set(re.findall(r'data-personalize-decision="([^"]*)"', body)) == {""}
    home = get(visitor(app), "/").get_data(as_text=True)
    assert "<h1>Freshly roasted in Helsinki</h1>" in home
    assert engine.counters["fail_open_decide"] >= 5


def test_the_short_thank_you_address_leads_to_the_page(app: Flask) -> None:
    response = visitor(app).get("/thank-you")
    assert response.status_code == 301
    assert response.headers["Location"] == "/checkout/thank-you"


def test_the_review_dashboard_is_mounted(app: Flask) -> None:
    assert "review" in app.blueprints
    response = visitor(app).get("/review/")
    assert response.status_code in (200, 302)
