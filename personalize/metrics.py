"""Prometheus metrics for operators (optional: ``pip install 'personalize[metrics]'``).

>>> from personalize.metrics import metrics_app
>>> app = DispatcherMiddleware(app, {"/metrics": metrics_app(engine)})

Nothing here runs on the request path. The engine and the middleware already
keep plain counters (:attr:`Personalizer.counters`, a dict of name → int) and
every guardrail keeps its own tally; a custom collector reads them *when
Prometheus scrapes*, so serving a page costs no more with metrics on than off.
The one exception is the latency histogram, which the middleware feeds through
the engine's ``observe_latency`` hook (one call per personalized request).

Mounting
--------

Any WSGI app: route ``/metrics`` to :func:`metrics_app` (``/metrics`` is in the
middleware's default skip paths, so it is never personalized itself)::

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": metrics_app(engine)})

Flask: the same two lines with ``engine = Personalize.engine(app)``.

Django, in ``urls.py``::

    from personalize.integrations.django.middleware import get_engine, serve_wsgi
    from personalize.metrics import metrics_app

    def metrics(request):
        return serve_wsgi(metrics_app(get_engine()), request)

    urlpatterns = [..., path("metrics", metrics)]

The figures say how the site's visitors are treated in aggregate, never who
they are: expose them to your monitoring network only.

Families
--------

=========================================== =====================================================
``personalize_decisions_total{source}``      slot decisions by source (rule, bandit, split,
                                             default, holdout, guardrail)
``personalize_fail_opens_total{stage}``      failures served with defaults, by stage (context,
                                             decide, default, config, inject)
``personalize_store_errors_total{operation}`` store failures: profile reads, commits, syncs
``personalize_store_writer_errors_total{kind}`` the SQLite writer's failures (write, dropped, …)
``personalize_events_total{outcome}``        events accepted, and rejected by refusal code
``personalize_optouts_total``                visitors who opted out
``personalize_guardrail_paused_variants{slot}`` variants the experience monitor holds paused
``personalize_guardrail_pauses_total{how}``  pauses made (automatically, by hand) and lifted
``personalize_guardrail_actions_total{guardrail,action}`` what each guardrail did
``personalize_rules_info{version}``          the rule set serving now (value 1)
``personalize_request_seconds``              personalization time per request (histogram)
=========================================== =====================================================
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from .signals import SOURCES

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from .engine import Personalizer

log = logging.getLogger("personalize.metrics")

STAGES = ("context", "decide", "default", "config", "inject")
#: engine counter → ``operation`` label of ``personalize_store_errors_total``
STORE_COUNTERS = {"store_degraded": "profile_read", "commit_errors": "commit",
                  "sync_errors": "sync"}
#: keys of guardrail reports that count actions (the others are settings)
ACTION_KEYS = ("removed", "held_out", "bots", "rules_only", "kept", "bounded", "exploit_only")
PAUSE_COUNTS = {"paused_automatically": "automatically", "paused_by_hand": "by_hand",
                "resumed": "resumed"}
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class EngineCollector(Collector):
    """Reads an engine's counters and its guardrails' reports at scrape time.

    :param engine: the :class:`~personalize.engine.Personalizer` to report on.
    """

    def __init__(self, engine: Personalizer) -> None:
        self.engine = engine

    def describe(self) -> Iterable[Metric]:
        """The families without samples, so registering does not scrape the engine."""
        return list(self._families(with_samples=False))

    def collect(self) -> Iterable[Metric]:
        """Every family with its current samples."""
        return list(self._families(with_samples=True))

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        counters = self.engine.counters.copy() if with_samples else {}
        yield _by_prefix(counters, "decisions_", SOURCES, "personalize_decisions",
                         "Slot decisions, by where the variant came from.", "source",
                         with_samples)
        yield _by_prefix(counters, "fail_open_", STAGES, "personalize_fail_opens",
                         "Failures inside personalization served with defaults, by stage.",
                         "stage", with_samples)
        store = CounterMetricFamily("personalize_store_errors",
                                    "Store failures on the request path and in syncs.",
                                    labels=["operation"])
        if with_samples:
            for name, operation in STORE_COUNTERS.items():
                store.add_metric([operation], counters.get(name, 0))
        yield store
        writer = CounterMetricFamily("personalize_store_writer_errors",
                                     "Failures of the store's background writer, by kind.",
                                     labels=["kind"])
        if with_samples:
            for kind, count in sorted(_writer_errors(self.engine).items()):
                writer.add_metric([kind], count)
        yield writer
        events = CounterMetricFamily("personalize_events",
                                     "Events reported to the event endpoint: accepted, or "
                                     "the refusal code.", labels=["outcome"])
        if with_samples:
            events.add_metric(["accepted"], counters.get("events_accepted", 0))
            for name, count in sorted(counters.items()):
                if name.startswith("events_rejected_"):
                    events.add_metric([name.removeprefix("events_rejected_")], count)
        yield events
        optouts = CounterMetricFamily("personalize_optouts",
                                      "Visitors who turned personalization off.")
        if with_samples:
            optouts.add_metric([], counters.get("optouts", 0))
        yield optouts
        yield from self._guardrail_families(with_samples)

    def _guardrail_families(self, with_samples: bool) -> Iterator[Metric]:
        paused = GaugeMetricFamily("personalize_guardrail_paused_variants",
                                   "Variants the experience monitor holds paused, by slot.",
                                   labels=["slot"])
        pauses = CounterMetricFamily("personalize_guardrail_pauses",
                                     "Pauses made by the experience monitor or by hand, and "
                                     "pauses lifted.", labels=["how"])
        actions = CounterMetricFamily("personalize_guardrail_actions",
                                      "What each guardrail did to slot decisions.",
                                      labels=["guardrail", "action"])
        rules = GaugeMetricFamily("personalize_rules_info", "The rule set serving now.",
                                  labels=["version"])
        if with_samples:
            reports = self._reports()
            monitor = reports.get("experience_monitor", {})
            per_slot: dict[str, int] = {}
            for doc in monitor.get("paused", []):
                slot = str(doc.get("slot", ""))
                per_slot[slot] = per_slot.get(slot, 0) + 1
            for slot, count in sorted(per_slot.items()):
                paused.add_metric([slot], count)
            tally = monitor.get("counts", {})
            for key, how in PAUSE_COUNTS.items():
                pauses.add_metric([how], int(tally.get(key, 0)))
            for name, report in reports.items():
                for key in ACTION_KEYS:
                    value = report.get(key)
                    if isinstance(value, int) and not isinstance(value, bool):
                        actions.add_metric([name, key], value)
            rules.add_metric([self.engine.ruleset.version], 1)
        yield from (paused, pauses, actions, rules)

    def _reports(self) -> dict[str, Mapping[str, Any]]:
        try:
            return {g.name: g.report() for g in self.engine.guardrails()}
        except Exception:  # a scrape reports what it can; it never fails
            log.exception("could not read the guardrails' reports for a metrics scrape")
            return {}


def _by_prefix(counters: Mapping[str, int], prefix: str, known: Iterable[str], name: str,
               documentation: str, label: str, with_samples: bool) -> CounterMetricFamily:
    """One family from the counters named ``prefix + label value``.

    The known label values are always present (at zero until counted), so a
    dashboard's series exist before the first failure does.
    """
    family = CounterMetricFamily(name, documentation, labels=[label])
    if with_samples:
        values = dict.fromkeys(known, 0)
        for key, count in counters.items():
            if key.startswith(prefix):
                values[key.removeprefix(prefix)] = count
        for value, count in sorted(values.items()):
            family.add_metric([value], count)
    return family


def _writer_errors(engine: Personalizer) -> dict[str, int]:
    found = getattr(engine.store, "errors", None)
    if not isinstance(found, Mapping):
        return {}
    return {str(k): int(v) for k, v in found.items()}


class Metrics:
    """The metrics of one engine, in a registry of their own.

    Prefer :meth:`of`, which keeps one instance per engine, so that the
    latency hook is set once however many endpoints serve the metrics.

    :param engine: the engine to report on; its ``observe_latency`` hook is set
        to feed :attr:`latency`.
    :param registry: where the families are registered; a new one by default,
        so two engines in one process (tests, several sites) never collide.
    """

    def __init__(self, engine: Personalizer, *,
                 registry: CollectorRegistry | None = None) -> None:
        self.engine = engine
        self.registry = registry if registry is not None else CollectorRegistry()
        self.latency = Histogram("personalize_request_seconds",
                                 "Time spent personalizing one request (classifying, "
                                 "deciding every slot), in seconds.",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(EngineCollector(engine))
        # the middleware calls the engine's hook with each request's seconds
        engine.observe_latency = self.observe_latency

    @classmethod
    def of(cls, engine: Personalizer) -> Metrics:
        """The engine's one :class:`Metrics`, made on first use."""
        with _LOCK:
            found = _BY_ENGINE.get(engine)
            if found is None:
                found = _BY_ENGINE[engine] = cls(engine)
            return found

    def observe_latency(self, seconds: float) -> None:
        """Record one request's personalization time.

        :param seconds: what the middleware measured (its ``Server-Timing`` figure).
        """
        self.latency.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition format and its content type, for any framework's view."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


_LOCK = threading.Lock()
_BY_ENGINE: weakref.WeakKeyDictionary[Personalizer, Metrics] = weakref.WeakKeyDictionary()


def metrics_app(engine: Personalizer) -> WSGIApplication:
    """A WSGI app answering every request with the engine's metrics.

    :param engine: the engine whose metrics to serve (see :meth:`Metrics.of`).
    """
    app: WSGIApplication = make_wsgi_app(Metrics.of(engine).registry)
    return app
