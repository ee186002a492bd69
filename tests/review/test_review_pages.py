"""Every page of the dashboard, rendered through the Flask test client on simulated traffic."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from personalize.engine import Personalizer
from personalize.exceptions import StoreError
from personalize.logjoin import join
from personalize.rules import RuleReloader
from tests.review.review_kit import RULES, Clock, csrf_of, make_app, make_engine, sign_in


@pytest.fixture
def client(shop: Personalizer) -> FlaskClient:
    client = make_app(shop).test_client()
    sign_in(client)
    return client


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:2000]
    assert response.headers["Content-Type"].startswith("text/html")
    return body


def exposures(engine: Personalizer, slot: str, variant: str | None = None) -> int:
    return sum(1 for r in engine.store.read_log(types=["exposure"])
               if r["slot"] == slot and (variant is None or r["variant"] == variant))


def test_overview_shows_every_slot_with_its_figures(client: FlaskClient,
                                                    shop: Personalizer) -> None:
    page = text(client, "/review/?days=7")
    for slot in ("hero", "cta", "promo"):
        assert f"Variants of {slot}: {exposures(shop, slot)} exposures" in page
    row = re.search(r"<th scope=\"row\">hero-night</th><td class=\"n\">(\d+)</td>", page)
    assert row is not None and int(row.group(1)) == exposures(shop, "hero", "hero-night")
    assert page.count("Holdout lift:") == 3


def test_slot_page_has_previews_plots_lift_and_evaluation(client: FlaskClient) -> None:
    page = text(client, "/review/slots/hero?days=7&bucket=hour")
    frames = re.findall(r"<iframe[^>]*>", page)
    assert len(frames) == 3 and all('sandbox=""' in f for f in frames)
    assert "Still up?" in page  # the night banner's HTML, escaped into srcdoc
    assert "&lt;h1&gt;Still up?&lt;/h1&gt;" in page
    assert page.count("<svg") == 4  # share, reward, lift, evaluation
    assert "Traffic share of each hero variant" in page
    for label in ("Default only", "Uniform", "Rules only", "Current bandit"):
        assert label in page
    assert "Personalized decisions earned" in page


def test_a_split_slot_is_evaluated_by_its_weights(client: FlaskClient) -> None:
    page = text(client, "/review/slots/cta")
    assert "A/B split" in page and "Current bandit" not in page
    assert "<button>cta.fresh</button>" not in page  # rendered only inside the sandbox


def test_unknown_slot_is_404(client: FlaskClient) -> None:
    assert "No slot named" in text(client, "/review/slots/nope", status=404)


def test_split_page_reports_rates_and_the_srm_check(client: FlaskClient,
                                                   shop: Personalizer) -> None:
    page = text(client, "/review/splits?days=7")
    assert "Sample ratio" in page and "chi-square" in page
    joined = join(shop.store.read_log())
    split_visitors = {o.visitor for o in joined.exposures
                      if o.slot == "cta" and o.source == "split"}
    assert f"({len(split_visitors)} visitors" in page
    assert page.count("<svg") == 1


def test_guardrails_page_lists_every_report(client: FlaskClient, shop: Personalizer) -> None:
    page = text(client, "/review/guardrails")
    for guardrail in shop.guardrails():
        assert guardrail.name.replace("_", " ") in page
    assert "No variant is paused." in page
    assert '<option value="promo-countdown">promo · promo-countdown</option>' in page
    assert '<option value="hero-default">' not in page  # a default cannot be paused


def test_pause_and_resume_record_who(fresh: Personalizer) -> None:
    client = make_app(fresh).test_client()
    token = sign_in(client, name="Aino")
    response = client.post("/review/guardrails/pause", data={
        "csrf_token": token, "variant": "promo-countdown", "reason": "  A fake\n deadline.  "})
    assert response.headers["Location"] == "/review/guardrails"
    saved = fresh.store.get_state("pause:promo:promo-countdown")
    assert saved is not None and (saved["by"], saved["reason"]) == ("Aino", "A fake deadline.")
    page = text(client, "/review/guardrails")
    assert "Paused promo-countdown in promo." in page and "A fake deadline." in page
    assert "Resume promo-countdown" in page
    decision = fresh.decide(fresh.visit({"PATH_INFO": "/"}).context, "promo")
    assert decision.variant == "promo-shipping"

    client.post("/review/guardrails/resume", data={
        "csrf_token": token, "slot": "promo", "variant": "promo-countdown"})
    assert fresh.store.get_state("pause:promo:promo-countdown") is None
    resumed = fresh.store.get_state("resumed:promo:promo-countdown")
    assert resumed is not None and resumed["by"] == "Aino"
    page = text(client, "/review/guardrails")
    assert "Resumed promo-countdown in promo." in page and "Recently resumed" in page
    assert "No variant is paused." in page


@pytest.mark.parametrize(("form", "notice"), [
    pytest.param({"variant": "promo-countdown", "reason": "   "},
                 "Give a reason for the pause", id="no-reason"),
    pytest.param({"slot": "promo", "variant": "promo-shipping", "reason": "x"},
                 "is the default of promo and cannot be paused", id="a-default"),
])
def test_refused_pauses_say_why(fresh: Personalizer, form: dict[str, str], notice: str) -> None:
    client = make_app(fresh).test_client()
    token = sign_in(client)
    client.post("/review/guardrails/pause", data={"csrf_token": token, **form})
    assert notice in text(client, "/review/guardrails")
    assert fresh.store.list_state("pause:") == {}


def test_pausing_an_unknown_variant_is_a_bad_request(fresh: Personalizer) -> None:
    client = make_app(fresh).test_client()
    token = sign_in(client)
    response = client.post("/review/guardrails/pause", data={
        "csrf_token": token, "variant": "nope", "reason": "x"})
    assert response.status_code == 400


def test_resuming_what_is_not_paused_says_so(fresh: Personalizer) -> None:
    client = make_app(fresh).test_client()
    token = sign_in(client)
    client.post("/review/guardrails/resume", data={
        "csrf_token": token, "slot": "hero", "variant": "hero-night"})
    assert "hero-night in hero was not paused." in text(client, "/review/guardrails")


@pytest.mark.parametrize(("query", "check"), [
    pytest.param("", lambda page: "newest first" in page, id="all"),
    pytest.param("?slot=cta&source=split", lambda page: "→ <code>hero" not in page
                 and "cta</code> → <code>cta-" in page, id="filtered"),
    pytest.param("?q=no-such-words-anywhere", lambda page: "0 decisions found" in page,
                 id="nothing-found"),
])
def test_decisions_page_searches(client: FlaskClient, query: str, check: object) -> None:
    page = text(client, "/review/decisions" + query)
    assert check(page)  # type: ignore[operator]


def test_decisions_page_is_paginated_with_full_reasons(client: FlaskClient,
                                                       shop: Personalizer) -> None:
    total = exposures(shop, "hero") + exposures(shop, "cta") + exposures(shop, "promo")
    first = text(client, "/review/decisions?days=7")
    assert f"{total} decisions found; showing 1–50" in first
    assert first.count('<li class="card decision">') == 50
    assert "Older →" in first and "Newer" not in first
    assert "<ol class=\"reasons\"><li>you are" in first
    last_page = (total + 49) // 50
    last = text(client, f"/review/decisions?days=7&page={last_page}")
    assert last.count('<li class="card decision">') == total - 50 * (last_page - 1)
    assert "← Newer" in last and "Older" not in last


def test_view_as_decides_every_slot_and_records_nothing(client: FlaskClient,
                                                        shop: Personalizer) -> None:
    shop.store.flush()
    before = list(shop.store.read_log())
    pending = shop.learner.pending_count
    page = text(client, "/review/view-as?device=android&time=2026-05-05T23:30"
                        "&tz=Europe/Helsinki&referrer=https://www.google.com/&path=/"
                        "&lang=en&visits=3&bought=weeks&consent=yes")
    assert "hero</code> → <code>hero-night</code>" in page
    assert "Rule &#39;night-owls&#39; shows hero-night" in page
    assert "visit 3, 1 order" in page and "search" in page and "mobile" in page
    assert page.count('<li class="variant">') == 3
    shop.store.flush()
    assert list(shop.store.read_log()) == before
    assert shop.learner.pending_count == pending


def test_view_as_respects_missing_consent(client: FlaskClient) -> None:
    page = text(client, "/review/view-as?device=desktop&consent=dnt&time=2026-05-05T12:00")
    assert "no tracking (dnt)" in page


@pytest.mark.parametrize(("query", "problem"), [
    pytest.param("device=toaster", "Unknown device", id="device"),
    pytest.param("device=desktop&time=2026-13-45T99:99", "Expected a local time", id="time"),
    pytest.param("device=desktop&tz=Mars/Olympus", "Unknown time zone", id="zone"),
    pytest.param("device=desktop&visits=-2", "Visits must be a whole number", id="visits"),
    pytest.param("device=desktop&path=nope", "A page path starts with", id="path"),
])
def test_view_as_explains_bad_input_and_still_renders(client: FlaskClient, query: str,
                                                      problem: str) -> None:
    page = text(client, "/review/view-as?" + query)
    assert problem in page and page.count('<li class="variant">') == 3


def test_view_as_form_alone(client: FlaskClient) -> None:
    page = text(client, "/review/view-as")
    assert "Show what they see" in page and '<li class="variant">' not in page


def test_rules_page_shows_the_loaded_rules(client: FlaskClient, shop: Personalizer) -> None:
    page = text(client, "/review/rules")
    assert shop.ruleset.version in page and "site.yaml" in page
    assert "night-owls" in page and "The rule files on disk are the ones serving." in page


def test_rules_page_shows_a_rejected_edit(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    engine = make_engine("memory://", Clock(), rules=RuleReloader(rules, settle=0.0))
    (rules / "site.yaml").write_text((rules / "site.yaml").read_text().replace(
        "default: hero-default", "default: hero-missing"))
    engine.rules.reload_now()
    assert engine.rules.last_error is not None
    client = make_app(engine).test_client()
    sign_in(client)
    page = text(client, "/review/rules")
    assert "The last edit was rejected" in page and "site.yaml:" in page
    assert engine.ruleset.version in page
    engine.close()


def test_a_store_failure_is_a_503_page(client: FlaskClient, shop: Personalizer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def down(**_: object) -> None:
        raise StoreError("connection refused")
    monkeypatch.setattr(shop.store, "read_log", down)
    page = text(client, "/review/", status=503)
    assert "connection refused" in page


def test_every_form_carries_a_token(client: FlaskClient) -> None:
    for path in ("/review/", "/review/guardrails", "/review/view-as"):
        page = text(client, path)
        posts = re.findall(r'<form method="post"[^>]*>.*?</form>', page, re.S)
        assert posts and all(csrf_of(form) for form in posts)
