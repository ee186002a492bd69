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
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from werkzeug.test import EnvironBuilder

from benchmarks._harness import parse_args, percentile, report
from benchmarks.throughput_site import bare_app, page
from personalize.engine import Personalizer
from personalize.middleware import PersonalizeMiddleware

ROOT = Path(__file__).resolve().parent.parent
UA_TABLE = json.loads((ROOT / "tests/context/user_agents.json").read_text())["rows"]
UAS = [row["ua"] for row in UA_TABLE if row["type"] in ("mobile", "desktop", "tablet")]


def environs(engine: Personalizer, count: int, *, consent: bool = True) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        visitor = f"{i:032x}"
        cookie = (f"pz_vid={engine.contexts.visitor_ids.sign(visitor)}; paahtimo_consent=yes"
                  if consent else "")
        out.append(EnvironBuilder(path="/", headers={
            "User-Agent": UAS[i % len(UAS)], "Cookie": cookie,
            "Accept-Language": "fi-FI,fi;q=0.9,en;q=0.8",
            "Referer": "https://www.google.com/" if i % 3 else "",
        }).get_environ())
    return out


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


def compare(bare: Callable[..., Iterable[bytes]], wrapped: Callable[..., Iterable[bytes]],
            visitors: list[dict[str, Any]], rounds: int, per_round: int) -> dict[str, float]:
    """Median and p99 per request, bare and wrapped, over alternating rounds."""
    bare_times: list[float] = []
    wrapped_times: list[float] = []
    bare_medians: list[float] = []
    wrapped_medians: list[float] = []
    for r in range(rounds):
        batch = [visitors[(r * per_round + i) % len(visitors)] for i in range(per_round)]
        b = [call(bare, env) for env in batch]
        w = [call(wrapped, env) for env in batch]
        bare_times += b
        wrapped_times += w
        bare_medians.append(statistics.median(b))
        wrapped_medians.append(statistics.median(w))
    bare_us = statistics.median(bare_medians) * 1e6
    wrapped_us = statistics.median(wrapped_medians) * 1e6
    return {
        "requests": len(bare_times),
        "bare_us": round(bare_us, 1),
        "wrapped_us": round(wrapped_us, 1),
        "ratio": round(wrapped_us / bare_us, 3),
        "added_us": round(wrapped_us - bare_us, 1),
        "bare_p99_us": round(percentile(bare_times, 99) * 1e6, 1),
        "wrapped_p99_us": round(percentile(wrapped_times, 99) * 1e6, 1),
        "added_p99_us": round((percentile(wrapped_times, 99) - percentile(bare_times, 99)) * 1e6,
                              1),
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
    with benchmark_site() as site:
        tracked = compare(site.bare, site.wrapped, site.visitors, rounds, per_round)
        anonymous = compare(site.bare, site.wrapped, environs(site.engine, 1000, consent=False),
                            rounds, per_round)
    figures = {"page_bytes": len(page()), "slots": 3, **tracked,
               **{f"no_consent_{key}": value for key, value in anonymous.items()
                  if key in ("wrapped_us", "ratio", "added_us", "added_p99_us")}}
    report("middleware: 20 KB page, 3 slots, returning consenting visitors, SQLite store",
           figures, as_json=args.json)


if __name__ == "__main__":
    main()
