"""Requests per second through gunicorn: bare vs wrapped, with 1 and 2 workers.

Six gunicorn servers run side by side, all serving the same 20 KB page with 3
slot markers (``benchmarks/throughput_site.py``): bare with 1 and 2 sync
workers, wrapped by ``Personalize(app)`` (the demo shop's rules, every
guardrail on, its own SQLite file, the embedded default) with 1 and 2, and the
peer, the slots filled by GrowthBook's Python SDK, with 1 and 2. Load
comes from ``wrk`` when it is installed (``apt-get install wrk``), else from a
small Python generator with threads (slower: it shares the CPU with the
servers, so its figures are lower and noisier); ``load_generator`` in the
output says which. Visitors are 1000 returning, consenting visitors with a mix
of browsers, their cookies rotated request by request. The servers are
measured in turn, round after round, so machine noise hits all alike; each
figure is the median over rounds.

    python -m benchmarks.throughput [--quick] [--json]

Figures: ``bare_rps_1``, ``wrapped_rps_1``, ``bare_rps_2``, ``wrapped_rps_2``,
``ratio_1`` and ``ratio_2`` (wrapped / bare; target ≥ 0.85); for the peer
``growthbook_rps_N``, ``growthbook_ratio_N`` (GrowthBook / bare) and
``wrapped_vs_growthbook_N`` (wrapped / GrowthBook). Without the ``growthbook``
package the peer is skipped and ``skipped`` says so.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks._harness import parse_args, report
from benchmarks.throughput_site import SECRET, growthbook_skipped, page, visitors
from personalize.context.visitor import VisitorIds
from tests.support.servers import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 8


# -- servers ----------------------------------------------------------------------------


class Server:
    """One gunicorn serving the site in one mode with some workers."""

    def __init__(self, mode: str, workers: int, tmp: Path) -> None:
        self.mode, self.workers, self.port = mode, workers, free_port()
        self.log = tmp / f"{mode}-{workers}.log"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PZ_BENCH_MODE": mode,
               "PZ_BENCH_STORE": f"sqlite:///{tmp / f'{mode}-{workers}.db'}"}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class",
                 "sync", "--bind", f"127.0.0.1:{self.port}", "--backlog", "256",
                 "--log-level", "warning", "benchmarks.throughput_site:app"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 90.0) -> None:
        wait_until_serving(self.port, self.process, self.log, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def servers(tmp: Path, modes: tuple[str, ...]) -> Iterator[dict[tuple[str, int], Server]]:
    started = {(mode, n): Server(mode, n, tmp) for n in (1, 2) for mode in modes}
    try:
        for server in started.values():
            server.wait()
        yield started
    finally:
        for server in started.values():
            server.stop()


# -- load -------------------------------------------------------------------------------


def wrk_script(tmp: Path, people: list[tuple[str, str]]) -> Path:
    """A wrk Lua script sending the visitors' cookies and browsers in turn."""
    rows = ",\n".join(f"  {{{json.dumps(cookie)}, {json.dumps(ua)}}}" for cookie, ua in people)
    script = tmp / "visitors.lua"
    script.write_text(
        f"local visitors = {{\n{rows}\n}}\n"
        "local i = math.random(#visitors)\n"
        "request = function()\n"
        "  i = i % #visitors + 1\n"
        '  return wrk.format("GET", "/", {["Cookie"] = visitors[i][1], '
        '["User-Agent"] = visitors[i][2]})\n'
        "end\n")
    return script


def run_wrk(port: int, seconds: float, script: Path) -> tuple[float, int]:
    """Requests per second, and responses that were errors, from one wrk run."""
    done = subprocess.run(
        ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds:.0f}s", "-s", str(script),
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=seconds + 30,
        check=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output:\n{done.stdout}\n{done.stderr}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    return float(rps.group(1)), int(bad.group(1)) if bad else 0


def run_threads(port: int, seconds: float, people: list[tuple[str, str]]) -> tuple[float, int]:
    """The same as :func:`run_wrk` from Python threads, one connection per request."""
    counts = [0, 0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(offset: int) -> None:
        i, ok, bad = offset, 0, 0
        while time.monotonic() < deadline:
            cookie, ua = people[i % len(people)]
            i += CONNECTIONS
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Cookie": cookie, "User-Agent": ua})
                answer = conn.getresponse()
                answer.read()
                ok, bad = (ok + 1, bad) if answer.status < 400 else (ok, bad + 1)
            except (OSError, http.client.HTTPException):
                bad += 1
            finally:
                conn.close()
        with lock:
            counts[0] += ok
            counts[1] += bad

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(CONNECTIONS)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts[0] / (time.monotonic() - start), counts[1]


def main() -> None:
    args = parse_args(__doc__ or "")
    rounds, seconds, warmup = (2, 2.0, 1.0) if args.quick else (5, 8.0, 4.0)
    people = visitors(VisitorIds(SECRET).sign)
    use_wrk = shutil.which("wrk") is not None
    skipped = growthbook_skipped()
    peer = not skipped
    modes = ("bare", "wrapped", "growthbook") if peer else ("bare", "wrapped")
    rps: dict[tuple[str, int], list[float]] = {}
    errors = 0
    with tempfile.TemporaryDirectory(prefix="pz-throughput-") as name:
        tmp = Path(name)
        script = wrk_script(tmp, people)

        def load(port: int, duration: float) -> tuple[float, int]:
            if use_wrk:
                return run_wrk(port, duration, script)
            return run_threads(port, duration, people)

        with servers(tmp, modes) as running:
            for server in running.values():  # warm-up: imports, caches, profiles, files
                load(server.port, warmup)
            for _ in range(rounds):
                for key, server in running.items():
                    figure, bad = load(server.port, seconds)
                    rps.setdefault(key, []).append(figure)
                    errors += bad
    median = {key: statistics.median(values) for key, values in rps.items()}
    figures = {
        "load_generator": "wrk" if use_wrk else "python-threads",
        "page_bytes": len(page()),
        "slots": 3,
        "rounds": rounds,
        "seconds_per_run": seconds,
        "error_responses": errors,
        "bare_rps_1": round(median["bare", 1], 1),
        "wrapped_rps_1": round(median["wrapped", 1], 1),
        "bare_rps_2": round(median["bare", 2], 1),
        "wrapped_rps_2": round(median["wrapped", 2], 1),
        "ratio_1": round(median["wrapped", 1] / median["bare", 1], 3),
        "ratio_2": round(median["wrapped", 2] / median["bare", 2], 3),
    }
    if peer:
        for n in (1, 2):
            figures[f"growthbook_rps_{n}"] = round(median["growthbook", n], 1)
            figures[f"growthbook_ratio_{n}"] = round(median["growthbook", n] / median["bare", n],
                                                     3)
            figures[f"wrapped_vs_growthbook_{n}"] = round(
                median["wrapped", n] / median["growthbook", n], 3)
    figures["skipped"] = skipped
    report("throughput: gunicorn sync workers, 20 KB page, 3 slots, returning consenting "
           "visitors, SQLite store", figures, as_json=args.json)


if __name__ == "__main__":
    main()
