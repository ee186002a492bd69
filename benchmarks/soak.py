"""A soak test: the demo shop under gunicorn at a fixed request rate for a long time.

    python -m benchmarks.soak [--duration SECONDS | --quick] [--rate N] [--workers N] [--json]

The demo runs under gunicorn (``gthread`` workers) on a free loopback port with a
SQLite store in a temporary directory, and this process sends it a fixed rate of
requests (open loop: request *k* is due at ``k / rate`` seconds, whatever the
answers before it took). The mix is what a live shop sees:

* pages for returning visitors who consented (a profile is read and written,
  exposures are logged), for anonymous visitors (no consent: rules only), and
  for visitors whose browser sends Do-Not-Track;
* click and dwell events quoting decision ids taken from those pages, some of
  them sent twice (a replay, answered 409);
* forged events (403) and "why am I seeing this?" pages.

Figures:

- ``requests``, ``rate_achieved``: sent, and sent per second.
- ``errors``: answers outside what each request expects (any 5xx, a refused
  page, a connection error or a timeout); ``error_samples`` lists a few.
- ``late_share``: requests sent more than 100 ms after they were due (the load
  generator fell behind; the rate figure is then optimistic).
- ``p50_ms``, ``p99_ms``, ``max_ms``: latency of every request, from sending to
  the last byte.
- ``rss_start_mb``, ``rss_end_mb``, ``rss_growth_pct``: the workers' summed
  resident memory after the warm-up and at the end (``/proc/PID/status``
  ``VmRSS``, or psutil when installed); the target is at most 10 % growth.
- ``rss_trend_mb``: about ten evenly spaced samples of that sum, start to end,
  to tell a warm-up that levels off from a leak that keeps climbing.
- ``worker_restarts``: worker processes that gunicorn had to replace.
- ``server_errors_logged``: ERROR lines in gunicorn's log (fail-opens included).

Exits 1 when there were errors, a worker restart, or memory grew past the target.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.servers import free_port, wait_until_serving

from ._harness import percentile, report

ROOT = Path(__file__).resolve().parent.parent
RSS_TARGET_PCT = 10.0
_DECISION = re.compile(rb'data-personalize-decision="([^"]+)"')
_UAS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
)
_REFERRERS = ("", "https://www.google.com/", "https://www.facebook.com/", "https://chatgpt.com/")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The soak's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of load (default 600)")
    parser.add_argument("--quick", action="store_true", help="45 seconds instead")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--visitors", type=int, default=500,
                        help="returning visitors simulated (each keeps its cookie)")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON object on the last line")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 45.0
    if args.duration <= 0 or args.rate <= 0 or args.workers < 1 or args.threads < 1:
        parser.error("--duration, --rate, --workers and --threads must be positive")
    return args


# -- the server ----------------------------------------------------------------

class Gunicorn:
    """The demo under gunicorn, started and stopped by this benchmark."""

    def __init__(self, tmp: Path, *, workers: int, threads: int) -> None:
        self.port = free_port()
        self.log = tmp / "gunicorn.log"
        store = f"sqlite:///{tmp / 'personalize.db'}"
        spec = f"demo_site.app:create_app({{'PERSONALIZE_STORE': {store!r}}})"
        env = {**os.environ, "PERSONALIZE_SECRET": "soak-" + "s" * 40,
               "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads),
             "--worker-class", "gthread", "--chdir", str(ROOT), "--timeout", "30",
             "--error-logfile", str(self.log), "--log-level", "warning", spec],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        """Return once the home page answers and every worker is up."""
        try:
            wait_until_serving(self.port, self.process, self.log, timeout=timeout,
                               ready=lambda: len(self.workers()) >= workers)
        except RuntimeError:
            self.stop()
            raise

    def workers(self) -> list[int]:
        """Process ids of the master's children (the workers)."""
        pid = self.process.pid
        children: list[int] = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as file:
                    children.extend(int(c) for c in file.read().split())
        except OSError:
            return []
        return sorted(children)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not exit within 30 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def errors_logged(self) -> int:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return sum(1 for line in text.splitlines() if "[ERROR]" in line or " ERROR " in line)


def rss_kb(pid: int) -> int:
    """Resident memory of one process in KiB (psutil when installed, else /proc)."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        try:
            with open(f"/proc/{pid}/status") as file:
                for line in file:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return 0
        return 0
    try:
        return int(psutil.Process(pid).memory_info().rss // 1024)
    except psutil.Error:
        return 0


# -- the load --------------------------------------------------------------------

@dataclass
class Tally:
    """What the load generator saw; shared by its threads under one lock."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    late: int = 0
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int | str, seconds: float, ok: bool, late: bool) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[f"{kind}:{status}"] += 1
            self.late += late
            if not ok:
                self.errors += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{kind} -> {status}")


class Visitors:
    """Returning visitors (a cookie jar each) and the decision ids they were shown."""

    def __init__(self, count: int, seed: int) -> None:
        self.cookies: list[str] = ["" for _ in range(count)]
        self.decisions: list[list[str]] = [[] for _ in range(count)]
        #: bodies of events already answered 202, to send again as replays
        self.reported: list[list[bytes]] = [[] for _ in range(count)]
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def pick(self) -> int:
        with self.lock:
            return self.random.randrange(len(self.cookies))


_EXPECTED = {
    "page": {200}, "anonymous": {200}, "dnt": {200},
    "event": {202, 403, 409, 429}, "replay": {409, 429}, "forged": {403, 429},
    "why": {200, 403, 404},
}


class Load:
    """Sends the request mix at a fixed rate from a pool of threads."""

    def __init__(self, port: int, rate: float, duration: float, visitors: Visitors) -> None:
        self.port = port
        self.rate = rate
        self.total = int(rate * duration)
        self.visitors = visitors
        self.tally = Tally()
        self._tickets = itertools.count()
        self._start = 0.0

    def run(self, threads: int = 16) -> None:
        self._start = time.monotonic()
        pool = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    def _worker(self, index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        chooser = random.Random(index)
        while True:
            ticket = next(self._tickets)
            if ticket >= self.total:
                break
            due = self._start + ticket / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            late = time.monotonic() - due > 0.1
            conn = self._one(conn, chooser, late)
        conn.close()

    def _one(self, conn: http.client.HTTPConnection, chooser: random.Random,
             late: bool) -> http.client.HTTPConnection:
        roll = chooser.random()
        visitor = self.visitors.pick()
        headers = {"User-Agent": chooser.choice(_UAS)}
        body: bytes | None = None
        token = ""
        method, path = "GET", "/"
        if roll < 0.45:
            kind = "page"
            headers["Cookie"] = f"paahtimo_consent=yes; {self.visitors.cookies[visitor]}"
            referrer = chooser.choice(_REFERRERS)
            if referrer:
                headers["Referer"] = referrer
        elif roll < 0.60:
            kind = "anonymous"
        elif roll < 0.65:
            kind = "dnt"
            headers["DNT"] = "1"
        elif roll < 0.95:
            kind, token, body = self._event(visitor, chooser, roll)
            method, path = ("GET", f"/_personalize/why?d={token}") if kind == "why" else (
                "POST", "/_personalize/events")
            headers["Cookie"] = self.visitors.cookies[visitor]
            if kind != "why":
                headers["Content-Type"] = "application/json"
        else:
            kind, method, path = "forged", "POST", "/_personalize/events"
            body = _json({"type": "click", "decision": "Zm9yZ2Vk.AAAAAAAAAAAAAAAAAAAAAA"})
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status: int | str = response.status
            cookie = response.getheader("Set-Cookie") or ""
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.tally.add(kind, type(err).__name__, time.perf_counter() - start, False, late)
            return conn
        elapsed = time.perf_counter() - start
        if kind == "page" and status == 200:
            self._remember(visitor, cookie, data)
        elif kind == "event" and status == 202:
            # replayed only once the first report is answered, or the two would race
            with self.visitors.lock:
                reported = self.visitors.reported[visitor]
                reported.append(body or b"")
                del reported[:-8]
        self.tally.add(kind, status, elapsed, status in _EXPECTED[kind], late)
        return conn

    def _event(self, visitor: int, chooser: random.Random,
               roll: float) -> tuple[str, str, bytes | None]:
        """``(kind, decision id, body)`` of an event or why-page request for ``visitor``."""
        with self.visitors.lock:
            shown = self.visitors.decisions[visitor]
            reported = self.visitors.reported[visitor]
            if roll < 0.80 and shown:
                token = shown.pop()
                event = {"type": "click", "decision": token} if chooser.random() < 0.5 else {
                    "type": "dwell", "decision": token, "value": chooser.randint(1, 300)}
                return "event", token, _json(event)
            if roll < 0.88 and shown:
                return "why", shown[-1], None
            if reported:
                return "replay", "", reported[-1]
        return "forged", "", _json({"type": "click", "decision": "bm90.AAAAAAAAAAAAAAAAAAAAAA"})

    def _remember(self, visitor: int, set_cookie: str, page: bytes) -> None:
        ids = [m.decode() for m in _DECISION.findall(page)]
        with self.visitors.lock:
            if set_cookie.startswith("pz_vid="):
                self.visitors.cookies[visitor] = set_cookie.split(";", 1)[0]
            shown = self.visitors.decisions[visitor]
            shown.extend(ids)
            del shown[:-8]


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


# -- the run -----------------------------------------------------------------------

def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run the soak and return its figures."""
    with tempfile.TemporaryDirectory(prefix="pz-soak-") as tmp:
        server = Gunicorn(Path(tmp), workers=args.workers, threads=args.threads)
        try:
            server.wait_ready(args.workers)
            first_workers = set(server.workers())
            load = Load(server.port, args.rate, args.duration, Visitors(args.visitors, seed=7))
            warmup = min(60.0, max(10.0, args.duration * 0.1))
            samples: list[tuple[float, int]] = []
            seen_workers = set(first_workers)
            stop = threading.Event()

            def sample_memory() -> None:
                started = time.monotonic()
                while not stop.wait(2.0):
                    pids = server.workers()
                    seen_workers.update(pids)
                    samples.append((time.monotonic() - started, sum(rss_kb(p) for p in pids)))

            sampler = threading.Thread(target=sample_memory, daemon=True)
            sampler.start()
            began = time.monotonic()
            load.run()
            elapsed = time.monotonic() - began
            stop.set()
            sampler.join()
            end_workers = server.workers()
            seen_workers.update(end_workers)
        finally:
            server.stop()
        errors_logged = server.errors_logged()
    tally = load.tally
    after_warmup = [kb for at, kb in samples if at >= warmup] or [kb for _, kb in samples]
    start_kb = after_warmup[0] if after_warmup else 0
    end_kb = after_warmup[-1] if after_warmup else 0
    latencies = [s * 1000 for s in tally.latencies]
    return {
        "duration_s": round(elapsed, 1),
        "rate_target": args.rate,
        "requests": len(latencies),
        "rate_achieved": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "errors": tally.errors,
        "error_samples": tally.samples,
        "late_share": round(tally.late / max(1, len(latencies)), 4),
        "p50_ms": round(percentile(latencies, 50), 2) if latencies else 0.0,
        "p99_ms": round(percentile(latencies, 99), 2) if latencies else 0.0,
        "max_ms": round(max(latencies), 2) if latencies else 0.0,
        "statuses": dict(sorted(tally.statuses.items())),
        "workers": args.workers,
        "rss_start_mb": round(start_kb / 1024, 1),
        "rss_peak_mb": round(max((kb for _, kb in samples), default=0) / 1024, 1),
        "rss_end_mb": round(end_kb / 1024, 1),
        "rss_growth_pct": round((end_kb - start_kb) / start_kb * 100, 2) if start_kb else 0.0,
        "rss_warmup_s": warmup,
        "rss_trend_mb": [round(kb / 1024, 1) for _, kb in samples[::max(1, len(samples) // 10)]],
        "worker_restarts": len(seen_workers - first_workers),
        "server_errors_logged": errors_logged,
    }


def main(argv: list[str] | None = None) -> int:
    """Run, print the figures, and exit 1 when the soak found a problem."""
    args = parse_args(argv)
    figures = soak(args)
    report(f"soak: {args.rate:g} req/s for {args.duration:g} s against the demo under gunicorn",
           figures, as_json=args.json)
    failed = (figures["errors"] or figures["worker_restarts"]
              or figures["rss_growth_pct"] > RSS_TARGET_PCT)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
