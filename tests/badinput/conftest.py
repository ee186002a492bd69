"""Fixtures for the bad-input tests (the builders live in :mod:`tests.badinput.demo_kit`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.badinput.demo_kit import Demo, make_demo


@pytest.fixture
def demo() -> Iterator[Demo]:
    """The demo shop on a memory store, its clock stopped at the present."""
    found = make_demo()
    try:
        yield found
    finally:
        found.engine.store.close()
