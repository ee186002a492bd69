"""How long classifying a request's device (and its whole context) takes.

    python -m benchmarks.context [--quick] [--json]

Figures, in microseconds per call:

- ``unseen_us``: :func:`~personalize.context.device.classify_device` on User-Agents
  it has never seen (every string distinct, so each one is parsed; the LRU
  cache evicts as it would under varied traffic). Browsers only: the bots in
  the table skip part of the parse and would flatter the figure.
- ``unseen_bot_us``: the same for crawler and HTTP-library User-Agents.
- ``repeated_us``: the same User-Agents again, answered from the cache.
- ``ua_parser_rs_us``: ua-parser's public fast path (``ua_parser.regex.Resolver``,
  all three domains) on the unseen strings, the floor ``unseen_us`` sits on.
- ``user_agents_default_us``: ``user_agents.parse(ua)`` plus its five ``is_*``
  properties on unseen strings: what the device type costs the usual way.
- ``context_us``: :class:`~personalize.context.builder.ContextBuilder` building
  a whole context (no store) for a request with an unseen User-Agent, when that
  module is importable.

The User-Agents are the real ones in ``tests/context/user_agents.json``, made
distinct by a suffix that no parser rule looks at.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personalize.context.device import classify_device

from ._harness import parse_args, per_call_us, report

TABLE = Path(__file__).resolve().parent.parent / "tests" / "context" / "user_agents.json"


def _user_agents() -> tuple[list[str], list[str]]:
    """Browser and bot User-Agents from the test table."""
    rows = json.loads(TABLE.read_text(encoding="utf-8"))["rows"]
    browsers = [row["ua"] for row in rows if row["type"] not in ("bot", "other")]
    bots = [row["ua"] for row in rows if row["type"] == "bot"]
    return browsers, bots


class _Distinct:
    """Hands out never-seen User-Agents, made in a batch before each timed round."""

    def __init__(self, uas: list[str], tag: str) -> None:
        self._uas = itertools.cycle(uas)
        self._tag = tag
        self._made = 0
        self._batch: Iterator[str] = iter(())

    def refill(self, count: int) -> None:
        start, self._made = self._made, self._made + count
        self._batch = iter([f"{next(self._uas)} {self._tag}/{i}"
                            for i in range(start, self._made)])

    def __call__(self) -> str:
        return next(self._batch)


@dataclass
class _Series:
    fn: Callable[[], Any]
    calls: int
    source: _Distinct | None = None
    samples: list[float] = field(default_factory=list)


def _interleaved(series: dict[str, _Series], rounds: int) -> dict[str, float]:
    """Median µs per call of each series, timed round-robin so that load from
    other processes falls on all of them alike."""
    for _ in range(rounds):
        for s in series.values():
            if s.source is not None:
                s.source.refill(s.calls)
            s.samples.append(per_call_us(s.fn, calls=s.calls, rounds=1))
    return {name: statistics.median(s.samples) for name, s in series.items()}


def _context_series(browsers: list[str], calls: int) -> dict[str, _Series] | str:
    """``ContextBuilder.build`` on requests with unseen User-Agents, or why not."""
    if importlib.util.find_spec("personalize.context.builder") is None:
        return "personalize.context.builder does not exist"
    try:
        from werkzeug.test import EnvironBuilder

        from personalize.context.builder import ContextBuilder
        from personalize.context.site import SiteSettings
    except ImportError as err:
        return f"personalize.context.builder is not importable: {err}"
    base = EnvironBuilder(
        path="/products/shoes", query_string="utm_source=newsletter&utm_medium=email",
        headers=[("Accept-Language", "fi-FI,fi;q=0.9,en;q=0.8"),
                 ("Referer", "https://www.google.com/"),
                 ("Sec-CH-UA-Mobile", "?0"), ("Sec-CH-UA-Platform", '"Windows"')],
    ).get_environ()
    builder, site = ContextBuilder(store=None, secret="benchmark"), SiteSettings()
    unseen = _Distinct(browsers, "ctx")
    builder.build(dict(base, HTTP_USER_AGENT=browsers[0]), site)
    return {"context_us": _Series(
        lambda: builder.build(dict(base, HTTP_USER_AGENT=unseen()), site), calls, unseen)}


def main(argv: list[str] | None = None) -> None:
    """Measure and report; see the module docstring for what each figure means."""
    args = parse_args("Device and context classification speed.", argv)
    calls, rounds = (2_000, 7) if args.quick else (10_000, 15)
    slow_calls = 100 if args.quick else 500
    browsers, bots = _user_agents()
    classify_device(browsers[0])  # builds the parser once, as the first request would

    import user_agents
    from ua_parser import Domain, load_lazy_builtins
    from ua_parser.regex import Resolver

    resolver = Resolver(load_lazy_builtins())
    for ua in browsers[:64]:
        classify_device(ua)
    repeated = itertools.cycle(browsers[:64])
    unseen, unseen_bots = _Distinct(browsers, "u"), _Distinct(bots, "b")
    raw, slow = _Distinct(browsers, "r"), _Distinct(browsers, "d")

    def user_agents_default() -> tuple[bool, ...]:
        parsed = user_agents.parse(slow())
        return (parsed.is_bot, parsed.is_tablet, parsed.is_mobile, parsed.is_pc,
                parsed.is_touch_capable)

    series = {
        "unseen_us": _Series(lambda: classify_device(unseen()), calls, unseen),
        "unseen_bot_us": _Series(lambda: classify_device(unseen_bots()), calls, unseen_bots),
        "repeated_us": _Series(lambda: classify_device(next(repeated)), calls * 5),
        "ua_parser_rs_us": _Series(lambda: resolver(raw(), Domain.ALL), calls, raw),
        "user_agents_default_us": _Series(user_agents_default, slow_calls, slow),
    }
    context = _context_series(browsers, calls // 4)
    if isinstance(context, dict):
        series.update(context)
    figures: dict[str, Any] = _interleaved(series, rounds)
    figures["speedup_vs_user_agents"] = figures["user_agents_default_us"] / figures["unseen_us"]
    figures["unseen_vs_ua_parser_rs"] = figures["unseen_us"] / figures["ua_parser_rs_us"]
    if isinstance(context, str):
        figures["context_skipped"] = context
    report("device classification (µs per call, median of interleaved rounds)", figures,
           as_json=args.json)


if __name__ == "__main__":
    main()
