"""A few thousand fuzz inputs on every run of the suite (the full run is integration)."""

from __future__ import annotations

import time

import pytest

from tests.fuzz.run import COUNTS_KEY, run_all, summary
from tests.fuzz.targets import NAMES

SMOKE_INPUTS = 10_000
SMOKE_SEED = 20_261_123


def test_fuzz_smoke_finds_no_unhandled_exception(request: pytest.FixtureRequest) -> None:
    started = time.perf_counter()
    result = summary(run_all(SMOKE_INPUTS, SMOKE_SEED), SMOKE_SEED)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    request.config.stash.setdefault(COUNTS_KEY, []).append({**result, "label": "smoke"})
    assert [t["name"] for t in result["targets"]] == list(NAMES)
    assert all(t["inputs"] > 0 for t in result["targets"])
    assert result["inputs"] >= SMOKE_INPUTS
    failing = {t["name"]: t["kinds"] for t in result["targets"] if t["kinds"]}
    assert result["failures"] == 0, failing
