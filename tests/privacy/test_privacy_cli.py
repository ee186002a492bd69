"""``personalize purge`` and ``personalize forget``, run as an operator would.

Each test fills a real store (an SQLite file, or Redis), closes it, runs the
command, then opens the store again and looks at what is left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from personalize.cli import main
from personalize.store import Store, make_store
from personalize.store.cli import parse_duration

DAY = 86400.0
OLD, RECENT = "a" * 32, "b" * 32


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("redis", id="redis", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'p.db'}"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def opened() -> Iterator[Callable[..., Store]]:
    """Opens stores and closes them at the end of the test."""
    stores: list[Store] = []

    def open_store(url: str, **options: object) -> Store:
        stores.append(make_store(url, **options))
        return stores[-1]

    yield open_store
    for store in stores:
        store.close()


def fill(url: str, opened: Callable[..., Store]) -> None:
    """A visitor last seen 100 days ago and one seen 10 days ago, with their records."""
    now = time.time()
    for visitor, age in ((OLD, 100 * DAY), (RECENT, 10 * DAY)):
        when = now - age
        store = opened(url, clock=lambda when=when: when)
        store.put_profile(visitor, {"visits": 3})
        store.append([{"ts": when, "type": "exposure", "visitor": visitor, "slot": "hero",
                       "variant": "hero-default", "decision": f"d-{visitor}"},
                      {"ts": when + 1, "type": "click", "visitor": visitor, "slot": "hero",
                       "variant": "hero-default", "decision": f"d-{visitor}"}])
        store.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def left(url: str, opened: Callable[..., Store]) -> tuple[set[str], list[str]]:
    """Visitors with a profile, and the visitors named by log records."""
    store = opened(url)
    profiles = {v for v in (OLD, RECENT) if store.get_profile(v) is not None}
    records = sorted(str(r["visitor"]) for r in store.read_log())
    return profiles, records


def test_purge_removes_old_profiles_and_records(store_url: str,
                                                opened: Callable[..., Store]) -> None:
    fill(store_url, opened)
    result = run("purge", "--older-than", "90d", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "removed 3 profiles and log records" in result.output
    assert "older than 90d" in result.output
    assert left(store_url, opened) == ({RECENT}, [RECENT, RECENT])


def test_purge_with_a_longer_retention_keeps_everything(store_url: str,
                                                        opened: Callable[..., Store]) -> None:
    fill(store_url, opened)
    result = run("purge", "--older-than", "20w", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "removed 0 " in result.output
    assert left(store_url, opened) == ({OLD, RECENT}, [OLD, OLD, RECENT, RECENT])


def test_forget_erases_one_visitor_only(store_url: str, opened: Callable[..., Store]) -> None:
    fill(store_url, opened)
    result = run("forget", OLD.upper(), "--store", store_url)
    assert result.exit_code == 0, result.output
    assert f"forgot visitor {OLD}" in result.output and "removed 3 records" in result.output
    assert left(store_url, opened) == ({RECENT}, [RECENT, RECENT])
    again = run("forget", OLD, "--store", store_url)
    assert again.exit_code == 0 and "nothing stored" in again.output


def test_the_store_can_come_from_the_environment(tmp_path: Path,
                                                 opened: Callable[..., Store]) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    fill(url, opened)
    result = CliRunner().invoke(main, ["purge", "--older-than", "2160h"],
                                env={"PERSONALIZE_STORE": url})
    assert result.exit_code == 0, result.output
    assert left(url, opened) == ({RECENT}, [RECENT, RECENT])


@pytest.mark.parametrize(("text", "seconds"), [
    ("90d", 90 * DAY), ("12h", 12 * 3600.0), ("30m", 1800.0), ("45s", 45.0), ("2w", 14 * DAY),
    (" 7D ", 7 * DAY),
])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["purge", "--older-than", "90", "--store", "memory://"],
                 "expected a duration like 90d", id="no-unit"),
    pytest.param(["purge", "--older-than", "3 months", "--store", "memory://"],
                 "expected a duration like 90d", id="words"),
    pytest.param(["purge", "--older-than", "-5d", "--store", "memory://"],
                 "expected a duration like 90d", id="negative"),
    pytest.param(["purge", "--older-than", "0d", "--store", "memory://"],
                 "above zero", id="zero"),
    pytest.param(["purge", "--store", "memory://"], "Missing option '--older-than'",
                 id="no-retention"),
    pytest.param(["purge", "--older-than", "90d", "--store", "sqlite:///no/such/file.db"],
                 "no database file", id="missing-file"),
    pytest.param(["purge", "--older-than", "90d", "--store", "ftp://x"], "expected memory://",
                 id="bad-url"),
    pytest.param(["forget", "not-an-id", "--store", "memory://"], "32 hex digits",
                 id="bad-visitor-id"),
])
def test_bad_arguments_exit_2_with_a_message(args: list[str], message: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERSONALIZE_STORE", raising=False)
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    run("forget", OLD, "--store", f"sqlite:///{path}")
    assert not path.exists()


@pytest.mark.parametrize("command", [["purge", "--older-than", "90d"], ["forget", OLD]])
def test_an_unreachable_store_exits_1(command: list[str]) -> None:
    result = run(*command, "--store", "redis://127.0.0.1:9/0")
    assert result.exit_code == 1
    assert "run it again" in result.output
