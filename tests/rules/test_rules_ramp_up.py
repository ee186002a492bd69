"""The experience monitor's ``ramp_up`` settings: default and reading.

Its refusals are in the guardrail section's table (test_rules_guardrail_section.py).
"""

from __future__ import annotations

from personalize.rules.guardrail_settings import RampUpSettings, build_guardrails
from tests.rules.rule_kit import rules_from
from tests.rules.test_rules_guardrail_section import SLOT


def test_off_by_default() -> None:
    ramp = build_guardrails({}).experience_monitor.ramp_up
    assert ramp == RampUpSettings(share=1.0, exposures=300)


def test_read_from_the_rule_files() -> None:
    rules = rules_from(SLOT, """
      guardrails:
        experience_monitor: {ramp_up: {share: 0.2, exposures: 500}}
    """)
    assert rules.guardrails.experience_monitor.ramp_up == RampUpSettings(0.2, 500)
    partly = rules_from(SLOT, "guardrails:\n  experience_monitor: {ramp_up: {share: 0.3}}")
    assert partly.guardrails.experience_monitor.ramp_up == RampUpSettings(0.3, 300)
