"""The full fuzz run: at least 100,000 inputs across every target, in two processes.

Its counts go to ``test-artifacts/fuzz-counts.json`` and to the terminal
summary. ``python -m tests.fuzz.run`` runs the same outside pytest.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from tests.fuzz.run import COUNTS_KEY, DEFAULT_EXAMPLES, run_all, summary

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "fuzz-counts.json"


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_fuzz_100k_inputs_find_no_unhandled_exception(request: pytest.FixtureRequest) -> None:
    run_seed = random.randrange(2**32)
    started = time.perf_counter()
    result = summary(run_all(DEFAULT_EXAMPLES, run_seed, jobs=2), run_seed)
    result["wall_seconds"] = round(time.perf_counter() - started, 2)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    request.config.stash.setdefault(COUNTS_KEY, []).append({**result, "label": "full"})
    assert result["inputs"] >= DEFAULT_EXAMPLES
    failing = {t["name"]: t["kinds"] for t in result["targets"] if t["kinds"]}
    assert result["failures"] == 0, f"seed {run_seed}: {failing}"
