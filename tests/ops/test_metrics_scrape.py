"""The Prometheus endpoint: scraped over WSGI and parsed as Prometheus would."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from personalize.engine import Personalizer
from personalize.guardrails import ExperienceMonitor
from personalize.metrics import Metrics, metrics_app
from personalize.store.memory import MemoryStore
from tests.badinput.demo_kit import Demo

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(engine: Personalizer) -> Samples:
    """Every sample of the engine's /metrics, keyed by name and sorted labels."""
    response = Client(metrics_app(engine)).get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_a_fresh_engine_reports_every_family_at_zero(demo: Demo) -> None:
    samples = scrape(demo.engine)
    for source in ("rule", "bandit", "split", "default", "holdout", "guardrail"):
        assert value(samples, "personalize_decisions_total", source=source) == 0
    for stage in ("context", "decide", "default", "config", "inject"):
        assert value(samples, "personalize_fail_opens_total", stage=stage) == 0
    for operation in ("profile_read", "commit", "sync"):
        assert value(samples, "personalize_store_errors_total", operation=operation) == 0
    assert value(samples, "personalize_events_total", outcome="accepted") == 0
    assert value(samples, "personalize_optouts_total") == 0
    assert value(samples, "personalize_request_seconds_count") == 0
    assert value(samples, "personalize_rules_info", version=demo.engine.ruleset.version) == 1


def test_decisions_and_optouts_are_counted_as_the_engine_counts_them(demo: Demo) -> None:
    for _ in range(3):
        page = demo.get("/")
        assert page.status == 200
    assert demo.post("/_personalize/optout").status == 200
    samples = scrape(demo.engine)
    by_source = Counter({k.removeprefix("decisions_"): v for k, v in demo.engine.counters.items()
                         if k.startswith("decisions_")})
    assert sum(by_source.values()) >= 3 * 4  # four slots on the home page
    for source, count in by_source.items():
        assert value(samples, "personalize_decisions_total", source=source) == count
    assert value(samples, "personalize_optouts_total") == 1


def test_fail_opens_are_counted_by_stage(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the policy fell over")

    monkeypatch.setattr(demo.engine, "decide", broken)
    logger_errors: list[str] = []
    monkeypatch.setattr("personalize.middleware.log.exception",
                        lambda *a, **k: logger_errors.append(str(a[0])))
    page = demo.get("/")
    assert page.status == 200  # defaults were served
    samples = scrape(demo.engine)
    assert value(samples, "personalize_fail_opens_total", stage="decide") >= 1
    assert value(samples, "personalize_fail_opens_total", stage="context") == 0
    assert logger_errors


def test_event_outcomes_and_store_errors_come_from_the_engine_counters(demo: Demo) -> None:
    engine = demo.engine
    engine.count("events_accepted", 5)
    engine.count("events_rejected_bad_token", 2)
    engine.count("events_rejected_rate_limited")
    engine.count("store_degraded", 4)
    engine.count("commit_errors")
    samples = scrape(engine)
    assert value(samples, "personalize_events_total", outcome="accepted") == 5
    assert value(samples, "personalize_events_total", outcome="bad_token") == 2
    assert value(samples, "personalize_events_total", outcome="rate_limited") == 1
    assert value(samples, "personalize_store_errors_total", operation="profile_read") == 4
    assert value(samples, "personalize_store_errors_total", operation="commit") == 1


class _CountingStore(MemoryStore):
    """A memory store that reports writer errors the way SQLiteStore does."""

    @property
    def errors(self) -> Counter[str]:
        return Counter({"write": 3, "dropped": 1})


def test_store_writer_errors_are_read_from_the_store() -> None:
    engine = Personalizer(rules="rules", store=_CountingStore(), secret="m" * 32)
    samples = scrape(engine)
    assert value(samples, "personalize_store_writer_errors_total", kind="write") == 3
    assert value(samples, "personalize_store_writer_errors_total", kind="dropped") == 1


def test_guardrail_pauses_and_actions_are_reported(demo: Demo) -> None:
    monitor = next(g for g in demo.engine.guardrails() if isinstance(g, ExperienceMonitor))
    monitor.pause("promo", "promo-countdown", "fake scarcity", by="test")
    for _ in range(3):
        demo.get("/", consent=False)  # no consent: the consent guardrail acts
    samples = scrape(demo.engine)
    assert value(samples, "personalize_guardrail_paused_variants", slot="promo") == 1
    assert value(samples, "personalize_guardrail_pauses_total", how="by_hand") == 1
    assert value(samples, "personalize_guardrail_pauses_total", how="automatically") == 0
    assert value(samples, "personalize_guardrail_actions_total", guardrail="consent",
                 action="rules_only") >= 3


def test_the_latency_histogram_is_fed_through_the_engine_hook(demo: Demo) -> None:
    metrics = Metrics.of(demo.engine)
    assert Metrics.of(demo.engine) is metrics
    hook = demo.engine.observe_latency  # type: ignore[attr-defined]
    for seconds in (0.0004, 0.002, 0.002, 0.3):
        hook(seconds)
    samples = scrape(demo.engine)
    assert value(samples, "personalize_request_seconds_count") == 4
    assert value(samples, "personalize_request_seconds_bucket", le="0.0025") == 3
    assert value(samples, "personalize_request_seconds_bucket", le="0.25") == 3
    assert value(samples, "personalize_request_seconds_bucket", le="+Inf") == 4
    assert value(samples, "personalize_request_seconds_sum") == pytest.approx(0.3044)


def test_two_engines_in_one_process_keep_separate_metrics() -> None:
    one = Personalizer(rules="rules", store=MemoryStore(), secret="1" * 32)
    two = Personalizer(rules="rules", store=MemoryStore(), secret="2" * 32)
    one.count("optouts", 7)
    assert value(scrape(one), "personalize_optouts_total") == 7
    assert value(scrape(two), "personalize_optouts_total") == 0


def test_mounted_beside_the_demo_shop_at_metrics(demo: Demo) -> None:
    demo.app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        demo.app.wsgi_app, {"/metrics": metrics_app(demo.engine)})
    assert demo.get("/").status == 200
    page = demo.get("/metrics")
    assert page.status == 200
    assert "personalize_decisions_total" in page.body
    assert "Set-Cookie" not in page.headers  # never personalized itself
    events = demo.post("/_personalize/events", json.dumps({"type": "click"}))
    assert events.status == 400
