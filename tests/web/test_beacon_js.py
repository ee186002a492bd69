"""beacon.js in a real headless Chromium, against the real event endpoint.

The page is served with a strict Content-Security-Policy (no inline script, no
eval), so the test also shows the beacon works where a site forbids those.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from personalize.decision import DecisionSigner
from personalize.store.memory import MemoryStore
from personalize.web.events import Event, EventIntake, events_app
from tests.support.browser import chromium, page_errors, serve

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.integration

BEACON = Path(__file__).parents[2] / "personalize" / "web" / "static" / "beacon.js"
CSP = "default-src 'self'; script-src 'self'; connect-src 'self'; style-src 'self'"
PAGE = """<!doctype html>
<html lang="en"{tracking}><head><meta charset="utf-8"><title>shop</title>
<script src="/_personalize/static/beacon.js" data-endpoint="/_personalize/events" defer></script>
</head><body>
<section data-personalize-slot="hero" data-personalize-decision="{hero}">
  <h1>Spring sale</h1><button id="shop">Shop now</button>
  <a id="why" data-personalize-why href="#why">Why am I seeing this?</a>
  <div id="feedback" data-personalize-feedback>(feedback)</div>
</section>
<aside data-personalize-slot="promo" data-personalize-decision="{promo}"><p id="promo">Free
shipping</p></aside>
<p id="outside">Not personalized</p>
<a id="leave" href="/other">elsewhere</a>
</body></html>"""


@dataclass
class Shop:
    """A tiny site: one page with two slots, the beacon file and the event endpoint."""

    signer: DecisionSigner = field(default_factory=lambda: DecisionSigner("beacon-test"))
    received: list[Event] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    base: str = ""

    def __post_init__(self) -> None:
        self.events = events_app(EventIntake(self.signer, MemoryStore()), self.received.append)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/_personalize/events":
            return self.events(environ, start_response)
        if path == "/_personalize/static/beacon.js":
            return self.send(start_response, BEACON.read_bytes(), "text/javascript")
        if path == "/page":
            query = environ.get("QUERY_STRING", "")
            self.tokens = {slot: self.signer.sign("v1", slot, "a") for slot in ("hero", "promo")}
            tracking = ' data-personalize-tracking="off"' if "off" in query else ""
            html = PAGE.format(tracking=tracking, **self.tokens)
            return self.send(start_response, html.encode(), "text/html; charset=utf-8")
        return self.send(start_response, b"<!doctype html><title>other</title>", "text/html")

    @staticmethod
    def send(start_response: StartResponse, body: bytes, content_type: str) -> list[bytes]:
        start_response("200 OK", [("Content-Type", content_type), ("Content-Security-Policy", CSP),
                                  ("Content-Length", str(len(body)))])
        return [body]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, str, float]]:
        """The events received, once there are ``count`` (or when time is up)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return sorted((e.type, e.claims.slot, e.value) for e in self.received)


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    app = Shop()
    with serve(app) as base:
        app.base = base
        yield app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser, shop: Shop) -> Iterator[Page]:
    shop.received.clear()
    context = browser.new_context(timezone_id="Europe/Helsinki")
    page = context.new_page()
    errors = page_errors(page)
    yield page
    context.close()
    assert errors == []


@pytest.mark.parametrize(
    "transport",
    [
        pytest.param("", id="sendBeacon"),
        pytest.param("Navigator.prototype.sendBeacon = undefined;", id="fetch-keepalive"),
    ],
)
def test_reports_click_feedback_and_dwell_once(page: Page, shop: Shop, transport: str) -> None:
    if transport:
        page.add_init_script(transport)
    page.goto(f"{shop.base}/page")
    page.wait_for_selector("#feedback button")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["pz_tz"]["value"] == "Europe/Helsinki"
    assert (cookies["pz_tz"]["path"], cookies["pz_tz"]["sameSite"]) == ("/", "Lax")

    page.click("#why")
    page.click("#outside")
    assert shop.wait_for(1, timeout=0.5) == []
    page.click("#shop")
    page.click("#shop")
    page.click("h1")
    assert shop.wait_for(1) == [("click", "hero", 1.0)]

    thumbs_down = page.get_by_role("button", name="No, this was not helpful")
    assert page.get_by_role("button", name="Yes, this was helpful").is_visible()
    thumbs_down.focus()
    page.keyboard.press("Enter")
    assert page.text_content("#feedback") == "Thanks!"
    assert page.evaluate("document.activeElement.id") == "feedback"
    assert shop.wait_for(2) == [("click", "hero", 1.0), ("feedback", "hero", -1.0)]

    page.wait_for_timeout(300)
    page.click("#leave")
    page.wait_for_url(f"{shop.base}/other")
    received = shop.wait_for(4)
    assert [r[:2] for r in received] == [("click", "hero"), ("dwell", "hero"), ("dwell", "promo"),
                                        ("feedback", "hero")]
    dwell = received[1][2]
    assert 0.3 <= dwell < 60
    assert received[2][2] == dwell


@pytest.mark.parametrize(
    ("query", "init_script"),
    [
        pytest.param("?tracking=off", "", id="page-says-off"),
        pytest.param("", "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', "
                         "{get: () => true});", id="global-privacy-control"),
        pytest.param("", "Object.defineProperty(Navigator.prototype, 'doNotTrack', "
                         "{get: () => '1'});", id="do-not-track"),
    ],
)
def test_does_nothing_without_consent(page: Page, shop: Shop, query: str,
                                      init_script: str) -> None:
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{shop.base}/page{query}")
    page.wait_for_load_state("load")
    assert page.text_content("#feedback") == "(feedback)"
    page.click("#shop")
    page.click("#leave")
    page.wait_for_url(f"{shop.base}/other")
    assert shop.wait_for(1, timeout=1.0) == []
    assert "pz_tz" not in {c["name"] for c in page.context.cookies()}


def test_beacon_is_small() -> None:
    assert len(BEACON.read_bytes()) < 4096


