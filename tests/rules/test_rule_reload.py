"""Hot reload: changed files swap in atomically, broken edits keep the last good rules."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from personalize.context import Context
from personalize.exceptions import RuleSetError
from personalize.rules import RuleReloader
from personalize.rules.loader import content_version

SLOTS = """
slots:
  hero:
    default: h0
    variants:
      - {id: h0, html: <p>0</p>}
      - {id: h1, html: <p>1</p>}
      - {id: h2, html: <p>2</p>}
objectives:
  hero: {click: 1, bounce: -1}
"""
PIN_H1 = "rules:\n  - {name: pin, then: {show: h1}}\n"
PIN_H2 = "rules:\n  - {name: pin, then: {show: h2}}\n"
BROKEN = "rules:\n  - {name: pin, then: {show: h9}}\n"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _write(path: Path, text: str, bump: int) -> None:
    """Write and give the file a distinct modification time, as a later save would."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_700_000_000_000_000_000 + bump * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "10-slots.yaml", SLOTS, 0)
    _write(tmp_path / "20-rules.yaml", PIN_H1, 0)
    return tmp_path


def test_changes_load_after_the_interval(rules_dir: Path,
                                         make_context: Callable[..., Context]) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=2.0, clock=clock, settle=0.0)
    first = reloader.current
    assert first.evaluate(make_context(), "hero").pinned == "h1"
    _write(rules_dir / "20-rules.yaml", PIN_H2, 1)
    clock.now += 1.0
    assert reloader.current is first  # not yet: scans happen at most every interval
    clock.now += 1.5
    second = reloader.current
    assert second is not first and second.version != first.version
    assert second.evaluate(make_context(), "hero").pinned == "h2"
    assert (reloader.version, reloader.loaded_at) == (second.version, second.loaded_at)


def test_unchanged_files_are_not_reloaded(rules_dir: Path) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=2.0, clock=clock)
    first = reloader.current
    clock.now += 10
    assert reloader.current is first


def test_added_and_removed_files_are_noticed(rules_dir: Path) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=1.0, clock=clock, settle=0.0)
    _write(rules_dir / "30-more.yaml", "rules:\n  - {name: more, priority: 1, "
                                       "then: {exclude: [h2]}}\n", 1)
    clock.now += 1
    assert [r.name for r in reloader.current.rules] == ["more", "pin"]
    (rules_dir / "30-more.yaml").unlink()
    clock.now += 1
    assert [r.name for r in reloader.current.rules] == ["pin"]


def test_broken_edit_keeps_the_last_good_rules(rules_dir: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    errors: list[RuleSetError] = []
    reloader = RuleReloader(rules_dir, interval=1.0, clock=clock, on_error=errors.append,
                            settle=0.0)
    good = reloader.current
    _write(rules_dir / "20-rules.yaml", BROKEN, 1)
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="personalize.rules"):
        assert reloader.current is good
    assert reloader.last_error is not None and errors == [reloader.last_error]
    assert "unknown variant 'h9'" in caplog.text and good.version in caplog.text
    clock.now += 1
    assert reloader.current is good and len(errors) == 1  # logged once per edit
    _write(rules_dir / "20-rules.yaml", PIN_H2, 2)
    clock.now += 1
    assert reloader.current is not good and reloader.last_error is None


def test_broken_rules_fail_at_start_up(rules_dir: Path) -> None:
    _write(rules_dir / "20-rules.yaml", BROKEN, 1)
    with pytest.raises(RuleSetError, match="unknown variant 'h9'"):
        RuleReloader(rules_dir)


def test_reload_now_ignores_the_interval(rules_dir: Path) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=3600, clock=clock, settle=0.0)
    first = reloader.current
    assert reloader.reload_now() is False  # same contents: same version
    _write(rules_dir / "20-rules.yaml", PIN_H2, 1)
    assert reloader.reload_now() is True
    assert reloader.current is not first


def test_reload_now_during_a_reload_defers_to_the_next_request(rules_dir: Path) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=3600, clock=clock, settle=0.5)
    _write(rules_dir / "20-rules.yaml", PIN_H2, 1)
    assert reloader.reload_now() is False  # the change must settle first
    clock.now += 0.5
    with reloader._lock:  # as if a signal arrived while a request was reloading
        assert reloader.reload_now() is False
    assert reloader.current.evaluate  # the next request scans, despite the long interval
    assert [r.effects["hero"].show for r in reloader.current.rules] == ["h2"]


def test_a_change_is_read_once_it_has_settled(rules_dir: Path) -> None:
    clock = Clock()
    reloader = RuleReloader(rules_dir, interval=2.0, clock=clock, settle=0.5)
    first = reloader.current
    _write(rules_dir / "20-rules.yaml", "", 1)  # a save caught half way: valid, but empty
    clock.now += 2
    assert reloader.current is first  # seen once: wait for it to settle
    _write(rules_dir / "20-rules.yaml", PIN_H2, 2)  # the save completes
    clock.now += 0.5
    assert reloader.current is first  # changed again: the wait starts over
    clock.now += 0.5
    second = reloader.current
    assert second is not first and [r.name for r in second.rules] == ["pin"]


def test_reload_under_concurrent_requests(rules_dir: Path,
                                          make_context: Callable[..., Context]) -> None:
    reloader = RuleReloader(rules_dir, interval=0.0)  # readers scan on every request
    version_of = {text: content_version({"10-slots.yaml": SLOTS, "20-rules.yaml": text})
                  for text in (PIN_H1, PIN_H2)}
    seen: set[str] = set()
    failures: list[BaseException] = []
    stop = threading.Event()
    context = make_context()

    def serve() -> None:
        try:
            while not stop.is_set():
                rules = reloader.current
                outcome = rules.evaluate_all(context)["hero"]
                assert outcome.pinned in ("h1", "h2")
                seen.add(rules.version)
        except BaseException as err:  # noqa: BLE001 — a thread must hand every failure back
            failures.append(err)

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for t in threads:
        t.start()
    for i, text in enumerate([PIN_H2, BROKEN, PIN_H1, BROKEN, PIN_H2] * 2, start=1):
        _write(rules_dir / "20-rules.yaml", text, i)  # not atomic: readers see it half done
        reloader.reload_now()
        deadline = time.monotonic() + 20
        while not (reloader.last_error is not None if text == BROKEN
                   else reloader.version == version_of[text] and reloader.last_error is None):
            assert time.monotonic() < deadline, f"edit {i} was never picked up"
            time.sleep(0.01)  # the serving threads reload; this one only watches
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert failures == []
    assert seen == set(version_of.values())  # both good versions served, nothing else
    assert reloader.current.evaluate_all(context)["hero"].pinned == "h2"
