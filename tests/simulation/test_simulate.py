"""Simulated visitors against the demo shop: events accepted, learning, and the harm monitor."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask

from demo_site.app import create_app
from personalize.engine import Personalizer
from personalize.guardrails.stats import harm_detected
from personalize.integrations.flask import Personalize
from personalize.simulation import (
    Population,
    Response,
    SimClock,
    Simulation,
    bargain_population,
    shop_population,
)
from personalize.simulation.cli import simulate_command
from personalize.simulation.page import parse_page, variant_of
from personalize.simulation.scenarios import COMMUTERS, SHARED
from personalize.store import MemoryStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

HELSINKI = ZoneInfo("Europe/Helsinki")
MONDAY = datetime(2026, 11, 16, 0, 0, tzinfo=HELSINKI).timestamp()
BAD = ("feedback_negative", "complaint")


def demo_app(clock: SimClock, seed: int = 0) -> Flask:
    return create_app({
        "PERSONALIZE_STORE": MemoryStore(clock=clock), "PERSONALIZE_CLOCK": clock,
        "PERSONALIZE_RANDOM_STATE": seed, "SECRET_KEY": "simulation-test-secret-0123456789",
        "PERSONALIZE_REVIEW_PASSWORD": "review-test-password"})


@pytest.fixture
def clock() -> SimClock:
    return SimClock(MONDAY)


@pytest.fixture
def app(clock: SimClock) -> Iterator[Flask]:
    app = demo_app(clock)
    yield app
    Personalize.engine(app).close()


def log_of(engine: Personalizer, kind: str) -> list[dict[str, Any]]:
    return list(engine.store.read_log(types=[kind]))


def test_a_small_simulation_is_accepted_logged_and_learned_from(app: Flask,
                                                                clock: SimClock) -> None:
    engine = Personalize.engine(app)
    summary = Simulation(app, shop_population(), clock=clock, seed=11,
                         progress=False).run(300, days=1)
    tally = summary.tally
    assert summary.visitors == 300 and summary.visits >= 300
    assert tally.pageviews > 900 and not tally.page_errors
    assert tally.events_sent > 1000 and tally.events_accepted == tally.events_sent
    assert not tally.events_refused
    assert {"dwell", "click", "feedback"} <= set(tally.event_types)
    assert tally.orders > 20

    exposures = log_of(engine, "exposure")
    assert len(exposures) > 1000
    assert {r["slot"] for r in exposures} == {"hero", "greeting", "promo", "cta", "help",
                                              "closing"}
    assert {"bandit", "rule", "split", "holdout"} <= {r["source"] for r in exposures}
    assert sum(tally.event_types.values()) == sum(
        len(log_of(engine, kind)) for kind in ("dwell", "click", "feedback", "complaint"))
    conversions = log_of(engine, "conversion")
    assert {r["visitor"] for r in conversions} and all(r["value"] > 0 for r in conversions)

    assert summary.learned > 500 and engine.learner.pending_count == 0
    stats = engine.store.get_stats("model:promo:promo-shipping")
    assert stats and float(np.abs(stats["b"]).sum()) > 0
    assert summary.decisions["bandit"] > 0 and summary.decisions["split"] > 0
    assert clock() - MONDAY >= 86400 * 0.9
    text = summary.text()
    assert "visitors        300" in text and "none refused" in text


def counts_until(records: Iterable[dict[str, Any]], variant: str, until: float
                 ) -> tuple[int, dict[str, int]]:
    """Exposures of ``variant`` in the promo slot, and its bad signals, logged up to ``until``."""
    exposures, bad = 0, dict.fromkeys(BAD, 0)
    for r in records:
        if r.get("slot") != "promo" or r.get("variant") != variant or r["ts"] > until:
            continue
        if r["type"] == "exposure":
            exposures += 1
        elif r.get("signal") in bad:
            bad[r["signal"]] += 1
    return exposures, bad


def test_the_experience_monitor_pauses_the_fake_countdown(app: Flask, clock: SimClock) -> None:
    """Bargain hunters buy most with the countdown, and dislike it most: it gets paused."""
    engine = Personalize.engine(app)
    summary = Simulation(app, bargain_population(), clock=clock, seed=5,
                         progress=False).run(600, days=2)
    paused = {(d["slot"], d["variant"]): d for d in summary.paused}
    assert list(paused) == [("promo", "promo-countdown")], summary.text()
    pause = paused["promo", "promo-countdown"]
    assert pause["auto"] and pause["needs_review"] and pause["signal"] in BAD
    # honest: the log's own counts at the moment of the pause show the harm
    records = list(engine.store.read_log())
    settings = engine.ruleset.guardrails.experience_monitor
    n_v, bad_v = counts_until(records, "promo-countdown", pause["paused_at"])
    n_d, bad_d = counts_until(records, "promo-shipping", pause["paused_at"])
    signal = pause["signal"]
    assert n_v >= 0.5 * settings.min_exposures
    assert bad_v[signal] / n_v > settings.harm_ratio * bad_d[signal] / n_d
    assert harm_detected(n_v, bad_v[signal], n_d, bad_d[signal], alpha=settings.alpha,
                         harm_ratio=settings.harm_ratio, min_exposures=0)
    # and it stays paused: nobody is shown the countdown afterwards
    later = [r for r in records if r["type"] == "exposure" and r["ts"] > pause["paused_at"]
             and r["variant"] == "promo-countdown"]
    assert later == []
    # the dark pattern did sell: the reason it must be a guardrail, not the objective
    conversions = [r for r in records if r["type"] == "conversion" and r["slot"] == "promo"]
    rate = {v: sum(r["variant"] == v for r in conversions) / max(1, counts_until(
        records, v, float("inf"))[0]) for v in ("promo-countdown", "promo-shipping")}
    assert rate["promo-countdown"] > rate["promo-shipping"]


def test_refused_events_are_counted_and_not_resent(clock: SimClock) -> None:
    """Any WSGI app works; an event endpoint that says 429 is respected."""
    shop = demo_app(clock)
    engine = Personalize.engine(shop)
    posted: list[tuple[str, str]] = []

    def busy(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/_personalize/events":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            posted.extend((e["type"], e["decision"]) for e in json.loads(body)["events"])
            start_response("429 Too Many Requests", [("Content-Type", "application/json"),
                                                     ("Retry-After", "5")])
            return [json.dumps({"error": "rate_limited"}).encode()]
        return shop(environ, start_response)

    try:
        summary = Simulation(busy, shop_population(), clock=clock, engine=engine, seed=2,
                             progress=False).run(25, days=0.5)
        assert summary.tally.events_sent > 0 and summary.tally.events_accepted == 0
        assert summary.tally.events_refused == {429: summary.tally.events_sent}
        assert len(posted) == summary.tally.events_sent == len(set(posted))  # none resent
        assert log_of(engine, "dwell") == [] and len(log_of(engine, "exposure")) > 20
    finally:
        engine.close()


@pytest.mark.parametrize(("persona_likes", "shared", "variant", "tags", "expected"), [
    pytest.param({"v": Response(click=0.5)}, {"v": Response(click=0.1)}, "v", set(),
                 Response(click=0.5), id="persona-id-first"),
    pytest.param({"tag:promo": Response(click=0.5)}, {"v": Response(click=0.1)}, "v",
                 {"promo"}, Response(click=0.5), id="persona-tag-before-shared-id"),
    pytest.param({}, {"v": Response(click=0.1), "tag:promo": Response(click=0.3)}, "v",
                 {"promo"}, Response(click=0.1), id="shared-id-before-shared-tag"),
    pytest.param({}, {"tag:promo": Response(click=0.3)}, "w", {"promo"},
                 Response(click=0.3), id="shared-tag"),
    pytest.param({}, {}, "w", {"calm"}, Response(), id="neutral"),
])
def test_response_lookup_order(persona_likes: dict[str, Response],
                               shared: dict[str, Response], variant: str, tags: set[str],
                               expected: Response) -> None:
    persona = replace(COMMUTERS, likes=persona_likes)
    assert Population((persona,), shared).response(persona, variant, tags) == expected


def test_the_dark_pattern_sells_best_and_hurts_most() -> None:
    countdown = SHARED["promo-countdown"]
    honest = [SHARED[v] for v in ("promo-shipping", "promo-bundle", "promo-subscription")]
    assert all(countdown.convert > r.convert for r in honest)
    assert all(countdown.dislike > 10 * r.dislike and countdown.complaint > 10 * r.complaint
               for r in honest)


def test_visitors_arrive_within_the_days_at_their_hours() -> None:
    population = shop_population()
    people = population.sample(2000, start=MONDAY, days=2, rng=np.random.default_rng(1))
    times = [t for p in people for t in p.visits]
    assert min(times) >= MONDAY and max(times) < MONDAY + 2 * 86400
    hours = [datetime.fromtimestamp(p.visits[0], HELSINKI).hour for p in people
             if p.persona.name == "night-owl"]
    assert sum(h in (22, 23, 0, 1, 2) for h in hours) / len(hours) > 0.6
    assert {p.consent for p in people} == {"yes", "no", "none", "gpc"}
    assert {p.language for p in people} == {"en", "fi"}
    with pytest.raises(ValueError, match="at least one visitor"):
        population.sample(0, start=MONDAY, days=1, rng=np.random.default_rng(1))


def test_the_page_reader_follows_the_beacon_contract() -> None:
    from personalize.decision import DecisionSigner

    token = DecisionSigner("a-secret-of-sixteen+").sign("v" * 32, "promo", "promo-bundle", 1.0)
    html = f"""<!doctype html><html lang="fi" data-personalize-tracking="off"><body>
      <div data-personalize-slot="promo" data-personalize-decision="{token}">
        <div><p>Offer</p></div><div data-personalize-feedback="?"></div></div>
      <section data-personalize-slot="hero">unfilled marker</section>
      <a href="/products/aamu">Aamu</a> <a href="https://elsewhere.example/">x</a>
      <form method="post" action="/cart/add"><input type="hidden" name="csrf" value="t&amp;k">
        <select name="quantity"><option value="1">1</option><option value="3" selected>3
        </option></select><input type="checkbox" name="gift" value="yes"></form>"""
    page = parse_page(html)
    assert not page.tracking
    assert [(s.name, s.variant, s.feedback) for s in page.slots] == [
        ("promo", "promo-bundle", True)]
    assert page.links == ["/products/aamu"] and page.links_under("/products/") == [
        "/products/aamu"]
    form = page.form("/cart/add")
    assert form is not None and form.method == "post"
    assert form.fields == {"quantity": "3", "csrf": "t&k"}
    assert variant_of("not-a-token") is None


def test_the_clock_only_moves_forward() -> None:
    clock = SimClock(100.0)
    clock.advance(5)
    clock.advance_to(50)
    assert clock() == 105.0
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(-1)


def test_the_command_prints_a_summary() -> None:
    result = CliRunner().invoke(simulate_command, [
        "--visitors", "30", "--days", "0.3", "--seed", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "visitors        30 " in result.output and "events sent" in result.output
    assert "decisions       " in result.output and "paused" in result.output


@pytest.mark.parametrize(("target", "message"), [
    pytest.param("no_such_module_here:create_app", "cannot import", id="module"),
    pytest.param("demo_site.app:no_factory", "has no callable", id="attribute"),
    pytest.param("demo_site.app", "expected module:factory", id="shape"),
])
def test_the_command_explains_a_bad_app(target: str, message: str) -> None:
    result = CliRunner().invoke(simulate_command, ["--visitors", "5", "--app", target])
    assert result.exit_code == 2 and message in result.output
