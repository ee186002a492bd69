"""What every benchmark shares: ``--quick``/``--json`` options, timing and output.

Figures are medians over repeated rounds, and every target is reported as a
ratio against a baseline measured in the same process, because the machines
are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """The options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="finish in under a minute")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object on the last line")
    return parser.parse_args(argv)


def per_call_us(fn: Callable[[], Any], *, calls: int, rounds: int = 7) -> float:
    """Median over ``rounds`` of the mean time of one call, in microseconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(title: str, figures: dict[str, Any], *, as_json: bool) -> None:
    """Print figures as a readable table, then (with ``--json``) one JSON line."""
    print(title)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        shown = f"{value:.3f}" if isinstance(value, float) else json.dumps(value)
        print(f"  {key:<{width}}  {shown}")
    if as_json:
        print(json.dumps(figures, sort_keys=True))
    sys.stdout.flush()
