"""What the scale and fault tests share: servers, a paced traffic driver, and tallies.

::

    with PersistentRedis() as redis_server, Gunicorn(workers=4, store=redis_server.url) as site:
        result = drive(site.port, rounds=600, rate=40.0, click=CLICK)
        reports = settle(site.port, workers=4)

Every server listens on a free 127.0.0.1 port and is stopped by the test that
started it; every loop here is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from personalize.context.visitor import VISITOR_COOKIE
from personalize.policy.features import BIAS, Featurizer
from personalize.store import RedisStore
from tests.support.servers import free_port, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
ARMS = ("hero-a", "hero-b", "hero-c")
#: the driver's secret taste: the chance it clicks each variant
CLICK = {"hero-a": 0.1, "hero-b": 0.6, "hero-c": 0.1}
BEST = "hero-b"
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
_DECISION = re.compile(rb'data-personalize-decision="([^"]+)">\s*<h1>Variant ([ABC])</h1>')


# -- servers -----------------------------------------------------------------------


class PersistentRedis:
    """A ``redis-server`` whose data survives SIGKILL: append-only file, fsync on every write.

    That is how a production Redis holding events runs; with it, "nothing lost"
    can be checked across a crash. :meth:`kill` crashes it, :meth:`start` brings
    it back on the same port with the same data.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="pz-aof-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PersistentRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found on PATH; install redis-server")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", self._tmp.name,
             "--logfile", os.path.join(self._tmp.name, "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def kill(self) -> None:
        """SIGKILL: a crash."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait(timeout=10)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._tmp.cleanup()

    def __enter__(self) -> PersistentRedis:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class Gunicorn:
    """``gunicorn`` serving an app module with sync workers on a free port.

    :param workers: worker processes.
    :param store: the store URL, passed as ``PZ_TEST_STORE``.
    :param app: the WSGI app as ``module:attribute``.
    :param env: more environment variables for the server.
    """

    def __init__(self, *, workers: int, store: str, app: str = "tests.scale.scale_app:app",
                 env: Mapping[str, str] | None = None) -> None:
        self.workers = workers
        self.port = free_port()
        self.app = app
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "PZ_TEST_STORE": store,
                    **(env or {})}
        self._tmp = tempfile.TemporaryDirectory(prefix="pz-gunicorn-")
        self._log = Path(self._tmp.name) / "gunicorn.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        with self._log.open("ab") as log:  # the server keeps its own handle
            self._process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
                 "--worker-class", "sync", "--bind", f"127.0.0.1:{self.port}",
                 "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning",
                 self.app],
                cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.port, self._process, self._log, path="/healthz/learning")
        except RuntimeError:
            self.stop()
            raise
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def worker_pids(self) -> list[int]:
        """The live workers: children of the master process."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    fields = stat[stat.rindex(")") + 2:].split()
                    if int(fields[1]) == self.pid and fields[0] != "Z":
                        found.append(int(entry))
        return sorted(found)

    def log(self) -> str:
        return self._log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._tmp.cleanup()


# -- HTTP ----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request(port: int, method: str, path: str, *, body: bytes | None = None,
            headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> Response:
    """One request on a fresh connection (gunicorn's sync workers close each one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body,
                     headers={"User-Agent": USER_AGENT, **(headers or {})})
        answer = conn.getresponse()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()},
                        answer.read())
    finally:
        conn.close()


# -- the traffic driver ----------------------------------------------------------------


@dataclass
class Round:
    """One visitor's page view and, maybe, click."""

    index: int
    at: float
    status: int = 0
    variant: str = ""
    decision: str = ""
    clicked: bool = False
    event_status: int = 0
    error: str = ""
    cookie: str = ""
    returning: bool = False


@dataclass
class Traffic:
    """What the driver sent and what it got back."""

    rounds: list[Round] = field(default_factory=list)

    @property
    def pages(self) -> Counter[int]:
        return Counter(r.status for r in self.rounds)

    @property
    def events(self) -> Counter[int]:
        return Counter(r.event_status for r in self.rounds if r.clicked)

    @property
    def errors(self) -> Counter[str]:
        return Counter(r.error for r in self.rounds if r.error)

    def served(self) -> list[Round]:
        return [r for r in self.rounds if r.status == 200 and r.decision]

    def best_share(self, start: float = 0.0, end: float = 1.0) -> float:
        """Share of the best variant among rounds in ``[start, end)`` (fractions of the run)."""
        part = self._part(start, end)
        return sum(r.variant == BEST for r in part) / max(1, len(part))

    def reward(self, start: float = 0.0, end: float = 1.0) -> float:
        """Clicks per round in ``[start, end)``."""
        part = self._part(start, end)
        return sum(r.clicked for r in part) / max(1, len(part))

    def _part(self, start: float, end: float) -> list[Round]:
        served = sorted(self.served(), key=lambda r: r.index)
        return served[int(start * len(served)):int(end * len(served))]


def drive(port: int, *, rounds: int, rate: float, click: Mapping[str, float] = CLICK,
          threads: int = 8, seed: int = 7, max_seconds: float = 60.0, returning: float = 0.0,
          during: Mapping[int, Any] | None = None) -> Traffic:
    """Send ``rounds`` page views at ``rate`` per second.

    After a page, the visitor clicks its variant with probability ``click[variant]``
    by posting the decision id from the HTML to ``/_personalize/events`` with its
    cookie. Stops issuing rounds after ``max_seconds``.

    :param returning: share of rounds made by a visitor seen earlier (with the
        cookie the site gave it), the rest by new visitors.

    :param during: round index → a callable run (once, by the thread that
        reaches it) before that round starts: kill a server, restart it.
    """
    traffic = Traffic()
    lock = threading.Lock()
    actions = dict(during or {})
    next_index = iter(range(rounds))
    start = time.monotonic()

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
                action = actions.pop(index, None) if index is not None else None
            if index is None:
                return
            due = start + index / rate
            if due - start > max_seconds:
                return
            time.sleep(max(0.0, due - time.monotonic()))
            if action is not None:
                action()
            rng = random.Random(seed * 1_000_003 + index)
            cookie = ""
            if rng.random() < returning:
                with lock:
                    known = [r.cookie for r in traffic.rounds[-50:] if r.cookie]
                cookie = rng.choice(known) if known else ""
            one = _round(port, index, rng, click, cookie)
            with lock:
                traffic.rounds.append(one)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    traffic.rounds.sort(key=lambda r: r.index)
    return traffic


def _round(port: int, index: int, rng: random.Random, click: Mapping[str, float],
           cookie: str) -> Round:
    one = Round(index, time.time(), cookie=cookie, returning=bool(cookie))
    try:
        page = request(port, "GET", "/", headers={"Cookie": f"{VISITOR_COOKIE}={cookie}"}
                       if cookie else None)
        one.status = page.status
        found = _DECISION.search(page.body)
        if page.status != 200 or found is None:
            return one
        one.decision = found.group(1).decode()
        one.variant = f"hero-{found.group(2).decode().lower()}"
        one.cookie = cookie or _visitor_cookie(page.headers.get("set-cookie", ""))
        if rng.random() < click[one.variant]:
            one.clicked = True
            event = json.dumps({"type": "click", "decision": one.decision}).encode()
            answer = request(port, "POST", "/_personalize/events", body=event, headers={
                "Content-Type": "application/json", "Cookie": f"{VISITOR_COOKIE}={one.cookie}"})
            one.event_status = answer.status
    except (OSError, http.client.HTTPException) as err:
        one.error = type(err).__name__
    return one


def _visitor_cookie(header: str) -> str:
    found = re.search(rf"{VISITOR_COOKIE}=([^;,\s]+)", header)
    return found.group(1) if found else ""


# -- after the traffic --------------------------------------------------------------------


def settle(port: int, *, workers: int, flush: bool = False, max_requests: int = 600,
           max_seconds: float = 30.0) -> dict[int, dict[str, Any]]:
    """Have every worker sync (and flush) until each reports nothing pending.

    Requests go out 2×``workers`` at a time, so the kernel hands them to every
    worker; returns each worker's last report, by pid.
    """
    reports: dict[int, dict[str, Any]] = {}
    query = "/healthz/learning?sync=1" + ("&flush=1" if flush else "")
    deadline = time.monotonic() + max_seconds
    sent = 0
    with ThreadPoolExecutor(2 * workers) as pool:
        while sent < max_requests and time.monotonic() < deadline:
            answers = list(pool.map(lambda _: request(port, "GET", query), range(2 * workers)))
            sent += len(answers)
            for answer in answers:
                report = json.loads(answer.body)
                reports[report["pid"]] = report
            done = [r for r in reports.values()
                    if r["pending"] == 0 and r["buffer_pending"] == 0 and not r["errors"]]
            if len(done) >= workers and len(reports) >= workers:
                break
    return reports


def everyone_reloads(port: int, *, pids: set[int], max_requests: int = 400,
                     max_seconds: float = 20.0) -> dict[int, dict[str, Any]]:
    """One more sync on each of ``pids`` after all have pushed: each loads the full totals."""
    reports: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + max_seconds
    sent = 0
    with ThreadPoolExecutor(2 * len(pids)) as pool:
        while sent < max_requests and time.monotonic() < deadline and set(reports) < pids:
            answers = list(pool.map(lambda _: request(port, "GET", "/healthz/learning?sync=1"),
                                    range(2 * len(pids))))
            sent += len(answers)
            for answer in answers:
                report = json.loads(answer.body)
                reports[report["pid"]] = report
    return reports


@dataclass
class Tally:
    """What the driver was acknowledged against what the store holds.

    :param sent: decision ids of pages served (exposures) and of clicks answered 202.
    :param stored: how many times the log holds each of them.
    """

    sent: dict[str, set[str]]
    stored: dict[str, Counter[str]]

    def lost(self, kind: str) -> int:
        return len(self.sent[kind] - set(self.stored[kind]))

    def duplicated(self, kind: str) -> int:
        return sum(n - 1 for n in self.stored[kind].values())

    def summary(self) -> str:
        return ", ".join(
            f"{kind}: sent {len(self.sent[kind])}, stored {len(self.stored[kind])}, "
            f"lost {self.lost(kind)}, duplicated {self.duplicated(kind)}" for kind in self.sent)


def tally(traffic: Traffic, log: list[dict[str, Any]]) -> Tally:
    """Count exposures and clicks sent (acknowledged) and stored, by decision id."""
    served = traffic.served()
    sent = {"exposure": {r.decision for r in served},
            "click": {r.decision for r in served if r.clicked and r.event_status == 202}}
    stored = {kind: Counter(str(r.get("decision")) for r in log if r["type"] == kind)
              for kind in sent}
    return Tally(sent, stored)


@contextlib.contextmanager
def redis_reader(url: str) -> Iterator[RedisStore]:
    """The shared Redis read directly (unbuffered), as the test's own witness."""
    store = RedisStore(url, socket_timeout=5.0)
    try:
        yield store
    finally:
        store.close()


def model_counts(store: RedisStore, slot: str = "hero") -> dict[str, int]:
    """Per arm, the learned decisions counted in the merged statistics (``n``)."""
    counts = {}
    for arm in ARMS:
        stats = store.get_stats(f"model:{slot}:{arm}")
        counts[arm] = int(stats["n"]) if "n" in stats else 0
    return counts


def model_rewards(store: RedisStore, slot: str = "hero") -> dict[str, float]:
    """Per arm, the sum of the rewards learned (``b`` at the bias feature, which is 1)."""
    bias = Featurizer().fit().vocabulary_[BIAS]
    sums = {}
    for arm in ARMS:
        stats = store.get_stats(f"model:{slot}:{arm}")
        sums[arm] = float(stats["b"][bias]) if "b" in stats else 0.0
    return sums
