"""Where a personalized request's time goes: each stage timed in place.

    python -m benchmarks.stages [--quick] [--json]

The middleware benchmark's page and visitors (:mod:`benchmarks.middleware`: a
20 KB page with 3 slot markers, returning consenting visitors, the demo's
rules, SQLite) run through the real middleware, with a timer around each
stage where the middleware calls it. Timing in place, not in a loop of its
own, keeps the cache misses a stage suffers between requests in its figure;
the same code timed alone is often two or three times faster.

Stages, per request: ``context`` (classifying the request, without the
profile), ``profile`` (reading it, advancing it and building the history),
``rules`` (every slot's rules, once), ``guardrails`` (each slot's guardrail
chain), ``decisions`` (the rest of the three decisions: the policy, decision
ids, reasons), ``injection`` (filling the markers, without the decisions it
asks for), ``headers`` and ``commit`` (the exposure records and the profile,
serialised and queued). ``other`` is the added time no stage accounts for:
the middleware's own glue and the timers. Figures are means per request in
microseconds (a stage skipped on some requests, like the bandit, counts as 0
there), so they add up to the mean added time; the added time's median and
the bare page's are given for scale. Bare and wrapped pages alternate in
rounds, as in the middleware benchmark.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import personalize.context.builder as builder
import personalize.middleware as middleware
from benchmarks._harness import parse_args, report
from benchmarks.middleware import batches, benchmark_site, call
from personalize.engine import Personalizer

STAGES = ("context", "profile", "rules", "guardrails", "decisions", "injection", "headers",
          "commit")


class StageTimer:
    """Seconds spent per stage on the current request, as nested timers see them."""

    def __init__(self) -> None:
        self.spent: defaultdict[str, float] = defaultdict(float)

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, with its time added to ``stage``."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[stage] += time.perf_counter() - start
        return timed


def instrument(engine: Personalizer, timer: StageTimer) -> None:
    """Put the timers where the middleware calls each stage."""
    engine.store.get_profile = timer.wrap(  # type: ignore[method-assign]
        "profile", engine.store.get_profile)
    builder.advance = timer.wrap("profile", builder.advance)
    builder.history_of = timer.wrap("profile", builder.history_of)
    engine.visit = timer.wrap("visit", engine.visit)  # type: ignore[method-assign]
    engine.ruleset.evaluate_all = timer.wrap(  # type: ignore[method-assign]
        "rules", engine.ruleset.evaluate_all)
    engine.decide = timer.wrap("decide", engine.decide)  # type: ignore[method-assign]
    for guardrail in engine.guardrails():
        guardrail.before = timer.wrap(  # type: ignore[method-assign]
            "guardrails", guardrail.before)
    middleware.inject = timer.wrap("inject", middleware.inject)
    middleware.personalize_headers = timer.wrap("headers", middleware.personalize_headers)
    engine.commit = timer.wrap("commit", engine.commit)  # type: ignore[method-assign]


def stages_of(spent: dict[str, float]) -> dict[str, float]:
    """One request's nested timers as disjoint stages."""
    return {
        "context": spent["visit"] - spent["profile"],
        "profile": spent["profile"],
        "rules": spent["rules"],
        "guardrails": spent["guardrails"],
        "decisions": spent["decide"] - spent["guardrails"],
        # the markers ask for the decisions, so the page's first classification,
        # rules and decisions all run inside injection
        "injection": spent["inject"] - spent["visit"] - spent["rules"] - spent["decide"],
        "headers": spent["headers"],
        "commit": spent["commit"],
    }


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, per_round = (6, 300) if args.quick else (20, 500)
    with benchmark_site() as (engine, bare, wrapped, visitors):
        timer = StageTimer()
        instrument(engine, timer)
        per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
        bare_times: list[float] = []
        wrapped_times: list[float] = []
        # alternating rounds, as benchmarks.middleware does
        for batch in batches(visitors, rounds, per_round):
            bare_times += [call(bare, env) for env in batch]
            for env in batch:
                timer.spent.clear()
                wrapped_times.append(call(wrapped, env))
                for stage, seconds in stages_of(timer.spent).items():
                    per_stage[stage].append(seconds)
    bare_mean = statistics.fmean(bare_times)
    added_mean = (statistics.fmean(wrapped_times) - bare_mean) * 1e6
    means = {stage: statistics.fmean(values) * 1e6 for stage, values in per_stage.items()}
    figures: dict[str, Any] = {
        "requests": len(wrapped_times),
        "bare_us": round(statistics.median(bare_times) * 1e6, 1),
        "added_median_us": round((statistics.median(wrapped_times) - statistics.median(bare_times))
                                 * 1e6, 1),
        "added_mean_us": round(added_mean, 1),
        **{f"{stage}_us": round(mean, 1) for stage, mean in means.items()},
        "other_us": round(added_mean - sum(means.values()), 1),
    }
    report("stages: mean µs per request, in place (3 slots, consenting, SQLite)", figures,
           as_json=args.json)


if __name__ == "__main__":
    main()
