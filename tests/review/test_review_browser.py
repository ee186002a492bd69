"""The review dashboard in a real Chromium, against a real SQLite store.

The store is seeded by driving the engine with a fake clock; the dashboard is
served by werkzeug on a free loopback port. Screenshots (desktop and phone
widths) go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask

from personalize.engine import Personalizer
from personalize.store import make_store
from personalize.web.review import review_blueprint
from tests.review.review_kit import PASSWORD, Clock, make_engine, simulate
from tests.support.browser import chromium, page_errors, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Dashboard:
    base: str
    engine: Personalizer
    db: Path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    db = tmp_path_factory.mktemp("review") / "personalize.db"
    clock = Clock()
    engine = make_engine(f"sqlite:///{db}", clock)
    simulate(engine, clock, visitors=150, seed=3)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "browser-test-secret-key-0123456789"
    app.register_blueprint(review_blueprint(engine, password=PASSWORD), url_prefix="/review")
    try:
        with serve(app) as base:
            yield Dashboard(f"{base}/review", engine, db)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def open_page(browser: Browser, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Helsinki")  # type: ignore[arg-type]
    page = context.new_page()
    return page, page_errors(page)


def sign_in(page: Page, dashboard: Dashboard, path: str = "/") -> None:
    page.goto(dashboard.base + path)
    assert "/login" in page.url
    page.get_by_label("Your name").fill("Aino")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.get_by_text("Signed in as").is_visible()


def shot(page: Page, name: str) -> None:
    """A screenshot of the whole page; the viewport grows to it, so every preview is drawn."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    assert size is not None
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size({"width": size["width"], "height": height})
    page.screenshot(path=str(ARTIFACTS / f"review-{name}.png"), full_page=True)
    page.set_viewport_size(size)


@pytest.mark.parametrize("viewport", [pytest.param(DESKTOP, id="desktop"),
                                      pytest.param(PHONE, id="phone")])
def test_slot_page_shows_previews_and_plots(browser: Browser, dashboard: Dashboard,
                                            viewport: dict[str, int]) -> None:
    page, errors = open_page(browser, viewport)
    sign_in(page, dashboard, "/slots/hero")
    assert page.url.endswith("/slots/hero")
    charts = page.locator("figure.chart svg")
    assert charts.count() >= 3
    for i in range(charts.count()):
        svg = charts.nth(i)
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 20
        assert (svg.locator("title").text_content() or "").strip()
        assert svg.locator("path, circle, rect").count() > 0
    previews = page.locator("iframe.preview")
    assert previews.count() == 3
    assert previews.first.get_attribute("sandbox") == ""
    texts = [page.frame_locator("iframe.preview").nth(i).locator("body").inner_text()
             for i in range(previews.count())]
    assert [t.splitlines()[0] for t in texts] == ["Freshly roasted", "Still up?",
                                                   "Brew it your way"]
    # no horizontal scrolling of the page itself, also at phone width
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shot(page, f"slot-{'phone' if viewport is PHONE else 'desktop'}")
    page.goto(dashboard.base + "/")
    shot(page, f"overview-{'phone' if viewport is PHONE else 'desktop'}")
    assert errors == []


def test_pause_and_resume_persist_in_the_store(browser: Browser, dashboard: Dashboard) -> None:
    page, errors = open_page(browser, DESKTOP)
    sign_in(page, dashboard, "/guardrails")
    page.get_by_label("Variant", exact=True).select_option("promo-countdown")
    page.get_by_label("Reason", exact=True).fill(
        "The countdown restarts on every page: a fake deadline.")
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Paused promo-countdown in promo."
    card = page.locator("article.paused")
    assert card.count() == 1 and "a fake deadline" in card.inner_text()
    shot(page, "guardrails-paused")

    reader = make_store(f"sqlite:///{dashboard.db}")
    try:
        saved = reader.get_state("pause:promo:promo-countdown")
        assert saved is not None and saved["by"] == "Aino" and not saved["auto"]
    finally:
        reader.close()

    page.get_by_role("button", name="Resume promo-countdown").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Resumed promo-countdown in promo."
    assert page.locator("article.paused").count() == 0
    assert "Aino" in page.locator("section", has_text="Recently resumed").inner_text()
    reader = make_store(f"sqlite:///{dashboard.db}")
    try:
        assert reader.get_state("pause:promo:promo-countdown") is None
        resumed = reader.get_state("resumed:promo:promo-countdown")
        assert resumed is not None and resumed["by"] == "Aino"
    finally:
        reader.close()
    assert errors == []


@pytest.mark.parametrize("viewport", [pytest.param(DESKTOP, id="desktop"),
                                      pytest.param(PHONE, id="phone")])
def test_view_as_renders_every_slot(browser: Browser, dashboard: Dashboard,
                                    viewport: dict[str, int]) -> None:
    page, errors = open_page(browser, viewport)
    sign_in(page, dashboard, "/view-as")
    before = sum(1 for _ in dashboard.engine.store.read_log())
    page.get_by_label("Device", exact=True).select_option("iphone")
    page.get_by_label("Local date and time").fill("2026-05-05T23:30")
    page.get_by_role("button", name="Show what they see").click()
    page.wait_for_load_state()
    slots = page.locator("section", has_text="Every slot for this visitor").locator("li.variant")
    assert slots.count() == 3
    hero = slots.filter(has_text="hero → hero-night")
    assert hero.count() == 1 and "rule" in hero.locator(".badges").inner_text()
    assert "Still up?" in hero.frame_locator("iframe").locator("body").inner_text()
    assert "mobile" in page.locator("section", has_text="as the site sees them").inner_text()
    dashboard.engine.store.flush()
    assert sum(1 for _ in dashboard.engine.store.read_log()) == before
    shot(page, f"view-as-{'phone' if viewport is PHONE else 'desktop'}")
    assert errors == []


def test_keyboard_skip_link_and_focus(browser: Browser, dashboard: Dashboard) -> None:
    page, errors = open_page(browser, DESKTOP)
    sign_in(page, dashboard, "/decisions")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    shot(page, "decisions-desktop")
    for path in ("/splits", "/rules"):
        page.goto(dashboard.base + path)
        assert page.locator("h1").count() == 1
        shot(page, path.strip("/") + "-desktop")
    assert errors == []
