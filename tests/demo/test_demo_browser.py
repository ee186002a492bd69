"""The demo shop in a real headless Chromium: no flicker, feedback, reasons, consent.

The shop runs on a free loopback port in a thread, with its own SQLite store
in a temporary directory; Chromium is the Debian one (see
:mod:`tests.support.browser`). Screenshots land in ``test-artifacts/`` for a
person to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from demo_site.app import create_app
from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.integrations.flask import Personalize
from tests.support.browser import chromium, serve

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CONSENT = "paahtimo_consent"
# headless Chromium names itself HeadlessChrome, which the shop rightly treats as a
# bot (defaults, no tracking); a person's browser does not, so the tests say Chrome
DESKTOP = {"viewport": {"width": 1280, "height": 900},
           "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Chrome/126.0.0.0 Safari/537.36"}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) "
                       "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 "
                       "Safari/604.1"}

#: records every slot's inner HTML when the DOM is ready (after deferred scripts ran)
SNAPSHOT = """
document.addEventListener("DOMContentLoaded", () => {
  window.__slotsAtReady = Array.from(document.querySelectorAll("[data-personalize-slot]"))
    .map(el => [el.getAttribute("data-personalize-slot"), el.innerHTML]);
});
"""
SLOTS_NOW = """() => Array.from(document.querySelectorAll("[data-personalize-slot]"))
  .map(el => [el.getAttribute("data-personalize-slot"), el.innerHTML])"""


@dataclass
class Shop:
    url: str
    app: Flask
    engine: Personalizer


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    database = tmp_path_factory.mktemp("shop") / "personalize.db"
    app = create_app({"PERSONALIZE_STORE": f"sqlite:///{database}",
                      "SECRET_KEY": "browser-test-secret-0123456789abcdef",
                      "PERSONALIZE_REVIEW_PASSWORD": "review-test-password"})
    try:
        with serve(app) as base:
            yield Shop(base, app, Personalize.engine(app))
    finally:
        Personalize.engine(app).close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def context(browser: Any, shop: Shop, *, consent: str | None = "yes",
            device: dict[str, Any] = DESKTOP, language: str = "en-GB") -> Any:
    ctx = browser.new_context(locale=language, **device)
    if consent is not None:
        ctx.add_cookies([{"name": CONSENT, "value": consent, "url": shop.url}])
    return ctx


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.parametrize(("device", "paths"), [
    pytest.param(DESKTOP, ["/", "/coffee", "/products/kenia-kiambu", "/support"], id="desktop"),
    pytest.param(PHONE, ["/", "/products/aamu"], id="phone"),
])
def test_personalized_content_is_there_before_scripts_and_never_changes(
        browser: Any, shop: Shop, device: dict[str, Any], paths: list[str]) -> None:
    ctx = context(browser, shop, device=device)
    ctx.add_init_script(SNAPSHOT)
    page = ctx.new_page()
    kind = "phone" if device is PHONE else "desktop"
    try:
        for path in paths:
            page.goto(shop.url + path, wait_until="load")
            page.wait_for_timeout(1000)
            ready = page.evaluate("() => window.__slotsAtReady")
            now = page.evaluate(SLOTS_NOW)
            assert ready and now == ready, f"slot content changed after load on {path}"
            decisions = page.eval_on_selector_all(
                "[data-personalize-slot]", "els => els.map(e => e.dataset.personalizeDecision)")
            assert decisions and all(decisions), path
            assert page.get_attribute("html", "data-personalize-tracking") == "on"
            shot(page, f"{kind}{path.replace('/', '-') if path != '/' else '-home'}")
    finally:
        ctx.close()


def test_the_whole_journey_looks_right_in_finnish_on_a_phone(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop, device=PHONE, language="fi-FI")
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/products/yo")
        assert page.get_attribute("html", "lang") == "fi"
        page.click("[data-personalize-slot=cta] button")
        page.wait_for_url("**/cart?added=yo")
        assert page.is_visible("text=Yö on ostoskorissasi.")
        shot(page, "phone-fi-cart")
        page.click("text=Siirry kassalle")
        page.click("button:has-text('Tee tilaus')")
        page.wait_for_url("**/checkout/thank-you")
        assert page.is_visible("text=Kiitos!")
        shot(page, "phone-fi-thank-you")
    finally:
        ctx.close()


def test_thumbs_down_says_thanks_and_lands_in_the_log(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop)
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/coffee")
        box = page.locator("[data-personalize-slot=promo] [data-personalize-feedback]")
        decision = page.get_attribute("[data-personalize-slot=promo]",
                                      "data-personalize-decision")
        box.get_by_role("button", name="No, this was not helpful").click()
        assert box.inner_text() == "Thanks!"
        shot(page, "desktop-feedback-thanks")

        def logged() -> list[dict[str, Any]]:
            shop.engine.store.flush()
            return [r for r in shop.engine.store.read_log(types=["feedback"])
                    if r["decision"] == decision]

        records = wait_for(logged)
        assert [(r["value"], r["signal"], r["slot"]) for r in records] == [
            (-1.0, "feedback_negative", "promo")]
    finally:
        ctx.close()


def test_the_why_link_shows_the_reasons(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop)
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/")
        decision = page.get_attribute("[data-personalize-slot=hero]",
                                      "data-personalize-decision")

        def exposure_logged() -> bool:
            shop.engine.store.flush()
            return any(r["decision"] == decision
                       for r in shop.engine.store.read_log(types=["exposure"]))

        assert wait_for(exposure_logged)
        page.click(".hero a.why")
        page.wait_for_url("**/_personalize/why?d=*")
        assert page.inner_text("h1") == "Why you are seeing this"
        reasons = page.locator("li").all_inner_texts()
        assert len(reasons) >= 2, reasons
        assert any("you are visiting" in r or "coming here" in r for r in reasons), reasons
        shot(page, "desktop-why")
    finally:
        ctx.close()


def test_declining_consent_sets_no_visitor_cookie(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop, consent=None)
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/")
        assert page.is_visible("section.consent")
        shot(page, "desktop-consent-banner")
        page.click("section.consent button:has-text('No, thanks')")
        page.wait_for_load_state("load")
        page.goto(shop.url + "/coffee")
        cookies = {c["name"]: c["value"] for c in ctx.cookies()}
        assert cookies.get(CONSENT) == "no"
        assert VISITOR_COOKIE not in cookies
        assert not page.is_visible("section.consent")
        assert page.get_attribute("html", "data-personalize-tracking") == "off"
        assert page.locator("a.why").count() == 0
    finally:
        ctx.close()


def test_accepting_consent_starts_personalization(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop, consent=None, device=PHONE)
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/coffee")
        shot(page, "phone-consent-banner")
        page.click("section.consent button:has-text('Yes, personalize')")
        page.wait_for_url("**/coffee")
        cookies = {c["name"]: c["value"] for c in ctx.cookies()}
        assert cookies.get(CONSENT) == "yes" and VISITOR_COOKIE in cookies
        assert page.get_attribute("html", "data-personalize-tracking") == "on"
    finally:
        ctx.close()


def test_keyboard_focus_is_visible(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop)
    page = ctx.new_page()
    try:
        page.goto(shop.url + "/")
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement, style = getComputedStyle(el);
            return [el.textContent.trim(), style.outlineStyle, style.outlineWidth,
                    el.getBoundingClientRect().left >= 0];
        }""")
        assert focused[0] == "Skip to content"
        assert focused[1] != "none" and focused[2] != "0px" and focused[3]
    finally:
        ctx.close()


def test_not_found_in_the_browser(browser: Any, shop: Shop) -> None:
    ctx = context(browser, shop)
    page = ctx.new_page()
    try:
        response = page.goto(shop.url + "/coffee/instant")
        assert response is not None and response.status == 404
        assert page.inner_text("h1") == "We could not find that page"
        shot(page, "desktop-404")
    finally:
        ctx.close()
