"""All guardrails together: their order, and the invariants no combination may break."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personalize.guardrails import (
    GUARDRAIL_NAMES,
    EndOfJourney,
    applicable,
    build_guardrails,
)
from personalize.guardrails.base import Guardrail
from personalize.store.memory import MemoryStore
from tests.guardrails.guardrail_kit import (
    HOUR,
    NOW,
    VARIANTS,
    Clock,
    candidates,
    context,
    exposure,
    full_settings,
    outcome,
    slot,
)
from tests.guardrails.guardrail_kit import settings as namespace

HERO = slot()


def test_order_and_names() -> None:
    guardrails = build_guardrails(full_settings(), MemoryStore(), Clock())
    assert [g.name for g in guardrails] == list(GUARDRAIL_NAMES)
    assert GUARDRAIL_NAMES == (
        "consent", "bots", "holdout", "experience_monitor", "sensitive", "end_of_journey",
        "frequency_caps", "annoyance_budget", "stickiness", "exploration", "transparency")
    assert all(isinstance(g.report(), dict) for g in guardrails)


def _guardrails(harsh: bool) -> list[Guardrail]:
    """Everything on; ``harsh`` makes every restriction as wide as it can be."""
    store = MemoryStore()
    # a pause document for the default, as a careless script might write it
    store.set_state("pause:hero:calm", {"slot": "hero", "variant": "calm", "auto": False,
                                        "reason": "oops", "by": "script", "paused_at": 0})
    store.set_state("pause:hero:gold", {"slot": "hero", "variant": "gold", "auto": False,
                                        "reason": "review", "by": "ben", "paused_at": 0})
    overrides: dict[str, Any] = {}
    if harsh:
        every = tuple(sorted({t for tags in VARIANTS.values() for t in tags}))
        overrides = {
            "holdout": namespace(share=0.5, salt="h"),
            "frequency_caps": tuple(namespace(variant=None, tag=t, max=1, per="week")
                                    for t in every)
            + tuple(namespace(variant=v, tag=None, max=1, per="visit") for v in VARIANTS),
            "annoyance_budget": namespace(tags=every, max_per_visit=1),
            "sensitive": namespace(allowed_tags=()),
            "end_of_journey": namespace(blocked_tags=every),
        }
    return build_guardrails(full_settings(**overrides), store, Clock(), slots={"hero": HERO})


GUARDS = {harsh: _guardrails(harsh) for harsh in (False, True)}

exposures = st.lists(st.builds(exposure, st.sampled_from(sorted(VARIANTS)),
                               st.floats(NOW - 10 * 86400, NOW)), max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(harsh=st.booleans(), device=st.sampled_from(["mobile", "desktop", "bot"]),
       tracking=st.booleans(), visitor=st.text("abcdef0123", min_size=1, max_size=8),
       sensitive=st.booleans(), stage=st.sampled_from([None, "end"]),
       pinned=st.sampled_from([None, *VARIANTS]), history=exposures,
       shown=exposures, last=st.sampled_from([None, *VARIANTS]))
def test_no_guardrail_removes_the_default_and_a_forced_variant_is_allowed(
        harsh: bool, device: str, tracking: bool, visitor: str, sensitive: bool,
        stage: str | None, pinned: str | None, history: list[Any], shown: list[Any],
        last: str | None) -> None:
    ctx = context(device=device, tracking=tracking, reason="" if tracking else "dnt",
                  visitor_id=visitor, exposures=tuple(history), visit_started=NOW - HOUR,
                  last_shown={"hero": (last, NOW - 60)} if last else {})
    rules = outcome(HERO, sensitive=sensitive, stage=stage, pinned=pinned)
    work = candidates(HERO, shown=tuple(shown))
    for guardrail in GUARDS[harsh]:
        guardrail.before(ctx, rules, work)
    assert "calm" in work.eligible
    # a paused variant is never served (once the default is forced, nothing else is)
    assert work.forced != "gold" and (work.forced is not None or "gold" not in work.eligible)
    if work.forced is not None:
        assert work.forced in work.eligible
        assert work.forced_source in ("rule", "default", "holdout", "guardrail")
    if not tracking or device == "bot":
        assert work.forced is not None and not work.learn and not work.explore
    if sensitive:
        assert not work.explore
    assert set(work.acted) == {r.code for r in work.reasons}
    assert all(r.stage == "guardrail" and r.code in GUARDRAIL_NAMES and r.text.endswith(".")
               for r in work.reasons)


NOTE = slot("note", variants={"calm": ("calm",), "help": ("calm", "help"), "new": ()})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(harsh=st.booleans(), the_slot=st.sampled_from([HERO, NOTE]),
       device=st.sampled_from(["mobile", "bot"]), tracking=st.booleans(),
       visitor=st.text("abcdef0123", min_size=1, max_size=8), sensitive=st.booleans(),
       stage=st.sampled_from([None, "end"]), pinned=st.sampled_from([None, "sale", "help"]),
       history=exposures, shown=exposures, last=st.sampled_from([None, *VARIANTS]))
def test_skipping_the_guardrails_that_do_not_apply_changes_nothing(
        harsh: bool, the_slot: Any, device: str, tracking: bool, visitor: str,
        sensitive: bool, stage: str | None, pinned: str | None, history: list[Any],
        shown: list[Any], last: str | None) -> None:
    ctx = context(device=device, tracking=tracking, reason="" if tracking else "dnt",
                  visitor_id=visitor, exposures=tuple(history),
                  last_shown={the_slot.name: (last, NOW - 60)} if last else {})
    rules = outcome(the_slot, sensitive=sensitive, stage=stage,
                    pinned=pinned if pinned in the_slot.variants else None)
    every, chain = _guardrails(harsh), _guardrails(harsh)
    runs = []
    for guardrails in (every, list(applicable(chain, the_slot))):
        work = candidates(the_slot, shown=tuple(shown))
        for guardrail in guardrails:
            guardrail.before(ctx, rules, work)
        runs.append(work)
    assert runs[0] == runs[1]
    assert [g.report() for g in every] == [g.report() for g in chain]


def test_what_applies_follows_the_settings_and_the_slot() -> None:
    names = {s.name: [g.name for g in applicable(_guardrails(False), s)] for s in (HERO, NOTE)}
    assert names == {
        "hero": ["consent", "bots", "holdout", "experience_monitor", "sensitive",
                 "end_of_journey", "frequency_caps", "annoyance_budget", "stickiness",
                 "exploration"],
        # nothing in 'note' is capped, promotional or blocked at the end of a journey
        "note": ["consent", "bots", "holdout", "experience_monitor", "sensitive", "stickiness",
                 "exploration"],
    }


def test_a_reloaded_slot_of_the_same_name_is_judged_afresh() -> None:
    end = EndOfJourney(namespace(blocked_tags=("upsell",)))
    first = candidates(HERO)
    end.before(context(), outcome(HERO, stage="end"), first)
    assert first.eligible == ["calm", "help", "new"]
    reloaded = slot(variants={**VARIANTS, "sale": ("promo",), "gold": ("calm",)})
    second = candidates(reloaded)
    end.before(context(), outcome(reloaded, stage="end"), second)
    assert second.eligible == ["calm", "sale", "gold", "help", "new"]
