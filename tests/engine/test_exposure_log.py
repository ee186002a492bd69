"""What a page's commit logs: one exposure record per decision, the page's features once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder

from personalize.context.builder import Visit
from personalize.context.visitor import VISITOR_COOKIE
from personalize.engine import Personalizer
from personalize.logjoin import join
from personalize.store.memory import MemoryStore

RULES = Path(__file__).resolve().parents[2] / "rules"  # the demo shop's: opt-in consent
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
SLOTS = ("greeting", "hero", "promo")


@pytest.fixture
def engine() -> Iterator[Personalizer]:
    store = MemoryStore()
    yield Personalizer(rules=RULES, store=store, secret="exposure-log-secret-0123456789",
                       background_sync=False, random_state=5)
    store.close()


def visit(engine: Personalizer) -> Visit:
    cookie = (f"{VISITOR_COOKIE}={engine.contexts.visitor_ids.sign('ab' * 16)}; "
              "paahtimo_consent=yes")
    return engine.visit(EnvironBuilder(path="/", headers={"User-Agent": DESKTOP,
                                                          "Cookie": cookie}).get_environ())


def test_the_first_exposure_carries_the_features_and_the_others_name_it(
        engine: Personalizer) -> None:
    page = visit(engine)
    decisions = [engine.decide(page.context, slot) for slot in SLOTS]
    engine.commit(page, decisions)
    records = list(engine.store.read_log(types=["exposure"]))
    assert [r["decision"] for r in records] == [d.id for d in decisions]
    assert records[0]["features"] == page.context.features
    assert ["features" in r for r in records] == [True, False, False]
    assert len({r["page"] for r in records}) == 1
    assert [e.features for e in join(records).exposures] == [page.context.features] * 3
    # the next page of the same visitor is a page of its own
    again = visit(engine)
    engine.commit(again, [engine.decide(again.context, SLOTS[0])])
    newest = list(engine.store.read_log(types=["exposure"]))[-1]
    assert newest["page"] != records[0]["page"] and "features" in newest


def test_a_fail_open_default_first_still_gives_the_page_its_features(
        engine: Personalizer) -> None:
    page = visit(engine)
    fallback = engine.default_decision(SLOTS[0], "personalization had a problem")
    decisions = [fallback, *(engine.decide(page.context, slot) for slot in SLOTS[1:])]
    engine.commit(page, decisions)
    records = list(engine.store.read_log(types=["exposure"]))
    assert fallback.id == "" and "features" in records[0]
    # the default has no decision id to join events to, but its page's features count
    assert [e.decision for e in join(records).exposures] == [d.id for d in decisions[1:]]
    assert [e.features for e in join(records).exposures] == [page.context.features] * 2
