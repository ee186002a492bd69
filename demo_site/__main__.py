"""``python -m demo_site``: seed the demo on first run, then serve it on http://127.0.0.1:5000.

The first run finds no ``var/personalize.db`` and fills it by simulating
visitors over the past few days (see :mod:`personalize.simulation`), so the
bandit has learned something and the review dashboard has a story to tell —
including the fake countdown the experience monitor paused. Later runs serve
the same database. Delete ``var/personalize.db`` to seed afresh.

Environment: ``PERSONALIZE_REVIEW_PASSWORD`` (else a random one is printed),
``PAAHTIMO_SEED_VISITORS`` (default 2000), ``PORT`` (default 5000).
"""

from __future__ import annotations

import os
import secrets
import sys
import time

from personalize.simulation import simulate

from .app import ROOT, create_app

DATABASE = ROOT / "var" / "personalize.db"
HOST = "127.0.0.1"


def seed(visitors: int, days: float = 3.0) -> None:
    """Fill ``var/personalize.db`` with ``visitors`` simulated over the last ``days``."""
    print(f"First run: simulating {visitors} visitors over the last {days:g} days "
          f"into {DATABASE.relative_to(ROOT)} …", flush=True)
    started = time.perf_counter()
    temporary = DATABASE.with_name(DATABASE.name + ".seeding")
    for leftover in DATABASE.parent.glob(temporary.name + "*"):
        leftover.unlink()
    summary = simulate(create_app, visitors=visitors, days=days,
                       store=f"sqlite:///{temporary}", seed=2026)
    # moved into place only when complete, so an interrupted seed is redone next time;
    # the store was closed cleanly, so SQLite has folded its -wal file into the database
    for suffix in ("-wal", "-shm"):
        side = temporary.with_name(temporary.name + suffix)
        if side.exists():
            side.rename(DATABASE.with_name(DATABASE.name + suffix))
    temporary.rename(DATABASE)
    print(summary.text())
    print(f"Seeded in {time.perf_counter() - started:.1f} s.\n", flush=True)


def main() -> None:
    """Seed if needed, then serve the shop and its review dashboard."""
    DATABASE.parent.mkdir(parents=True, exist_ok=True)
    if not DATABASE.exists():
        seed(int(os.environ.get("PAAHTIMO_SEED_VISITORS", "2000")))
    password = os.environ.get("PERSONALIZE_REVIEW_PASSWORD") or secrets.token_urlsafe(12)
    port = int(os.environ.get("PORT", "5000"))
    app = create_app({"PERSONALIZE_REVIEW_PASSWORD": password})
    print(f"Paahtimo demo shop:  http://{HOST}:{port}/")
    print(f"Review dashboard:    http://{HOST}:{port}/review/  (password: {password})")
    if "PERSONALIZE_REVIEW_PASSWORD" not in os.environ:
        print("                     set PERSONALIZE_REVIEW_PASSWORD to choose your own")
    sys.stdout.flush()
    app.run(host=HOST, port=port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
