"""Server-side events from the host app, and linking devices at login."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from personalize.context.history import history_of
from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.middleware import PersonalizeMiddleware
from personalize.store.memory import MemoryStore

RULES = Path(__file__).parent.parent / "middleware" / "rules"
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> Iterator[Personalizer]:
    store = MemoryStore()
    yield Personalizer(rules=RULES, store=store, secret="record-tests-secret-0123456789",
                       reward_window=600.0, background_sync=False, clock=clock,
                       random_state=3)
    store.close()


def show(engine: Personalizer, visitor: str, slots: tuple[str, ...] = ("hero", "promo"),
         user_agent: str = DESKTOP) -> None:
    cookie = f"{VISITOR_COOKIE}={engine.contexts.visitor_ids.sign(visitor)}"
    visit = engine.visit(EnvironBuilder(path="/", headers={"User-Agent": user_agent,
                                                           "Cookie": cookie}).get_environ())
    engine.commit(visit, [engine.decide(visit.context, slot) for slot in slots])


def test_a_server_side_conversion_quotes_the_decisions_the_bandit_chose(
        engine: Personalizer, clock: FakeClock) -> None:
    visitor = "1" * 32
    show(engine, visitor)
    clock.now += 30
    show(engine, visitor)  # stickiness repeats the bandit's choice: the choice is credited
    clock.now += 60
    assert engine.record(visitor, "conversion", value=42.0) == 2
    exposures = list(engine.store.read_log(types=["exposure"]))
    assert [r["source"] for r in exposures] == ["bandit", "bandit", "guardrail", "guardrail"]
    latest = {r["slot"]: (r["variant"], r["decision"]) for r in exposures
              if r["source"] == "bandit"}
    records = list(engine.store.read_log(types=["conversion"]))
    assert {r["slot"]: (r["variant"], r["decision"]) for r in records} == latest
    assert all(r["amount"] == 42.0 and r["server"] for r in records)
    profile = engine.store.get_profile(visitor)
    assert profile is not None and history_of(profile, clock.now).conversions == 1


def test_variants_a_rule_pinned_get_no_credit(engine: Personalizer, clock: FakeClock) -> None:
    visitor = "6" * 32
    show(engine, visitor, slots=("hero",), user_agent=PHONE)  # hero-mobile, by a rule
    clock.now += 60
    assert engine.record(visitor, "conversion", value=9.0) == 0
    # the order still counts, unattributed, for the totals
    [record] = engine.store.read_log(types=["conversion"])
    assert record["slot"] is None and record["decision"] is None and record["value"] == 9.0
    assert history_of(engine.store.get_profile(visitor), clock.now).conversions == 1


def test_exposures_outside_the_window_get_no_credit(engine: Personalizer,
                                                   clock: FakeClock) -> None:
    visitor = "2" * 32
    show(engine, visitor)
    clock.now += 601
    assert engine.record(visitor, "conversion") == 0
    assert [r["decision"] for r in engine.store.read_log(types=["conversion"])] == [None]
    assert history_of(engine.store.get_profile(visitor), clock.now).conversions == 1


def test_the_learner_credits_the_pending_decision_of_that_slot(
        engine: Personalizer, clock: FakeClock) -> None:
    visitor = "3" * 32
    show(engine, visitor, slots=("promo",))
    engine.record(visitor, "conversion", value=1.0)
    engine.sync()
    pending = [p for p in engine.learner._pending.values() if p.visitor == visitor]
    assert pending and pending[0].signals == {"conversion": 1.0}


@pytest.mark.parametrize(
    ("visitor", "kind"),
    [pytest.param(None, "conversion", id="no-consent"),
     pytest.param("4" * 32, "conversion", id="unknown-visitor")],
)
def test_nothing_is_recorded_without_a_profile(engine: Personalizer, visitor: str | None,
                                               kind: str) -> None:
    assert engine.record(visitor, kind) == 0
    assert list(engine.store.read_log()) == []


def test_an_unknown_event_type_is_refused(engine: Personalizer) -> None:
    with pytest.raises(ValueError, match="expected an event type"):
        engine.record("5" * 32, "purchase")


def test_logging_in_on_a_second_device_merges_the_histories(
        engine: Personalizer, clock: FakeClock) -> None:
    phone, laptop = "a" * 32, "b" * 32
    for _ in range(3):
        show(engine, phone)
        clock.now += 3600
    engine.record(phone, "conversion")
    show(engine, laptop)
    assert engine.identify(phone, "customer-1001") == phone
    assert engine.identify(laptop, "customer-1001") == phone
    merged = history_of(engine.store.get_profile(phone), clock.now)
    assert merged.visits == 4 and merged.conversions == 1
    assert engine.store.get_profile(laptop) is None
    assert not any("customer-1001" in key for key in engine.store.list_state(""))


def app_with_login(environ: dict[str, Any], start_response: Any) -> Any:
    handle = environ["personalize"]
    if Request(environ).path == "/login":
        handle.identify("customer-7")
    return Response(f"<html>{handle.slot('hero')}</html>", mimetype="text/html")(
        environ, start_response)


def test_the_browser_moves_onto_the_accounts_visitor_id(engine: Personalizer) -> None:
    app = PersonalizeMiddleware(app_with_login, engine=engine)
    phone, laptop = Client(app), Client(app)
    phone.get("/login", headers={"User-Agent": DESKTOP}, buffered=True)
    phone_id = engine.contexts.visitor_ids.read(phone.get_cookie(VISITOR_COOKIE).value)
    laptop.get("/", headers={"User-Agent": DESKTOP}, buffered=True)
    laptop.get("/login", headers={"User-Agent": DESKTOP}, buffered=True)
    laptop_id = engine.contexts.visitor_ids.read(laptop.get_cookie(VISITOR_COOKIE).value)
    assert laptop_id == phone_id
