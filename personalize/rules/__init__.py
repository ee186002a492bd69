"""The declarative rule files marketers edit, and the engine that applies them.

>>> from personalize.rules import load_rules
>>> rules = load_rules("rules/")
>>> rules.evaluate(context, "hero").eligible
('hero-default', 'hero-night')

:func:`load_rules` reads and checks a directory of YAML files (raising
:class:`~personalize.exceptions.RuleSetError` with every problem found);
:class:`RuleReloader` keeps serving the latest good rules as files change.
The language is documented in ``docs/rules.md``.
"""

from __future__ import annotations

from .engine import CompiledRule, Effect, RuleSet
from .guardrail_settings import GuardrailSettings
from .loader import load_rules, load_texts
from .model import RuleMatch, RuleOutcome, Schedule, Slot, Variant
from .reload import RuleReloader
from .schema import SCHEMA

__all__ = [
    "SCHEMA",
    "CompiledRule",
    "Effect",
    "GuardrailSettings",
    "RuleMatch",
    "RuleOutcome",
    "RuleReloader",
    "RuleSet",
    "Schedule",
    "Slot",
    "Variant",
    "load_rules",
    "load_texts",
]
