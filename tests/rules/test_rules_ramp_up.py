"""The experience monitor's ``ramp_up`` settings: default, reading, refusals."""

from __future__ import annotations

import pytest

from personalize.exceptions import RuleSetError
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


@pytest.mark.parametrize(("section", "message"), [
    pytest.param("{share: 0}", "guardrails.experience_monitor.ramp_up.share: expected a number "
                 "above 0 to 1, got 0", id="share-zero"),
    pytest.param("{share: 1.2}", "guardrails.experience_monitor.ramp_up.share: expected a "
                 "number above 0 to 1, got 1.2", id="share-above-one"),
    pytest.param("{exposures: -5}", "guardrails.experience_monitor.ramp_up.exposures: "
                 "expected a number of at least 0, got -5", id="negative-exposures"),
    pytest.param("{shares: 0.2}", "guardrails.experience_monitor.ramp_up: unknown key "
                 "'shares'; did you mean 'share'?", id="unknown-key"),
])
def test_refusals(section: str, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        rules_from(SLOT, f"guardrails:\n  experience_monitor: {{ramp_up: {section}}}")
    assert [p.message for p in caught.value.problems if p.severity == "error"] == [message]
