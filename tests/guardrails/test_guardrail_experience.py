"""The experience monitor: counting, automatic pauses, persistence, resumes, replay."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError, StoreError
from personalize.guardrails import build_guardrails
from personalize.guardrails.experience import RECORD_TYPES, ExperienceMonitor, signal_of
from personalize.store.memory import MemoryStore
from tests.guardrails.guardrail_kit import (
    NOW,
    Clock,
    candidates,
    context,
    full_settings,
    outcome,
    settings,
    slot,
)

HERO = slot()


def monitor_settings(**overrides: Any) -> Any:
    values = {"enabled": True, "signals": ("bounce", "complaint", "feedback_negative"),
              "alpha": 0.05, "min_exposures": 200, "harm_ratio": 1.2,
              "ramp_up": settings(share=1.0, exposures=0)}  # off: see test_guardrail_ramp_up
    values.update(overrides)
    return settings(**values)


def traffic(seed: int, n: int, rates: Mapping[str, float], signal: str = "bounce",
            start: float = NOW) -> Iterator[dict[str, Any]]:
    """Exposures split evenly over ``rates``' variants, each followed by an event at its rate."""
    rng = np.random.default_rng(seed)
    variants = list(rates)
    for i in range(n):
        variant = variants[int(rng.integers(len(variants)))]
        ts = start + i
        yield {"ts": ts, "type": "exposure", "slot": "hero", "variant": variant}
        if rng.random() < rates[variant]:
            if signal == "feedback_negative":
                yield {"ts": ts, "type": "feedback", "slot": "hero", "variant": variant,
                       "value": -1}
            else:
                yield {"ts": ts, "type": signal, "slot": "hero", "variant": variant}


def make(store: MemoryStore | None = None, clock: Clock | None = None,
         **overrides: Any) -> tuple[ExperienceMonitor, MemoryStore, Clock]:
    clock = clock or Clock()
    store = store or MemoryStore(clock=clock)
    monitor = ExperienceMonitor(monitor_settings(**overrides), store, slots={"hero": HERO},
                                clock=clock)
    return monitor, store, clock


def eligible_after(monitor: ExperienceMonitor) -> list[str]:
    work = candidates(HERO)
    monitor.before(context(), outcome(HERO), work)
    return work.eligible


@pytest.mark.parametrize(
    ("record", "signal"),
    [
        pytest.param({"type": "complaint"}, "complaint", id="complaint"),
        pytest.param({"type": "bounce"}, "bounce", id="bounce"),
        pytest.param({"type": "feedback", "value": -1}, "feedback_negative", id="feedback-"),
        pytest.param({"type": "feedback", "value": 1}, None, id="feedback+"),
        pytest.param({"type": "feedback", "signal": "feedback_positive", "value": 1}, None,
                     id="signal-field-positive"),
        pytest.param({"type": "feedback", "signal": "feedback_negative"}, "feedback_negative",
                     id="signal-field-wins"),
        pytest.param({"type": "click"}, None, id="click"),
    ],
)
def test_signal_of(record: dict[str, Any], signal: str | None) -> None:
    assert signal_of(record) == signal


@pytest.mark.parametrize(
    ("signal", "rates"),
    [
        pytest.param("bounce", {"calm": 0.05, "sale": 0.20}, id="bounces"),
        pytest.param("complaint", {"calm": 0.01, "sale": 0.06}, id="complaints"),
        pytest.param("feedback_negative", {"calm": 0.02, "sale": 0.10}, id="negative-feedback"),
    ],
)
def test_a_harmful_variant_is_paused_persisted_logged_and_removed(
        signal: str, rates: dict[str, float], caplog: pytest.LogCaptureFixture) -> None:
    monitor, store, _ = make()
    with caplog.at_level(logging.WARNING, logger="personalize.guardrails"):
        for record in traffic(1, 6000, rates, signal):
            monitor.observe(record)
    doc = store.get_state("pause:hero:sale")
    assert doc is not None and doc["auto"] and doc["needs_review"] and doc["signal"] == signal
    evidence = doc["evidence"]
    assert evidence["rate"] > 1.2 * evidence["default_rate"]
    assert evidence["exposures"] >= 200 and evidence["default_exposures"] >= 200
    assert evidence["p_value"] <= 0.05 / 3 and evidence["default"] == "calm"
    assert any("paused automatically" in r.getMessage() for r in caplog.records)
    assert eligible_after(monitor) == ["calm", "gold", "help", "new"]
    report = monitor.report()
    assert report["counts"]["paused_automatically"] == 1
    assert [p["variant"] for p in report["paused"]] == ["sale"]


def test_the_removal_reason_is_a_plain_sentence() -> None:
    monitor, _, _ = make()
    for record in traffic(1, 6000, {"calm": 0.01, "sale": 0.06}, "complaint"):
        monitor.observe(record)
    work = candidates(HERO)
    monitor.before(context(), outcome(HERO), work)
    assert work.reasons[0].text == ("'Big sale' is paused: it drew clearly more complaints than "
                                    "the standard version, so a person is reviewing it.")


@pytest.mark.parametrize(
    ("rates", "overrides"),
    [
        pytest.param({"calm": 0.05, "sale": 0.05}, {}, id="equal-rates"),
        pytest.param({"calm": 0.05, "sale": 0.20}, {"min_exposures": 5000},
                     id="below-min-exposures"),
        pytest.param({"calm": 0.05, "sale": 0.20}, {"harm_ratio": 10.0}, id="below-harm-ratio"),
        pytest.param({"calm": 0.05, "sale": 0.20}, {"signals": ("complaint",)},
                     id="signal-not-monitored"),
        pytest.param({"calm": 0.05, "sale": 0.20}, {"enabled": False}, id="disabled"),
        pytest.param({"calm": 0.20, "sale": 0.05}, {}, id="the-default-is-never-paused"),
    ],
)
def test_no_pause(rates: dict[str, float], overrides: dict[str, Any]) -> None:
    monitor, store, _ = make(**overrides)
    for record in traffic(2, 6000, rates):
        monitor.observe(record)
    assert store.list_state("pause:") == {}
    assert eligible_after(monitor) == list(HERO.variants)


def test_a_pause_survives_a_restart_and_reaches_other_workers() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    first, _, _ = make(store, clock)
    other_worker, _, _ = make(store, clock)
    for record in traffic(1, 6000, {"calm": 0.05, "sale": 0.20}):
        first.observe(record)
    assert "sale" not in eligible_after(first)
    assert "sale" in eligible_after(other_worker)  # not re-read yet
    clock.now += 5.0
    assert "sale" not in eligible_after(other_worker)
    restarted, _, _ = make(store, clock)
    assert "sale" not in eligible_after(restarted)
    assert restarted.paused()[0]["evidence"]["default"] == "calm"


def test_resume_clears_the_pause_records_who_and_starts_afresh() -> None:
    monitor, store, clock = make()
    records = list(traffic(1, 6000, {"calm": 0.05, "sale": 0.20}))
    for record in records:
        monitor.observe(record)
    assert monitor.counts("hero", "sale")["exposures"] > 0
    clock.now = records[-1]["ts"] + 100.0
    assert monitor.resume("hero", "sale", by="anna") is True
    assert store.get_state("pause:hero:sale") is None
    resumed = store.get_state("resumed:hero:sale")
    assert resumed is not None
    assert (resumed["by"], resumed["resumed_at"]) == ("anna", clock.now)
    assert resumed["pause"]["signal"] == "bounce"
    assert "sale" in eligible_after(monitor)
    assert monitor.counts("hero", "sale")["exposures"] == 0
    assert monitor.report()["counts"]["resumed"] == 1
    # the old evidence does not count again, on replay either
    assert monitor.replay(records) == sum(1 for r in records if r["variant"] == "calm")
    assert monitor.counts("hero", "sale")["exposures"] == 0
    assert store.list_state("pause:") == {}
    assert monitor.resume("hero", "sale", by="anna") is False


def test_a_resume_resets_other_workers_counts_at_their_next_refresh() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    first, _, _ = make(store, clock)
    second, _, _ = make(store, clock)
    records = list(traffic(1, 6000, {"calm": 0.05, "sale": 0.20}))
    for record in records:  # every worker tails the whole log
        first.observe(record)
        second.observe(record)
    clock.now += 10.0
    first.resume("hero", "sale", by="anna")
    clock.now += 5.0
    second.refresh()
    assert second.counts("hero", "sale")["exposures"] == 0
    assert "sale" in eligible_after(second)


def test_manual_pause_and_its_limits() -> None:
    monitor, store, _ = make(enabled=False)
    doc = monitor.pause("hero", "gold", "Legal asked us to check the wording.", by="ben")
    assert store.get_state("pause:hero:gold") == doc
    work = candidates(HERO)
    monitor.before(context(), outcome(HERO), work)
    assert "gold" not in work.eligible
    assert work.reasons[0].text == ("'Gold plan' is paused by the site's team: Legal asked us to "
                                    "check the wording.")
    with pytest.raises(ValueError, match="default"):
        monitor.pause("hero", "calm", "no", by="ben")
    assert monitor.resume("hero", "gold", by="ben")
    assert "gold" in eligible_after(monitor)


def test_replay_rebuilds_the_same_counts_and_is_idempotent() -> None:
    live, _, _ = make(min_exposures=10**9)
    records = list(traffic(3, 3000, {"calm": 0.05, "sale": 0.05, "gold": 0.1}))
    for record in records:
        live.observe(record)
    rebuilt, _, _ = make(min_exposures=10**9)
    noise = [{"type": "click", "slot": "hero", "variant": "sale"}, {"type": "decision"}]
    assert rebuilt.replay(records + noise) == len(records)
    assert rebuilt.replay(records) == len(records)
    for variant in ("calm", "sale", "gold"):
        assert rebuilt.counts("hero", variant) == live.counts("hero", variant)
    assert {"exposure", "bounce"} <= RECORD_TYPES


def test_replay_pauses_what_the_log_shows() -> None:
    monitor, store, _ = make()
    monitor.replay(traffic(1, 6000, {"calm": 0.05, "sale": 0.20}))
    assert store.get_state("pause:hero:sale") is not None


class FlakyStore(MemoryStore):
    """A store whose state writes fail while ``down`` is set."""

    down = False

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        if self.down:
            raise StoreError("connection refused")
        super().set_state(key, value)

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        if self.down:
            raise StoreError("connection refused")
        return super().list_state(prefix)


def test_a_pause_the_store_refused_is_kept_and_saved_later(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    store = FlakyStore(clock=clock)
    monitor, _, _ = make(store, clock)
    store.down = True
    with caplog.at_level(logging.ERROR, logger="personalize.guardrails"):
        for record in traffic(1, 6000, {"calm": 0.05, "sale": 0.20}):
            clock.now += 0.01
            monitor.observe(record)
    assert "sale" not in eligible_after(monitor)
    assert any("memory only" in r.getMessage() for r in caplog.records)
    assert monitor.report()["counts"]["store_errors"] >= 1
    store.down = False
    clock.now += 5.0
    monitor.refresh()
    assert store.get_state("pause:hero:sale") is not None


def test_rebuilt_guardrails_keep_the_counts() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    old = build_guardrails(full_settings(), store, clock, slots={"hero": HERO})
    for record in traffic(4, 500, {"calm": 0.05, "sale": 0.05}):
        for guardrail in old:
            guardrail.observe(record)
    new = build_guardrails(full_settings(), store, clock, slots={"hero": HERO}, previous=old)
    before = next(g for g in old if isinstance(g, ExperienceMonitor))
    after = next(g for g in new if isinstance(g, ExperienceMonitor))
    assert after.counts("hero", "sale") == before.counts("hero", "sale")
    assert after.counts("hero", "sale")["exposures"] > 0


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        pytest.param({"signals": ("click",)}, "signals", id="unknown-signal"),
        pytest.param({"signals": ()}, "signals", id="no-signals"),
        pytest.param({"alpha": 0.0}, "alpha", id="alpha-zero"),
        pytest.param({"harm_ratio": 0.5}, "harm_ratio", id="ratio-below-one"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        make(**overrides)
