"""The small Flask site the scale and fault tests run under gunicorn.

::

    PZ_TEST_STORE=redis://127.0.0.1:6379/0 gunicorn -w 4 tests.scale.scale_app:app

It reads its settings from the environment, so each test picks its store:

=========================  ==================================================
``PZ_TEST_STORE``          the store URL (required)
``PZ_TEST_REWARD_WINDOW``  seconds a decision waits for its reward (default 1)
=========================  ==================================================

``/`` shows one slot, ``hero`` (see ``rules/site.yaml``). ``/healthz/learning``
is skipped by the middleware (no decision, so it never syncs by itself) and
reports this worker's learning state as JSON; ``?sync=1`` first runs the
engine's sync, ``?flush=1`` first flushes the store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template_string, request

from personalize.exceptions import StoreError
from personalize.integrations.flask import Personalize
from personalize.store import BufferedStore, Store

RULES = Path(__file__).resolve().parent / "rules"
PAGE = """<!doctype html><html><head><title>Scale test</title></head>
<body>{{ personalize.slot("hero") }}<p>A small page.</p></body></html>"""


def create_app(store: Store | str | None = None) -> Flask:
    """The site, configured from ``PZ_TEST_*`` environment variables.

    :param store: a store or URL to use instead of ``PZ_TEST_STORE`` (in-process tests).
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="scale-test-secret-not-for-production",
        PERSONALIZE_RULES=str(RULES),
        PERSONALIZE_STORE=os.environ["PZ_TEST_STORE"] if store is None else store,
        PERSONALIZE_REWARD_WINDOW=float(os.environ.get("PZ_TEST_REWARD_WINDOW", "1.0")),
    )
    Personalize(app)

    @app.get("/")
    def home() -> str:
        return render_template_string(PAGE)

    @app.get("/healthz/learning")
    def learning() -> dict[str, Any]:
        engine = Personalize.engine()
        errors = []
        try:
            if request.args.get("flush"):
                engine.store.flush()
            if request.args.get("sync"):
                engine.sync()
        except StoreError as err:
            errors.append(str(err))
        model_n: dict[str, int] = {}
        if "hero" in engine.learner.policies:
            policy, lock = engine.learner.policy("hero")
            statistics = getattr(policy, "statistics", None)
            with lock:
                for arm in getattr(policy, "arms_", []) if statistics else []:
                    model_n[arm] = int(statistics(arm)["n"])
        store = engine.store
        return {
            "pid": os.getpid(),
            "learned": engine.learner.counts["learned"],
            "pending": engine.learner.pending_count,
            "model_n": model_n,
            "counters": dict(engine.counters),
            "buffer": dict(store.counts) if isinstance(store, BufferedStore) else {},
            "buffer_pending": store.pending if isinstance(store, BufferedStore) else 0,
            "errors": errors,
        }

    return app


if "PZ_TEST_STORE" in os.environ:  # under gunicorn; in-process tests call create_app
    app = create_app()
