"""A headless Chromium and a WSGI app on a free loopback port, for the browser tests.

::

    from tests.support.browser import chromium, page_errors, serve

    @pytest.fixture(scope="module")
    def browser() -> Iterator[Browser]:
        with chromium() as launched:
            yield launched

    with serve(app) as base:               # "http://127.0.0.1:PORT"
        page = browser.new_page()
        errors = page_errors(page)
        page.goto(base + "/")
        assert errors == []

Chromium is Debian's (``apt-get install chromium``; ``make test`` installs it),
not Playwright's own download, started without the sandbox, GPU or any
background traffic of its own, so a test sees only the requests its page makes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Debian Chromium, closed (with Playwright) on leaving the block.

    :raises RuntimeError: ``/usr/bin/chromium`` is missing; the message says how to install it.
    """
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS))
        try:
            yield browser
        finally:
            browser.close()


def page_errors(page: Page) -> list[str]:
    """A list that collects the page's uncaught exceptions and console errors from now on."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


@contextmanager
def serve(app: WSGIApplication) -> Iterator[str]:
    """Serve ``app`` from a thread on a free 127.0.0.1 port; yields the base URL.

    Port 0 lets the system pick the port as the socket binds, so no other
    process can take it in between. The server stops on leaving the block.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
