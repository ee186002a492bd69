"""Drive synthetic visitors through any WSGI app, in-process, on a simulated clock.

::

    clock = SimClock(start)
    app = create_app({"PERSONALIZE_STORE": "memory://", "PERSONALIZE_CLOCK": clock})
    sim = Simulation(app, shop_population(), clock=clock, seed=7)
    summary = sim.run(visitors=3000, days=3)
    print(summary.text())

Visits are events on one timeline: every visit is a generator that makes a
request and then yields the seconds until its next one, and a heap runs them
in time order, so thousands of visits overlap as on a real site while the
clock only moves forward. Every simulated minute the engine syncs (tails the
log, settles rewards whose window closed, runs the monitors), as a worker
would; at the end the clock runs on past the last reward window.

A journey follows the site's links: home → category → product → cart →
checkout → thank-you, or the support pages, or a brewing guide; the
:class:`SiteMap` names the paths, and product links are read from the pages.
"""

from __future__ import annotations

import heapq
import sys
import time
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from ..engine import Personalizer
from ..exceptions import StoreError
from .browser import SimBrowser, Tally
from .clock import SimClock
from .page import Page
from .population import Population, SimVisitor

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

#: a visit: yields the seconds until its next step
Steps = Generator[float, None, None]
#: part of a visit that ends on a page (``None`` when the visit ends)
PageSteps = Generator[float, None, Page | None]

#: how much more likely than the persona's base rate each intent is to add to the cart
INTENT_BUYING = {"buy": 2.0, "browse": 0.8, "guide": 0.6, "support": 0.3}


@dataclass(frozen=True)
class SiteMap:
    """Where things are on the site being simulated (the demo shop's paths by default)."""

    home: str = "/"
    categories: tuple[str, ...] = ("/coffee", "/coffee/blends", "/coffee/single-origin",
                                   "/coffee/decaf")
    product_prefix: str = "/products/"
    add_to_cart: str = "/cart/add"
    cart: str = "/cart"
    checkout: str = "/checkout"
    support: tuple[str, ...] = ("/support", "/support/faq", "/support/contact", "/support/chat")
    guides: tuple[str, ...] = ("/guides/pour-over", "/guides/fresh-beans")
    events: str = "/_personalize/events"


@dataclass
class Summary:
    """The outcome of a run, for people (:meth:`text`) and tests."""

    visitors: int
    visits: int
    tally: Tally
    decisions: Counter[str] = field(default_factory=Counter)
    paused: list[dict[str, Any]] = field(default_factory=list)
    learned: int = 0
    seconds: float = 0.0
    start: float = 0.0
    end: float = 0.0

    def text(self) -> str:
        """A readable report."""
        t = self.tally
        refused = ", ".join(f"{n} × {status}" for status, n in sorted(t.events_refused.items()))
        lines = [
            f"visitors        {self.visitors} ({self.visits} visits over "
            f"{(self.end - self.start) / 86400:.1f} simulated days, {self.seconds:.1f} s)",
            f"pageviews       {t.pageviews}"
            + (f" ({sum(t.page_errors.values())} errors: {dict(t.page_errors)})"
               if t.page_errors else ""),
            f"orders          {t.orders}",
            f"events sent     {t.events_sent}: {t.events_accepted} accepted"
            + (f", refused {refused}" if refused else ", none refused"),
            "  by type       " + ", ".join(f"{k} {v}" for k, v in t.event_types.most_common()),
            "decisions       " + (", ".join(f"{k} {v}" for k, v in self.decisions.most_common())
                                  or "(engine not found)"),
            f"learned from    {self.learned} decisions",
        ]
        if not self.paused:
            lines.append("paused          none")
        for doc in self.paused:
            lines.append(f"paused          {doc['slot']}/{doc['variant']} after "
                         f"{doc.get('exposures_logged', '?')} logged exposures: "
                         f"{doc.get('reason', '')}")
        return "\n".join(lines)


def find_engine(app: object) -> Personalizer | None:
    """The :class:`Personalizer` inside a Flask app or a middleware, if there is one."""
    state = getattr(app, "extensions", {}).get("personalize")
    for holder in (state, app, getattr(app, "wsgi_app", None)):
        engine = getattr(holder, "engine", None)
        if isinstance(engine, Personalizer):
            return engine
    return None


class Simulation:
    """Runs a population's visits through a WSGI app.

    :param clock: the clock the app's engine was built with (``PERSONALIZE_CLOCK``).
    :param engine: the app's engine; found inside the app when not given. Without
        one the run still works, but nothing syncs and the summary has no decisions.
    :param sync_every: simulated seconds between engine syncs; the engine's own
        sync-on-request interval is set to the same. Two minutes is far finer than
        the reward window (half an hour) and the monitor needs, and a sync (which
        re-reads every arm's statistics) is a simulation's costliest step.
    :param report_bounces: also send a ``bounce`` event for every slot of a page a
        visitor left at once. Off by default: the beacon does not send bounces,
        and a page-level bounce charged to every slot on the page blames the
        innocent variants beside the one that drove the visitor away.
    :param progress: show a progress bar; by default only on a terminal.
    """

    def __init__(self, app: WSGIApplication, population: Population, *, clock: SimClock,
                 engine: Personalizer | None = None, site: SiteMap = SiteMap(), seed: int = 0,
                 sync_every: float = 120.0, report_bounces: bool = False,
                 progress: bool | None = None) -> None:
        self.app = app
        self.population = population
        self.clock = clock
        self.engine = engine or find_engine(app)
        self.site = site
        self.rng = np.random.default_rng(seed)
        self.sync_every = sync_every
        self.report_bounces = report_bounces
        if self.engine is not None:
            # the simulation owns the engine's time: no background thread syncing on
            # the wall clock, and inline syncs at most once per simulated interval
            self.engine.background_sync = False
            self.engine.learner.sync_interval = sync_every
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.tally = Tally()
        self._last_sync = clock()

    def run(self, visitors: int, *, days: float) -> Summary:
        """Simulate ``visitors`` arriving over ``days`` from the clock's current time."""
        began, start = time.perf_counter(), self.clock()
        people = self.population.sample(visitors, start=start, days=days, rng=self.rng)
        queue: list[tuple[float, int, Steps]] = []
        for person in people:
            browser = self._browser(person)
            for n, at in enumerate(person.visits):
                heapq.heappush(queue, (at, len(queue), self._visit(browser, n)))
        seq = len(queue)
        total = sum(len(p.visits) for p in people)
        with tqdm(total=total, unit="visit", disable=not self.progress, leave=False) as bar:
            while queue:
                at, _, steps = heapq.heappop(queue)
                self._tick(at)
                try:
                    delay = next(steps)
                except StopIteration:
                    bar.update(1)
                    continue
                seq += 1
                heapq.heappush(queue, (at + delay, seq, steps))
        self._finish()
        return self._summary(visitors, total, began, start)

    # -- one visit ------------------------------------------------------------
    def _visit(self, browser: SimBrowser, number: int) -> Steps:
        visitor, site = browser.visitor, self.site
        intent, channel = visitor.intents[number], visitor.channels[number]
        browser.start_visit()
        page = browser.get(self._landing(intent, channel), channel=channel)
        if page is None:
            return
        if browser.bounces(page):
            seconds = min(browser.dwell(page), 10.0)
            browser.send(page, browser.look(page))
            yield seconds
            browser.leave(page, seconds, bounced=self.report_bounces)
            return
        if intent == "support":
            for path in self._some(site.support, 1, 3):
                page = yield from self._read(browser, page, path)
                if page is None:
                    return
            if self.rng.random() > 0.15:
                yield from self._read(browser, page, None)
                return
        if intent == "guide" and self.rng.random() < 0.5:
            page = yield from self._read(browser, page, self._pick(site.guides))
            if page is None:
                return
        if not page.links_under(site.product_prefix):
            page = yield from self._read(browser, page, self._pick(site.categories))
            if page is None:
                return
        products = page.links_under(site.product_prefix)  # the listing the visitor browses
        for _ in range(1 + int(self.rng.integers(0, 3))):
            if not products:
                break
            page = yield from self._read(browser, page, self._pick(products))
            if page is None:
                return
            if self.rng.random() < browser.buy_chance(INTENT_BUYING.get(intent, 1.0)):
                page = yield from self._checkout(browser, page, intent)
                break
        if page is not None:
            yield from self._read(browser, page, None)

    def _read(self, browser: SimBrowser, page: Page, then: str | None) -> PageSteps:
        """Stay on ``page`` (reacting to it), then leave for ``then`` (``None``: the end)."""
        seconds = browser.dwell(page)
        yield seconds * 0.5
        browser.send(page, browser.look(page))
        yield seconds * 0.5
        browser.leave(page, seconds)
        return browser.get(then) if then is not None else None

    def _checkout(self, browser: SimBrowser, product: Page, intent: str) -> PageSteps:
        """Add to the cart, and perhaps go on to check out and order."""
        site = self.site
        cart = yield from self._act(browser, product, site.add_to_cart)
        if cart is not None and site.cart not in browser.last_path:
            cart = yield from self._read(browser, cart, site.cart)  # a site that stays put
        if cart is None or self.rng.random() > (0.85 if intent == "buy" else 0.6):
            return cart
        checkout = yield from self._read(browser, cart, site.checkout)
        if checkout is None or self.rng.random() > 0.9:
            return checkout
        done = yield from self._act(browser, checkout, site.checkout)
        if done is not None:
            self.tally.orders += 1
        return done

    def _act(self, browser: SimBrowser, page: Page, action: str) -> PageSteps:
        """React to ``page``, then submit its form to ``action``."""
        seconds = browser.dwell(page)
        yield seconds * 0.5
        browser.send(page, browser.look(page))
        yield seconds * 0.5
        browser.leave(page, seconds)
        return browser.submit(page, action)

    def _landing(self, intent: str, channel: str) -> str:
        site = self.site
        if intent == "support":
            return self._pick(site.support[:1]) if channel == "direct" else site.home
        if intent == "guide" and channel in ("search", "social", "chatbot"):
            return self._pick(site.guides)
        if channel in ("search", "paid") and self.rng.random() < 0.6:
            return self._pick(site.categories)
        return site.home

    # -- the timeline -------------------------------------------------------
    def _tick(self, at: float) -> None:
        self.clock.advance_to(at)
        if self.engine is not None and self.clock() - self._last_sync >= self.sync_every:
            self._last_sync = self.clock()
            self._sync()

    def _sync(self) -> None:
        if self.engine is None:
            return
        try:
            self.engine.sync()
        except StoreError as err:
            print(f"sync failed, continuing: {err}", file=sys.stderr)

    def _finish(self) -> None:
        """Let every reward window close and learn from what is left."""
        if self.engine is None:
            return
        self._sync()
        self.clock.advance(self.engine.learner.reward_window + 1.0)
        self._sync()
        self.engine.store.flush()

    def _browser(self, person: SimVisitor) -> SimBrowser:
        engine = self.engine
        cookie = engine.ruleset.site.consent_cookie if engine is not None else "pz_consent"
        return SimBrowser(self.app, person, self.population, rng=self.rng, tally=self.tally,
                          tags_of=self._tags_of(), consent_cookie=cookie,
                          events_path=self.site.events)

    def _tags_of(self) -> Callable[[str], frozenset[str]]:
        engine = self.engine

        def tags(variant: str) -> frozenset[str]:
            if engine is None:
                return frozenset()
            for slot in engine.ruleset.slots.values():
                if variant in slot.variants:
                    return frozenset(slot.variants[variant].tags)
            return frozenset()

        return tags

    def _pick(self, choices: tuple[str, ...] | list[str]) -> str:
        return str(choices[int(self.rng.integers(len(choices)))])

    def _some(self, choices: tuple[str, ...], low: int, high: int) -> list[str]:
        count = min(len(choices), int(self.rng.integers(low, high + 1)))
        return [str(c) for c in self.rng.choice(list(choices), size=count, replace=False)]

    def _summary(self, visitors: int, visits: int, began: float, start: float) -> Summary:
        summary = Summary(visitors=visitors, visits=visits, tally=self.tally,
                          seconds=time.perf_counter() - began, start=start, end=self.clock())
        engine = self.engine
        if engine is None:
            return summary
        summary.decisions = Counter({k.removeprefix("decisions_"): v
                                     for k, v in engine.counters.items()
                                     if k.startswith("decisions_")})
        summary.learned = int(engine.learner.counts["learned"])
        pauses = engine.store.list_state("pause:")
        for doc in sorted(pauses.values(), key=lambda d: float(d.get("paused_at", 0))):
            doc = dict(doc)
            doc["exposures_logged"] = sum(
                1 for r in engine.store.read_log(since=start, types=["exposure"])
                if r.get("slot") == doc["slot"] and r.get("variant") == doc["variant"]
                and float(r["ts"]) <= float(doc.get("paused_at", 0)))
            summary.paused.append(doc)
        return summary
