"""Simulated visitors for load, learning and guardrail demonstrations.

::

    from personalize.simulation import simulate
    from demo_site.app import create_app

    summary = simulate(create_app, visitors=3000, days=3, store="sqlite:///var/personalize.db")
    print(summary.text())

or ``personalize simulate --visitors 3000 --days 3``. A population of
synthetic visitors with hidden preferences (:mod:`.population`,
:mod:`.scenarios`) browses a WSGI app in-process (:mod:`.driver`,
:mod:`.browser`) on a simulated clock (:mod:`.clock`), sending events as the
beacon does; the engine learns and its guardrails act as they would live.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..store import make_store
from ..store.base import Store
from .clock import SimClock
from .driver import Simulation, SiteMap, Summary, find_engine
from .population import Persona, Population, Response, SimVisitor
from .scenarios import SCENARIOS, bargain_population, shop_population

__all__ = ["SCENARIOS", "Persona", "Population", "Response", "SimClock", "SimVisitor",
           "Simulation", "SiteMap", "Summary", "bargain_population", "find_engine",
           "shop_population", "simulate"]

#: a simulation ends this long before now, so its last reward windows close in the past
END_MARGIN = 2 * 3600.0


def simulate(factory: Callable[[dict[str, Any]], Any], *, visitors: int, days: float = 3.0,
             store: str | Store = "memory://", rules: str | None = None, seed: int = 0,
             scenario: str = "shop", end: float | None = None, sync_every: float = 120.0,
             progress: bool | None = None,
             extra_config: Mapping[str, Any] | None = None) -> Summary:
    """Build an app with ``factory`` on a simulated clock and run visitors through it.

    :param factory: an app factory taking a config dict with ``PERSONALIZE_*``
        keys (``demo_site.app.create_app`` is one).
    :param store: a store URL (built here on the simulated clock, and closed at
        the end) or a ready :class:`Store` (left open for the caller).
    :param rules: a rule directory overriding the app's own.
    :param scenario: a key of :data:`SCENARIOS`.
    :param end: epoch seconds the simulated days end at; by default
        :data:`END_MARGIN` before now, so the log reads as recent history.
    :param sync_every: simulated seconds between engine syncs.
    :param extra_config: more config for the factory.
    :raises KeyError: an unknown scenario.
    """
    population = SCENARIOS[scenario]()
    finish = time.time() - END_MARGIN if end is None else end
    clock = SimClock(finish - days * 86400.0)
    built = make_store(store, clock=clock) if isinstance(store, str) else store
    config: dict[str, Any] = {
        "PERSONALIZE_STORE": built, "PERSONALIZE_CLOCK": clock,
        "PERSONALIZE_RANDOM_STATE": seed,
        # a throwaway key: simulated visitors' cookies and decision ids are never
        # shown to a real browser; and a dashboard mounted by the app stays quiet
        "SECRET_KEY": secrets.token_hex(32),
        "PERSONALIZE_REVIEW_PASSWORD": secrets.token_urlsafe(12),
        **({"PERSONALIZE_RULES": rules} if rules else {}),
        **(extra_config or {}),
    }
    app = factory(config)
    try:
        return Simulation(app, population, clock=clock, seed=seed, sync_every=sync_every,
                          progress=progress).run(visitors, days=days)
    finally:
        if isinstance(store, str):
            built.close()
