"""Metrics wired end to end through the Flask integration (PERSONALIZE_METRICS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from personalize.exceptions import ConfigError
from personalize.integrations.flask import Personalize

RULES = Path(__file__).resolve().parent.parent / "middleware" / "rules"


def make_app(metrics: object) -> Flask:
    app = Flask("metrics-wiring")
    app.config.update(SECRET_KEY="metrics-wiring-secret-0123456789", PERSONALIZE_RULES=str(RULES),
                      PERSONALIZE_STORE="memory://", PERSONALIZE_METRICS=metrics)

    @app.get("/")
    def home() -> str:
        return '<html><div data-personalize-slot="hero">x</div></html>'

    Personalize(app)
    return app


def samples(client: Client, path: str = "/metrics") -> dict[str, float]:
    text = client.get(path).get_data(as_text=True)
    return {f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_pages_and_refused_events_show_up_in_the_scrape() -> None:
    client = Client(make_app(True))
    for _ in range(3):
        client.get("/", buffered=True)
    client.post("/_personalize/events", data=b"{not json", content_type="application/json")
    figures = samples(client)
    assert figures["personalize_request_seconds_count[]"] == 3
    rejected = {k: v for k, v in figures.items() if "bad_json" in k}
    assert list(rejected.values()) == [1]


def test_a_custom_path() -> None:
    client = Client(make_app("/internal/metrics"))
    client.get("/", buffered=True)
    assert samples(client, "/internal/metrics")["personalize_request_seconds_count[]"] == 1
    assert client.get("/metrics").status_code == 404


def test_off_by_default_and_bad_values_refused() -> None:
    assert Client(make_app(False)).get("/metrics").status_code == 404
    with pytest.raises(ConfigError, match="PERSONALIZE_METRICS"):
        make_app("metrics")
