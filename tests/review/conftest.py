"""Fixtures for the dashboard tests (the builders live in :mod:`tests.review.review_kit`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from personalize.engine import Personalizer
from tests.review.review_kit import Clock, make_engine, simulate


@pytest.fixture(scope="module")
def shop() -> Iterator[Personalizer]:
    """An engine on a memory store with a day or so of simulated traffic; read it, don't edit."""
    clock = Clock()
    engine = make_engine("memory://", clock)
    simulate(engine, clock, visitors=120, seed=5)
    yield engine
    engine.close()


@pytest.fixture
def fresh() -> Iterator[Personalizer]:
    """An engine with a little traffic, for tests that change its state."""
    clock = Clock()
    engine = make_engine("memory://", clock)
    simulate(engine, clock, visitors=20, seed=7)
    yield engine
    engine.close()
