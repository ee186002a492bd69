"""SQLite refusing writes: locked, read-only, out of space. The site stays up; nothing
acknowledged is lost.

Each fault is real: another connection holding an EXCLUSIVE lock; the database
file and its WAL made immutable (``chattr +i``: root ignores ``chmod``, and a
live connection keeps writing through its open descriptor anyway); the database
on a small tmpfs filled to the last byte. Visitors keep coming during the
fault: every page must answer 200, the failed commits must be logged and
counted, and once the fault clears and the store is flushed, every exposure
and every click the site acknowledged — before and during the fault — is in
the file.

Clicks need a claim (one event per decision), which SQLite makes synchronously:
on the plain store a click during the fault is refused with 503 (not
acknowledged, so the browser may send it again); wrapped in a
:class:`~personalize.store.BufferedStore` it is claimed locally and accepted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from personalize.context.visitor import VISITOR_COOKIE
from personalize.store import BufferedStore, SQLiteStore, Store
from tests.scale.scale_app import create_app
from tests.scale.scale_kit import USER_AGENT

_DECISION = re.compile(r'data-personalize-decision="([^"]+)"')
PER_PHASE = 15  # visitors before, during and after the fault


@dataclass
class Visits:
    """Decision ids the site acknowledged, and the statuses it answered."""

    pages: set[str] = field(default_factory=set)
    clicks: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)


def visit_and_click(client: FlaskClient, visits: Visits, phase: str) -> None:
    """A new visitor views the page and clicks its banner."""
    page = client.get("/", headers={"User-Agent": USER_AGENT}, buffered=True)  # runs close()
    visits.statuses[f"{phase} page {page.status_code}"] += 1
    found = _DECISION.search(page.get_data(as_text=True))
    if page.status_code != 200 or found is None:
        return
    visits.pages.add(found.group(1))
    cookie = re.search(rf"{VISITOR_COOKIE}=([^;]+)", page.headers.get("Set-Cookie", ""))
    assert cookie is not None
    answer = client.post("/_personalize/events", data=json.dumps(
        {"type": "click", "decision": found.group(1)}), headers={
            "User-Agent": USER_AGENT, "Content-Type": "application/json",
            "Cookie": f"{VISITOR_COOKIE}={cookie.group(1)}"}, buffered=True)
    visits.statuses[f"{phase} click {answer.status_code}"] += 1
    if answer.status_code == 202:
        visits.clicks.add(found.group(1))


def stored(path: Path) -> dict[str, Counter[str]]:
    """Decision ids in the file's log, by record type, read by a connection of our own."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT type, decision FROM log").fetchall()
    found: dict[str, Counter[str]] = {"exposure": Counter(), "click": Counter()}
    for kind, decision in rows:
        found.setdefault(kind, Counter())[decision] += 1
    return found


# -- the faults ---------------------------------------------------------------------


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds an EXCLUSIVE lock (in WAL mode, readers still read)."""
    blocker = sqlite3.connect(path, timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The database and its WAL immutable (not the -shm index: SQLite maps it to memory)."""
    files = [str(path), f"{path}-wal"]
    subprocess.run(["chattr", "+i", *files], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *files], check=True)


@contextlib.contextmanager
def disk_full(path: Path) -> Iterator[None]:
    """The file system of the database filled to the last byte."""
    filler = path.parent / "filler"
    with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):  # ENOSPC
        while True:  # unbuffered: a short write, then ENOSPC, and nothing left to flush
            out.write(b"\0" * 65536)
    try:
        yield
    finally:
        filler.unlink()


def _chattr_works(directory: Path) -> bool:
    probe = directory / "probe"
    probe.touch()
    try:
        done = subprocess.run(["chattr", "+i", str(probe)], capture_output=True)
        if done.returncode != 0:
            return False
        subprocess.run(["chattr", "-i", str(probe)], check=True)
        return True
    finally:
        probe.unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for this test (needs root)."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=True)


FAULTS = {"locked": locked, "read-only": read_only, "disk-full": disk_full}


@pytest.fixture(params=list(FAULTS))
def fault(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """The fault's name and where its database lives."""
    name: str = request.param
    if name == "read-only" and (os.geteuid() != 0 or shutil.which("chattr") is None
                                or not _chattr_works(tmp_path)):
        pytest.skip("making a file immutable needs root, chattr and a file system with it")
    directory = request.getfixturevalue("small_disk") if name == "disk-full" else tmp_path
    return name, directory / "pz.db"


@pytest.mark.parametrize("buffered", [pytest.param(False, id="plain"),
                                      pytest.param(True, id="buffered")])
def test_the_site_stays_up_and_loses_nothing_acknowledged(
    fault: tuple[str, Path], buffered: bool, caplog: pytest.LogCaptureFixture
) -> None:
    name, path = fault
    sqlite = SQLiteStore(path, timeout=0.05, retry_max=0.1, flush_timeout=10.0)
    store: Store = BufferedStore(sqlite, retry_interval=0.1) if buffered else sqlite
    app = create_app(store)
    client = app.test_client(use_cookies=False)
    engine = app.extensions["personalize"].engine
    visits = Visits()
    inject: Callable[[Path], contextlib.AbstractContextManager[None]] = FAULTS[name]
    try:
        for _ in range(PER_PHASE):
            visit_and_click(client, visits, "before")
        store.flush()
        with caplog.at_level(logging.WARNING, logger="personalize.store"), inject(path):
            for _ in range(PER_PHASE):
                visit_and_click(client, visits, "during")
            deadline = time.monotonic() + 10
            while sqlite.errors["write"] == 0 and time.monotonic() < deadline:
                time.sleep(0.02)  # the writer thread meets the fault
            assert sqlite.errors["write"] > 0
            assert any("queued writes failed" in m for m in caplog.messages)
        for _ in range(PER_PHASE):
            visit_and_click(client, visits, "after")
        store.flush()
        in_file = stored(path)
    finally:
        engine.close()  # stops the sync thread, shares the statistics, closes the store

    print(f"\n{name} ({'buffered' if buffered else 'plain'}): {dict(visits.statuses)}; "
          f"failed commits {sqlite.errors['write']}; pages sent {len(visits.pages)}, "
          f"stored {len(in_file['exposure'])}; clicks acknowledged {len(visits.clicks)}, "
          f"stored {len(in_file['click'])}; engine counters {engine.counters}")
    for phase in ("before", "during", "after"):
        assert visits.statuses[f"{phase} page 200"] == PER_PHASE
    assert visits.statuses["before click 202"] == visits.statuses["after click 202"] == PER_PHASE
    during = visits.statuses["during click 202"] if buffered else visits.statuses[
        "during click 503"]
    assert during == PER_PHASE  # plain: refused, not acknowledged; buffered: accepted
    assert len(visits.pages) == 3 * PER_PHASE
    assert visits.pages <= set(in_file["exposure"])
    assert visits.clicks <= set(in_file["click"])
    assert all(n == 1 for kind in ("exposure", "click") for n in in_file[kind].values())
    assert engine.counters.get("commit_errors", 0) == 0  # writes were queued, not refused
