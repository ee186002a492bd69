"""Per-request cost of the middleware: a 20 KB page with 3 personalized slots.

The same Flask page as the throughput benchmark's (:mod:`benchmarks.throughput_site`)
is served bare and wrapped, in one process, alternating rounds so machine noise
hits both alike. Visitors are returning, consenting visitors on the embedded
SQLite store with the demo shop's rules (6 slots, 20 rules, every guardrail
on): the realistic, most expensive path. The WSGI app is called directly with a
prepared environ, so no HTTP client cost is counted.

    python -m benchmarks.middleware [--quick] [--json]

Figures: ``bare_us`` and ``wrapped_us`` (median per request), ``ratio``
(target ≤ 1.5), ``added_p99_us`` (p99 wrapped − p99 bare, target ≤ 300), and
the same for visitors who have not consented (``no_consent_*``: the demo site
is opt-in, so they get rules-only content with no profile, log or bandit).

The peer: the same page with its slots filled by GrowthBook's Python SDK
(:func:`benchmarks.throughput_site.growthbook_app`: one experiment per slot,
a new ``GrowthBook`` per request as its documentation says), timed in the same
rounds as the bare and wrapped pages (``growthbook_*``), and
``added_vs_growthbook``, our added time over GrowthBook's. GrowthBook keeps no
history and runs no guardrail or bandit, so it does less per request than we
do; it is here because it is what sites use today to fill such slots.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from werkzeug.test import EnvironBuilder

from benchmarks._harness import parse_args, percentile, report
from benchmarks.throughput_site import (
    bare_app,
    growthbook_app,
    growthbook_skipped,
    page,
    visitors,
)
from personalize.engine import Personalizer
from personalize.middleware import PersonalizeMiddleware

ROOT = Path(__file__).resolve().parent.parent
#: the figures reported for each page compared with the bare one, besides the main page
SUMMARY = ("wrapped_us", "ratio", "added_us", "added_p99_us")


def environs(engine: Personalizer, count: int, *, consent: bool = True) -> list[dict[str, Any]]:
    """Prepared environs of ``count`` returning visitors (without consent: no cookies at all)."""
    return [EnvironBuilder(path="/", headers={
        "User-Agent": agent, "Cookie": cookie if consent else "",
        "Accept-Language": "fi-FI,fi;q=0.9,en;q=0.8",
        "Referer": "https://www.google.com/" if i % 3 else "",
    }).get_environ() for i, (cookie, agent) in enumerate(
        visitors(engine.contexts.visitor_ids.sign, count))]


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> float:
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO()
    start = time.perf_counter()
    result = app(env, lambda status, headers, exc_info=None: None)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return time.perf_counter() - start


class Timings(NamedTuple):
    """One app's seconds per request, all of them and each round's median."""

    times: list[float]
    medians: list[float]


def batches(people: list[dict[str, Any]], rounds: int,
            per_round: int) -> Iterator[list[dict[str, Any]]]:
    """One batch of ``per_round`` environs per round, going round ``people`` in turn."""
    for r in range(rounds):
        yield [people[(r * per_round + i) % len(people)] for i in range(per_round)]


def timings(apps: Mapping[str, Callable[..., Iterable[bytes]]], people: list[dict[str, Any]],
            rounds: int, per_round: int) -> dict[str, Timings]:
    """Each app's times over the same batches of visitors, the apps taking turns each round."""
    out = {name: Timings([], []) for name in apps}
    for batch in batches(people, rounds, per_round):
        for name, app in apps.items():
            times = [call(app, env) for env in batch]
            out[name].times.extend(times)
            out[name].medians.append(statistics.median(times))
    return out


def versus(bare: Timings, wrapped: Timings) -> dict[str, float]:
    """Median and p99 per request of a page against the bare page measured alongside it."""
    bare_us = statistics.median(bare.medians) * 1e6
    wrapped_us = statistics.median(wrapped.medians) * 1e6
    return {
        "requests": len(bare.times),
        "bare_us": round(bare_us, 1),
        "wrapped_us": round(wrapped_us, 1),
        "ratio": round(wrapped_us / bare_us, 3),
        "added_us": round(wrapped_us - bare_us, 1),
        "bare_p99_us": round(percentile(bare.times, 99) * 1e6, 1),
        "wrapped_p99_us": round(percentile(wrapped.times, 99) * 1e6, 1),
        "added_p99_us": round((percentile(wrapped.times, 99) - percentile(bare.times, 99))
                              * 1e6, 1),
    }


class Site(NamedTuple):
    """The benchmark's page, bare and wrapped, and 1000 returning visitors."""

    engine: Personalizer
    bare: Callable[..., Iterable[bytes]]
    wrapped: Callable[..., Iterable[bytes]]
    visitors: list[dict[str, Any]]


@contextmanager
def benchmark_site() -> Iterator[Site]:
    """The site on a fresh SQLite store, warmed up (imports, caches, profiles)."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = Personalizer(rules=ROOT / "rules", store=f"sqlite:///{tmp}/bench.db",
                              secret="benchmark-secret-0123456789abcdef", random_state=1)
        site = Site(engine, bare_app().wsgi_app,
                    PersonalizeMiddleware(bare_app().wsgi_app, engine=engine),
                    environs(engine, 1000))
        for env in site.visitors[:200]:
            call(site.wrapped, env)
            call(site.bare, env)
        try:
            yield site
        finally:
            engine.close()


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, per_round = (6, 300) if args.quick else (15, 1000)
    skipped = growthbook_skipped()
    with benchmark_site() as site:
        apps = {"bare": site.bare, "wrapped": site.wrapped}
        if not skipped:
            apps["growthbook"] = growthbook_app(lambda *exposure: None).wsgi_app
            for env in site.visitors[:200]:
                call(apps["growthbook"], env)
        tracked = timings(apps, site.visitors, rounds, per_round)
        anonymous = timings({"bare": site.bare, "wrapped": site.wrapped},
                            environs(site.engine, 1000, consent=False), rounds, per_round)
    figures: dict[str, Any] = {"page_bytes": len(page()), "slots": 3,
                               **versus(tracked["bare"], tracked["wrapped"])}
    no_consent = versus(anonymous["bare"], anonymous["wrapped"])
    figures.update({f"no_consent_{key}": no_consent[key] for key in SUMMARY})
    if not skipped:
        growthbook = versus(tracked["bare"], tracked["growthbook"])
        figures.update({f"growthbook_{key}": growthbook[key] for key in SUMMARY})
        figures["added_vs_growthbook"] = round(figures["added_us"] / growthbook["added_us"], 3)
    figures["skipped"] = skipped
    report("middleware: 20 KB page, 3 slots, returning consenting visitors, SQLite store",
           figures, as_json=args.json)


if __name__ == "__main__":
    main()
