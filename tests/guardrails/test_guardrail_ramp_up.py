"""Ramp-up: a new variant reaches only a share of visitors until the monitor has counted enough."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from personalize.exceptions import ConfigError
from personalize.guardrails.experience import ExperienceMonitor
from personalize.guardrails.ramp_up import RampUp
from personalize.guardrails.stats import harm_detected
from personalize.rules.model import Slot
from personalize.store.memory import MemoryStore
from tests.guardrails.guardrail_kit import Clock, candidates, context, outcome, settings, slot

HERO = slot()  # default "calm"; "sale", "gold", "help", "new"
VISITORS = [f"{i:032x}" for i in range(4000)]


def monitor(share: float = 0.2, exposures: int = 300, **overrides: Any) -> ExperienceMonitor:
    values: dict[str, Any] = {"enabled": True, "signals": ("complaint", "bounce"),
                              "alpha": 0.05, "min_exposures": 100, "harm_ratio": 1.5,
                              "ramp_up": settings(share=share, exposures=exposures)}
    values.update(overrides)
    clock = Clock()
    return ExperienceMonitor(settings(**values), MemoryStore(clock=clock), slots={"hero": HERO},
                             clock=clock)


def eligible(guard: ExperienceMonitor, visitor: str | None, the_slot: Slot = HERO,
             pinned: str | None = None) -> tuple[list[str], list[str]]:
    """The variants left for this visitor, and the reasons given."""
    work = candidates(the_slot)
    guard.before(context(visitor_id=visitor), outcome(the_slot, pinned=pinned), work)
    return work.eligible, [r.text for r in work.reasons]


def test_off_by_default() -> None:
    from personalize.rules.guardrail_settings import ExperienceMonitorSettings
    guard = ExperienceMonitor(ExperienceMonitorSettings(), MemoryStore(), slots={"hero": HERO})
    assert not guard.ramp_up.active
    assert all(eligible(guard, v)[0] == list(HERO.variants) for v in VISITORS[:50])


def test_a_new_variant_reaches_its_share_of_visitors_stickily_and_independently() -> None:
    guard = monitor(share=0.2)
    seen = np.array([[v in eligible(guard, visitor)[0] for v in ("sale", "gold")]
                     for visitor in VISITORS])
    share = seen.mean(axis=0)
    assert np.all(np.abs(share - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(VISITORS)))
    # each variant draws its own visitors: being in one's ramp-up says nothing of the other's
    both = (seen[:, 0] & seen[:, 1]).mean()
    assert abs(both - share[0] * share[1]) < 0.02
    again = np.array([[v in eligible(guard, visitor)[0] for v in ("sale", "gold")]
                      for visitor in VISITORS[:200]])
    np.testing.assert_array_equal(again, seen[:200])


def test_the_default_always_stays_and_the_reason_is_given() -> None:
    guard = monitor(share=0.01)
    left, reasons = eligible(guard, VISITORS[0])
    assert left == ["calm"]
    assert reasons == ["'Big sale', 'Gold plan', 'Help first' and 'new' are new and shown to "
                       "only 1% of visitors at first, until enough people have seen them to "
                       "tell whether they put anyone off."]
    assert guard.report()["counts"] == {"held_back_new": 1}


def test_enough_exposures_end_the_ramp_up() -> None:
    guard = monitor(share=0.01, exposures=300)
    guard.add_exposures("hero", "sale", 299)
    assert "sale" not in eligible(guard, VISITORS[0])[0]
    assert "hero:sale" in guard.report()["ramp_up"]["variants"]
    guard.observe({"type": "exposure", "slot": "hero", "variant": "sale"})
    left, reasons = eligible(guard, VISITORS[0])
    assert "sale" in left and "'Big sale'" not in " ".join(reasons)
    report = guard.report()["ramp_up"]
    assert report == {"share": 0.01, "exposures": 300,
                      "variants": ["hero:gold", "hero:help", "hero:new"]}


def test_a_resumed_variant_ramps_up_again() -> None:
    guard = monitor(share=0.01, exposures=10)
    guard.add_exposures("hero", "sale", 10)
    guard.pause("hero", "sale", "looks pushy", by="anna")
    assert not guard.in_ramp_up("hero", "sale")  # paused: removed as paused, not as new
    guard.resume("hero", "sale", by="anna")
    assert guard.in_ramp_up("hero", "sale")


@pytest.mark.parametrize(
    ("case", "kwargs", "visitor", "pinned"),
    [
        pytest.param("pinned", {}, VISITORS[0], "sale", id="a-rule-pin-is-kept"),
        pytest.param("disabled", {"enabled": False}, VISITORS[0], None,
                     id="monitor-disabled-counts-nothing"),
        pytest.param("split", {}, VISITORS[0], None, id="an-ab-split-is-left-alone"),
        pytest.param("off", {"share": 1.0}, VISITORS[0], None, id="share-1-is-off"),
        pytest.param("off", {"exposures": 0}, VISITORS[0], None, id="exposures-0-is-off"),
    ],
)
def test_when_nothing_is_held_back(case: str, kwargs: dict[str, Any], visitor: str,
                                   pinned: str | None) -> None:
    ramp = {k: kwargs.pop(k) for k in ("share", "exposures") if k in kwargs}
    guard = monitor(**{"share": 0.01, **ramp}, **kwargs)
    the_slot = HERO
    if case == "split":
        the_slot = Slot(name="hero", default="calm", variants=HERO.variants, policy="split",
                        weights={v: 1.0 for v in HERO.variants})
    left, _ = eligible(guard, visitor, the_slot, pinned=pinned)
    if case == "pinned":
        assert left == ["calm", "sale"]
    else:
        assert left == list(HERO.variants)


def test_a_visitor_without_an_id_is_never_in_a_ramp_up() -> None:
    assert not RampUp(settings(share=0.99, exposures=10)).reaches(None, "hero", "sale")


@pytest.mark.parametrize(("ramp", "key"), [
    pytest.param({"share": 0.0, "exposures": 10}, "share", id="share-zero"),
    pytest.param({"share": 1.5, "exposures": 10}, "share", id="share-above-one"),
    pytest.param({"share": 0.2, "exposures": -1}, "exposures", id="negative-exposures"),
])
def test_bad_settings_are_refused(ramp: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        monitor(**ramp)
    assert caught.value.key == f"guardrails.experience_monitor.ramp_up.{key}"


def first_variant_exposures(variant_share: float, seed: int) -> list[float]:
    """The variant's own exposures when harm (8 % vs 2 % negative feedback) is first detected."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(60):
        arm = rng.random(6000) < variant_share
        event = rng.random(6000) < np.where(arm, 0.08, 0.02)
        n_v, n_d = np.cumsum(arm), np.cumsum(~arm)
        k_v, k_d = np.cumsum(event & arm), np.cumsum(event & ~arm)
        hit = harm_detected(n_v, k_v, n_d, k_d, alpha=0.05 / 3, harm_ratio=1.5,
                            min_exposures=100)
        found.append(float(n_v[hit.argmax()]) if hit.any() else np.inf)
    return found


def test_more_default_traffic_catches_harm_after_fewer_of_the_variants_exposures() -> None:
    """Why ramp-up helps the monitor: the default's rate is then known more precisely."""
    even = np.median(first_variant_exposures(0.5, seed=1))
    ramped = np.median(first_variant_exposures(1 / 6, seed=1))
    assert ramped < 0.75 * even  # measured: about 230 against 460


RULES = """
site: {timezone: UTC, consent_required: false}
slots:
  promo:
    default: promo-none
    variants:
      - {id: promo-none, tags: [calm], html: "<p>Free shipping</p>"}
      - {id: promo-bundle, title: Bundle and save, tags: [upsell], html: "<p>Bundle</p>"}
objectives:
  promo: {conversion: 3, complaint: -5}
guardrails:
  holdout: {share: 0.0}
  experience_monitor: {ramp_up: {share: 0.25, exposures: 40}}
"""


def test_on_the_engine_the_reason_is_in_the_decision_and_the_ramp_up_ends(
        tmp_path: Any) -> None:
    from werkzeug.test import EnvironBuilder

    from personalize.context.visitor import VISITOR_COOKIE
    from personalize.engine import Personalizer

    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    clock = Clock()
    engine = Personalizer(rules=tmp_path, store=MemoryStore(clock=clock),
                          secret="ramp-up-tests-secret-0123456789", background_sync=False,
                          sync_interval=1e9, clock=clock, random_state=0)
    try:
        def decide(visitor: str) -> Any:
            cookie = f"{VISITOR_COOKIE}={engine.contexts.visitor_ids.sign(visitor)}"
            visit = engine.visit(EnvironBuilder(path="/", headers={"Cookie": cookie}
                                                ).get_environ())
            decision = engine.decide(visit.context, "promo")
            engine.commit(visit, [decision])
            clock.now += 1.0
            return decision

        early = [decide(v) for v in VISITORS[:200]]
        held = [d for d in early if d.eligible == ("promo-none",)]
        assert 0.6 < len(held) / len(early) < 0.9  # 75 % are outside the 25 % share
        assert all(d.variant == "promo-none" for d in held)
        text = "'Bundle and save' is new and shown to only 25% of visitors"
        assert all(text in d.explain() for d in held)
        served = 200
        shown = sum(d.variant == "promo-bundle" for d in early)
        while shown < 40:  # the monitor counts exposures as the engine syncs
            engine.sync()
            batch = [decide(v) for v in VISITORS[served:served + 50]]
            shown += sum(d.variant == "promo-bundle" for d in batch)
            served += 50
            assert served < 1000
        engine.sync()
        late = [decide(v) for v in VISITORS[served:served + 100]]
        assert all(d.eligible == ("promo-none", "promo-bundle") for d in late)
        assert all("is new" not in d.explain() for d in late)
    finally:
        engine.close()
