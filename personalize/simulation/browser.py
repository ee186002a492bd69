"""One simulated visitor's browser: cookies, requests, and what the beacon would send.

A :class:`SimBrowser` keeps a :class:`werkzeug.test.Client` (so its cookies —
visitor id, consent, session, cart — last across pages and visits), requests
pages in-process, reads them with :func:`~.page.parse_page`, and reacts to
each slot as its persona's hidden :class:`~.population.Response` says. Events
go to the event endpoint as JSON, as ``beacon.js`` sends them; nothing is sent
when the page says tracking is off, and a refused batch is counted by status
and never resent.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from werkzeug.test import Client

from .page import Page, SlotSeen, parse_page
from .population import CHANNELS, Population, Response, SimVisitor

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

HOST = "http://localhost"


@dataclass
class Tally:
    """What the browsers did and how the site answered."""

    pageviews: int = 0
    page_errors: Counter[int] = field(default_factory=Counter)
    orders: int = 0
    events_sent: int = 0
    events_accepted: int = 0
    events_refused: Counter[int] = field(default_factory=Counter)
    event_types: Counter[str] = field(default_factory=Counter)


class SimBrowser:
    """A visitor's browser.

    :param tags_of: variant id → its tags, so tag-level preferences apply.
    :param consent_cookie: the site's consent cookie, set as the banner would.
    :param events_path: where the beacon posts events.
    """

    def __init__(self, app: WSGIApplication, visitor: SimVisitor, population: Population, *,
                 rng: np.random.Generator, tally: Tally,
                 tags_of: Callable[[str], frozenset[str]], consent_cookie: str,
                 events_path: str) -> None:
        self.client = Client(app)
        self.visitor = visitor
        self.population = population
        self.rng = rng
        self.tally = tally
        self.tags_of = tags_of
        self.events_path = events_path
        self.last_path = ""
        #: slot → the most persuasive response seen there this visit: an offer
        #: seen two pages ago still works on the visitor at the moment of buying
        self.seen: dict[str, Response] = {}
        if visitor.consent in ("yes", "no"):
            self.client.set_cookie(consent_cookie, visitor.consent)
        self._headers = {"User-Agent": visitor.user_agent,
                         "Accept-Language": f"{visitor.language},en;q=0.5"}
        if visitor.consent == "gpc":
            self._headers["Sec-GPC"] = "1"

    # -- visits and pages ---------------------------------------------------
    def start_visit(self) -> None:
        """Forget what was seen in the last visit (the cookies stay)."""
        self.seen = {}
        self.last_path = ""

    def get(self, path: str, channel: str | None = None) -> Page | None:
        """Open a page: from ``channel`` (a landing) or by following a link."""
        headers = dict(self._headers)
        if channel is not None:
            referer, query = CHANNELS[channel][int(self.rng.integers(len(CHANNELS[channel])))]
            if referer:
                headers["Referer"] = referer
            target = f"{path}?{query}" if query else path
        else:
            if self.last_path:
                headers["Referer"] = HOST + self.last_path
            target = path
        response = self.client.get(target, headers=headers, follow_redirects=True)
        return self._page(response, path)

    def submit(self, page: Page, action: str, **values: str) -> Page | None:
        """Submit a form of ``page`` (hidden fields included) and open where it leads."""
        form = page.form(action)
        if form is None or form.method != "post":
            return None
        headers = {**self._headers, "Referer": HOST + self.last_path}
        response = self.client.post(action, data={**form.fields, **values}, headers=headers,
                                    follow_redirects=True)
        return self._page(response, action)

    def _page(self, response: Any, path: str) -> Page | None:
        try:
            body = response.get_data(as_text=True)
            status = int(response.status_code)
            final = response.request.path if response.request is not None else path
        finally:
            response.close()  # the middleware logs exposures when the body is closed
        self.tally.pageviews += 1
        if status >= 400:
            self.tally.page_errors[status] += 1
            return None
        self.last_path = final
        return parse_page(body)

    # -- reacting, as the person and as the beacon ------------------------------
    def response_to(self, slot: SlotSeen) -> Response:
        """This visitor's hidden response to the variant in ``slot``."""
        return self.population.response(self.visitor.persona, slot.variant,
                                        self.tags_of(slot.variant))

    def look(self, page: Page) -> list[dict[str, Any]]:
        """Read the page: clicks, 👍/👎 and complaints it provokes, as events to send."""
        events: list[dict[str, Any]] = []
        for slot in page.slots:
            r = self.response_to(slot)
            earlier = self.seen.get(slot.name)
            if earlier is None or r.convert > earlier.convert:
                self.seen[slot.name] = r
            if self.rng.random() < r.click:
                events.append({"type": "click", "decision": slot.decision})
            if slot.feedback:
                draw = self.rng.random()
                if draw < r.like:
                    events.append({"type": "feedback", "decision": slot.decision, "value": 1})
                elif draw < r.like + r.dislike:
                    events.append({"type": "feedback", "decision": slot.decision, "value": -1})
            if self.rng.random() < r.complaint:
                events.append({"type": "complaint", "decision": slot.decision,
                               "reason": "This felt pushy."})
        return events

    def bounces(self, page: Page) -> bool:
        """Whether the visitor leaves at once from this landing page."""
        extra = sum(self.response_to(s).bounce for s in page.slots)
        return bool(self.rng.random() < min(0.95, self.visitor.persona.bounce + extra))

    def dwell(self, page: Page) -> float:
        """Seconds spent on the page."""
        factors = [self.response_to(s).dwell for s in page.slots] or [1.0]
        base = self.visitor.persona.dwell_seconds * float(self.rng.lognormal(0.0, 0.5))
        return max(2.0, base * math.prod(factors) ** (1 / len(factors)))

    def buy_chance(self, factor: float) -> float:
        """Chance of adding to the cart now, given what this visit has shown."""
        effect = math.prod(r.convert for r in self.seen.values())
        return min(0.95, self.visitor.persona.buy * factor * effect)

    def send(self, page: Page, events: list[dict[str, Any]]) -> None:
        """POST events as the beacon does (at most 20 per body), unless tracking is off."""
        if not page.tracking or not events:
            return
        for i in range(0, len(events), 20):
            batch = events[i:i + 20]
            self.tally.events_sent += len(batch)
            response = self.client.post(
                self.events_path, data=json.dumps({"events": batch}), content_type="text/plain",
                headers={**self._headers, "Referer": HOST + self.last_path})
            try:
                status = int(response.status_code)
                answer: Mapping[str, Any] = response.get_json(silent=True) or {}
            finally:
                response.close()
            if status == 202:
                self.tally.events_accepted += int(answer.get("accepted", 0))
                self.tally.event_types.update(e["type"] for e in batch)
            else:
                self.tally.events_refused[status] += len(batch)

    def leave(self, page: Page, seconds: float, *, bounced: bool = False) -> None:
        """Hide the page: dwell for every slot (and a bounce, when it was the only page)."""
        events = [{"type": "dwell", "decision": s.decision, "value": round(min(seconds, 86400),
                                                                            1)}
                  for s in page.slots]
        if bounced:
            events += [{"type": "bounce", "decision": s.decision} for s in page.slots]
        self.send(page, events)
