"""What the middleware serves under ``/_personalize/``.

========================== =====================================================
``POST /events``           events from the beacon (see :mod:`personalize.web.events`)
``GET  /static/beacon.js`` the optional beacon script
``GET  /why?d=ID``         "why am I seeing this?" for one decision, for its visitor
``POST /optout``           erase the visitor's profile and stop personalizing
========================== =====================================================
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.http import dump_cookie

from ..context.visitor import VISITOR_COOKIE, request_cookies
from ..engine import ANONYMOUS_VISITOR
from ..exceptions import StoreError, TokenError
from ..rewards import signal_of
from .events import Event, EventIntake, events_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from ..engine import Personalizer

log = logging.getLogger("personalize.web")

PREFIX = "/_personalize"
#: the why-page of a decision made for a visitor who does not allow tracking
NOT_REMEMBERED = ("You have not allowed this site to remember your visits, so this was "
                  "chosen from this request alone, such as your kind of device, the time of "
                  "day, the page and where you came from. Nothing about it was kept, so there "
                  "is no more to show.")


class PersonalizeWeb:
    """The WSGI app behind ``/_personalize/``; the middleware routes to it."""

    def __init__(self, engine: Personalizer) -> None:
        self.engine = engine
        self.intake = EventIntake(engine.signer, engine.store, clock=engine.clock)
        self.events = events_app(self.intake, self.record,
                                 visitor_id_from_environ=self.visitor_id, count=engine.count)
        self._beacon = (Path(__file__).resolve().parent / "static" / "beacon.js").read_bytes()

    def visitor_id(self, environ: WSGIEnvironment) -> str | None:
        """The visitor id in the request's cookie, if it verifies."""
        cookie = request_cookies(environ).get(VISITOR_COOKIE)
        return self.engine.contexts.visitor_ids.read(cookie)

    def record(self, event: Event) -> None:
        """Hand one accepted event to the engine (anonymous decisions are not stored)."""
        claims = event.claims
        if claims.visitor == ANONYMOUS_VISITOR:
            return
        signal, amount = signal_of(event)
        self.engine.record_event({
            "ts": event.received_at, "type": event.type, "visitor": claims.visitor,
            "decision": event.decision_id, "slot": claims.slot, "variant": claims.variant,
            "value": event.value, "signal": signal, "amount": amount, "reason": event.reason,
        })

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")[len(PREFIX):]
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/events":
            return self.events(environ, start_response)
        if path == "/static/beacon.js" and method in ("GET", "HEAD"):
            return _send(start_response, "200 OK", self._beacon, "text/javascript; charset=utf-8",
                         [("Cache-Control", "public, max-age=86400")])
        if path == "/why" and method == "GET":
            return self.why(environ, start_response)
        if path == "/optout" and method == "POST":
            return self.optout(environ, start_response)
        return _send(start_response, "404 Not Found", b"Not found", "text/plain; charset=utf-8")

    def why(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """A small page with one decision's reasons, shown only to its own visitor."""
        query = environ.get("QUERY_STRING", "")
        token = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("d", "")
        try:
            claims = self.engine.signer.verify(token)
        except TokenError:
            return _page(start_response, "404 Not Found", "We could not find that decision",
                         ["The link may have expired. Reload the page and try again."])
        if claims.visitor == ANONYMOUS_VISITOR:
            # nothing is logged for visitors who do not allow tracking: say so,
            # rather than that an explanation was kept and has expired
            return _page(start_response, "200 OK", "Why you are seeing this",
                         [NOT_REMEMBERED])
        if claims.visitor != self.visitor_id(environ):
            return _page(start_response, "403 Forbidden", "Not your decision",
                         ["Explanations are shown only to the visitor they were made for."])
        reasons = self._reasons(token, claims.issued_at)
        if not reasons:
            reasons = ["We keep explanations for a limited time, and this one is gone."]
        return _page(start_response, "200 OK", "Why you are seeing this", reasons)

    def _reasons(self, token: str, issued_at: float) -> list[str]:
        try:
            for record in self.engine.store.read_log(since=issued_at - 1.0, types=["exposure"]):
                if record.get("decision") == token:
                    return [str(r) for r in record.get("reasons", [])]
        except StoreError:
            log.warning("decision log unavailable for a why-page")
        return []

    def optout(self, environ: WSGIEnvironment,
               start_response: StartResponse) -> Iterable[bytes]:
        """Forget the visitor and remember the choice in the consent cookie."""
        visitor = self.visitor_id(environ)
        removed = 0
        if visitor is not None:
            try:
                removed = self.engine.store.forget(visitor)
            except StoreError:
                return _page(start_response, "503 Service Unavailable", "Please try again",
                             ["We could not erase your data just now. Nothing was changed."])
        consent_cookie = self.engine.ruleset.site.consent_cookie
        headers = [
            ("Set-Cookie", dump_cookie(consent_cookie, "no", max_age=365 * 86400,
                                       samesite="Lax", path="/")),
            ("Set-Cookie", dump_cookie(VISITOR_COOKIE, "", max_age=0, httponly=True,
                                       samesite="Lax", path="/")),
        ]
        self.engine.count("optouts")
        return _page(start_response, "200 OK", "Personalization is off",
                     ["We erased what we remembered about your visits "
                      f"({removed} records) and will not remember anything from now on."],
                     headers)


def _send(start_response: StartResponse, status: str, body: bytes, content_type: str,
          extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("X-Content-Type-Options", "nosniff"), *(extra or [])])
    return [body]


def _page(start_response: StartResponse, status: str, title: str, lines: list[str],
          extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = (f'<!doctype html><html lang="en"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><body style=\"font-family:sans-serif;"
            f"max-width:40rem;margin:2rem auto;padding:0 1rem\"><h1>{html.escape(title)}</h1>"
            f"<ul>{items}</ul><p><a href=\"/\">Back to the shop</a></p></body></html>").encode()
    return _send(start_response, status, body, "text/html; charset=utf-8",
                 [("Cache-Control", "no-store"), *(extra or [])])

