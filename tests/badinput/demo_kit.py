"""The demo shop, wrapped by the middleware, for the bad-input and privacy tests.

Only ``/`` and ``/_personalize/*`` are used: the rest of the demo changes as
the shop grows. Requests go through werkzeug's test client with explicit
``Cookie`` headers, so each test says exactly what the browser sends.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from werkzeug.http import parse_cookie
from werkzeug.test import Client

from demo_site.app import create_app
from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.integrations.flask import Personalize

SECRET = "badinput-and-privacy-" + "k" * 32
CONSENT = "paahtimo_consent"
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0.0.0 Safari/537.36")
_DECISION = re.compile(r'data-personalize-slot="([^"]+)" data-personalize-decision="([^"]+)"')


class Clock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Page:
    """One answered request."""

    status: int
    body: str
    headers: dict[str, str]
    cookies: dict[str, str] = field(default_factory=dict)
    #: the ``Set-Cookie`` header lines, as sent
    set_cookies: list[str] = field(default_factory=list)

    @property
    def decisions(self) -> dict[str, str]:
        """Slot → decision id, for every slot filled on the page."""
        return dict(_DECISION.findall(self.body))

    @property
    def visitor_cookie(self) -> str | None:
        """The ``name=value`` of a visitor cookie the response sets, if any."""
        value = self.cookies.get(VISITOR_COOKIE)
        return f"{VISITOR_COOKIE}={value}" if value else None


@dataclass
class Demo:
    """The demo app, its engine and a client."""

    app: Flask
    engine: Personalizer
    client: Client
    clock: Clock

    def get(self, path: str = "/", *, consent: bool = True, cookie: str = "",
            headers: dict[str, str] | None = None,
            environ: dict[str, Any] | None = None) -> Page:
        """A page as a browser with these cookies and headers would get it."""
        cookies = "; ".join(filter(None, [f"{CONSENT}=yes" if consent else "", cookie]))
        sent = {"User-Agent": BROWSER, **(headers or {})}
        if cookies:
            sent["Cookie"] = cookies
        return self._send("GET", path, sent, environ=environ)

    def post(self, path: str, data: bytes | str = b"", *, cookie: str = "",
             content_type: str | None = "application/json",
             headers: dict[str, str] | None = None,
             environ: dict[str, Any] | None = None) -> Page:
        """A POST, e.g. an event body or the opt-out form."""
        sent = dict(headers or {})
        if cookie:
            sent["Cookie"] = cookie
        if content_type:
            sent["Content-Type"] = content_type
        return self._send("POST", path, sent, data=data, environ=environ)

    def _send(self, method: str, path: str, headers: dict[str, str], *,
              data: bytes | str = b"", environ: dict[str, Any] | None = None) -> Page:
        response = self.client.open(path, method=method, headers=headers, data=data,
                                    environ_base=environ or {})
        try:
            body = response.get_data(as_text=True)
        finally:
            response.close()  # runs the middleware's commit, as a server would
        cookies: dict[str, str] = {}
        lines = response.headers.getlist("Set-Cookie")
        for line in lines:
            cookies.update(parse_cookie(line.split(";", 1)[0]))
        return Page(response.status_code, body, dict(response.headers), cookies, lines)


def make_demo(store: str = "memory://", **config: Any) -> Demo:
    """The demo shop on ``store`` with a clock the test controls."""
    clock = Clock()
    app = create_app({"PERSONALIZE_STORE": store, "SECRET_KEY": SECRET, "TESTING": True,
                      "PERSONALIZE_CLOCK": clock, "PERSONALIZE_REVIEW_PASSWORD": "p" * 20,
                      **config})
    return Demo(app, Personalize.engine(app), Client(app, use_cookies=False), clock)


def visitor_id(cookie: str) -> str:
    """The visitor id in a ``pz_vid=ID.signature`` cookie."""
    return cookie.split("=", 1)[1].split(".", 1)[0]
