"""Run every fuzz target and count inputs, unhandled exceptions and violations.

    python -m tests.fuzz.run [--examples N] [--seed S] [--only NAME] [--json PATH]

``--examples`` is the number of inputs across targets (default 100,000),
shared out by :data:`WEIGHTS`; the rule loader parses YAML in pure Python and
gets a smaller share than the cheap targets. Examples come from Hypothesis
(generation only: no shrinking, no example database) and some targets fan
each out into several mutated inputs, so a run is reproducible from its seed.

Three kinds of failure are counted per target and must all be zero:

* ``exceptions`` — an exception escaped the code under test, or one input ran
  longer than :data:`HANG_SECONDS` (a hang: :class:`Hang` is raised into it);
* ``logged`` — the code caught an exception itself but logged it as an error
  with a traceback (a catch-all hid a bug);
* ``violations`` — a promised property failed (see :mod:`tests.fuzz.targets`).

The exit status is 0 only when every count is zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.fuzz.targets import NAMES, Target, Violation, target

#: each target's share of the inputs; loading rule files costs 10-60 ms an input,
#: the other targets well under one
WEIGHTS = {"rules_random": 0.01, "rules_mutated": 0.006, "conditions": 0.20,
           "request_headers": 0.234, "visitor_cookies": 0.20, "endpoints": 0.05,
           "inject": 0.30}
DEFAULT_EXAMPLES = 100_000
MAX_SAMPLES = 5
#: rough milliseconds per input, to schedule the costliest targets first
COST_MS = {"rules_random": 35.0, "rules_mutated": 60.0, "endpoints": 7.0, "conditions": 2.0,
           "inject": 2.0}
#: one input is small; anything running this long is stuck (an endless loop)
HANG_SECONDS = 2.0
#: loading a whole rule set takes up to 60 ms, several times that on a busy machine
HANG_SECONDS_FOR = {"rules_random": 10.0, "rules_mutated": 10.0}
#: a target stops after this many hangs: mutations of a hanging input hang too,
#: and each costs a second and the memory the loop grabbed
MAX_HANGS = 3


class Hang(Exception):
    """Raised into an input that ran past :data:`HANG_SECONDS`."""


class _StopTarget(Exception):
    """Ends a target's run early (after :data:`MAX_HANGS` hangs)."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block runs past ``seconds``.

    Without it one endless loop would stall the whole run (and grow memory
    without bound); with it the hang is counted like any other exception.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    armed = [True]

    def expire(signum: int, frame: Any) -> None:
        if armed[0]:
            raise Hang(f"one input ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    # repeating: a signal that lands in a garbage-collector callback is swallowed
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What one target's run saw."""

    name: str
    inputs: int = 0
    exceptions: int = 0
    hangs: int = 0
    logged: int = 0
    violations: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_input: str = ""
    paths: Counter[str] = field(default_factory=Counter)
    #: failures grouped by kind and where they were raised
    kinds: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.exceptions + self.logged + self.violations

    def note(self, kind: str, value: Any, detail: str,
             error: BaseException | None = None) -> None:
        where = f"{kind}: {type(error).__name__} at {_origin(error)}" if error else kind
        if self.kinds[where] == 0 and len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{where}: {detail} — input {value!r:.300}")
        self.kinds[where] += 1


def _origin(error: BaseException) -> str:
    """Where in personalize (else anywhere) an exception was raised: ``file:line``."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/personalize/" in f.filename] or frames
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


class _ErrorLog(logging.Handler):
    """Counts ERROR records with a traceback from personalize's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


def run_target(target: Target, inputs: int, run_seed: int) -> Outcome:
    """Feed about ``inputs`` generated inputs to one target; never raises."""
    examples = max(1, -(-inputs // target.fanout))
    limit = HANG_SECONDS_FOR.get(target.name, HANG_SECONDS)
    outcome = Outcome(target.name)
    handler = _ErrorLog()
    logger = logging.getLogger("personalize")
    logger.addHandler(handler)

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @seed(run_seed)
    @given(target.strategy)
    def probe(example: Any) -> None:
        if outcome.hangs >= MAX_HANGS:
            raise _StopTarget
        for value in target.expand(example):
            outcome.inputs += 1
            before = len(handler.records)
            began = time.perf_counter()
            try:
                with watchdog(limit):
                    outcome.paths[target.check(value)] += 1
            except Violation as err:
                outcome.violations += 1
                outcome.note("violation", value, str(err))
            except Exception as err:  # noqa: BLE001 - counting these is the point
                outcome.exceptions += 1
                outcome.hangs += isinstance(err, Hang)
                outcome.note("exception", value, "".join(
                    traceback.format_exception_only(type(err), err)).strip(), err)
            took = time.perf_counter() - began
            if took > outcome.slowest:
                outcome.slowest, outcome.slowest_input = round(took, 4), f"{value!r:.300}"
            for record in handler.records[before:]:
                outcome.logged += 1
                logged = record.exc_info[1] if record.exc_info else None
                outcome.note("logged", value, f"{record.getMessage()} ({logged!r:.200})", logged)

    started = time.perf_counter()
    try:
        probe()
    except _StopTarget:
        outcome.note("stopped", None, f"the target stopped after {MAX_HANGS} hangs")
    finally:
        logger.removeHandler(handler)
        outcome.seconds = round(time.perf_counter() - started, 2)
    return outcome


def shares(total: int, names: list[str]) -> dict[str, int]:
    """Each target's number of inputs: ``total`` split by :data:`WEIGHTS` (at least 1)."""
    weights = {name: WEIGHTS.get(name, 0.1) for name in names}
    scale = sum(weights.values())
    counts = {name: max(1, int(total * w / scale)) for name, w in weights.items()}
    heaviest = max(weights, key=lambda n: weights[n])
    counts[heaviest] += max(0, total - sum(counts.values()))
    return counts


def run_named(name: str, inputs: int, run_seed: int) -> Outcome:
    """Build one target in a fresh temporary directory and run it."""
    with tempfile.TemporaryDirectory(prefix="pz-fuzz-") as tmp, target(name, Path(tmp)) as found:
        return run_target(found, inputs, run_seed)


def run_all(examples: int, run_seed: int, only: list[str] | None = None,
            jobs: int = 1) -> list[Outcome]:
    """Run the targets (all, or those named in ``only``), in ``jobs`` processes.

    :param examples: inputs in total, shared out by :data:`WEIGHTS`.
    """
    names = [n for n in NAMES if not only or n in only]
    unknown = set(only or ()) - set(NAMES)
    if unknown:
        raise ValueError(f"unknown targets {sorted(unknown)}; expected some of {NAMES}")
    counts = shares(examples, names)
    if jobs <= 1:
        return [run_named(n, counts[n], run_seed) for n in names]
    # the costliest first, so the pool's processes finish together
    order = sorted(names, key=lambda n: -COST_MS.get(n, 1.0) * counts[n])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {n: pool.submit(run_named, n, counts[n], run_seed) for n in order}
        return [futures[n].result() for n in names]


def summary(outcomes: list[Outcome], run_seed: int) -> dict[str, Any]:
    """JSON-able totals and per-target counts."""
    return {
        "seed": run_seed,
        "inputs": sum(o.inputs for o in outcomes),
        "failures": sum(o.failures for o in outcomes),
        "exceptions": sum(o.exceptions for o in outcomes),
        "logged": sum(o.logged for o in outcomes),
        "violations": sum(o.violations for o in outcomes),
        "seconds": round(sum(o.seconds for o in outcomes), 2),
        "targets": [{**asdict(o), "paths": dict(o.paths), "kinds": dict(o.kinds)}
                    for o in outcomes],
    }


def table(result: dict[str, Any]) -> str:
    """The counts as a small table, one target a line."""
    lines = [f"{'target':<16} {'inputs':>8} {'exceptions':>10} {'logged':>6} "
             f"{'violations':>10} {'seconds':>8}  paths"]
    for t in result["targets"]:
        paths = ", ".join(f"{k} {v}" for k, v in sorted(t["paths"].items()))
        lines.append(f"{t['name']:<16} {t['inputs']:>8} {t['exceptions']:>10} "
                     f"{t['logged']:>6} {t['violations']:>10} {t['seconds']:>8.1f}  {paths}")
        lines.extend(f"    {count:>6} × {kind}" for kind, count in sorted(t["kinds"].items()))
        lines.extend(f"    e.g. {sample}" for sample in t["samples"])
    lines.append(f"{'total':<16} {result['inputs']:>8} {result['exceptions']:>10} "
                 f"{result['logged']:>6} {result['violations']:>10} "
                 f"{result['seconds']:>8.1f}  seed {result['seed']}, "
                 f"{result.get('wall_seconds', result['seconds'])} s wall")
    return "\n".join(lines)


#: where the pytest run keeps its counts, for the terminal summary
COUNTS_KEY: pytest.StashKey[list[dict[str, Any]]] = pytest.StashKey()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fuzz personalize's input-facing code.")
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                        help=f"inputs in total across targets (default {DEFAULT_EXAMPLES})")
    parser.add_argument("--seed", type=int, default=None, help="Hypothesis seed (random)")
    parser.add_argument("--only", action="append", help="run only this target (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="processes to run targets in")
    parser.add_argument("--json", type=Path, help="also write the counts to this file")
    args = parser.parse_args(argv)
    if args.examples < 1 or args.jobs < 1:
        parser.error("--examples and --jobs must be at least 1")
    unknown = set(args.only or ()) - set(NAMES)
    if unknown:
        parser.error(f"unknown targets {sorted(unknown)}; expected some of {', '.join(NAMES)}")
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    started = time.perf_counter()
    result = summary(run_all(args.examples, run_seed, args.only, args.jobs), run_seed)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if result["failures"] == 0 and result["inputs"] >= args.examples else 1


if __name__ == "__main__":
    sys.exit(main())
