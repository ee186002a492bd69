"""Fixtures for the rule tests (the builders live in :mod:`tests.rules.rule_kit`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personalize.context import Context
from tests.rules.rule_kit import build_context


@pytest.fixture
def make_context() -> Callable[..., Context]:
    """:func:`~tests.rules.rule_kit.build_context`, as a fixture."""
    return build_context
