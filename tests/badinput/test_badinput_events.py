"""Events a client should not be able to slip in, through the whole demo app.

Forged, expired and replayed decision ids, oversized bodies, floods and
malformed requests are each refused with their own status, and none is ever
answered with a 5xx.
"""

from __future__ import annotations

import base64
import json

import pytest

from personalize.decision import DecisionSigner
from tests.badinput.demo_kit import Demo, Page, visitor_id

EVENTS = "/_personalize/events"


def shown(demo: Demo) -> tuple[str, dict[str, str]]:
    """A consenting visitor's cookie and the decision ids of their first page."""
    page = demo.get("/")
    assert page.status == 200 and page.visitor_cookie and page.decisions
    return page.visitor_cookie, page.decisions


def send(demo: Demo, cookie: str, event: object, **kw: object) -> Page:
    return demo.post(EVENTS, json.dumps(event), cookie=cookie, **kw)  # type: ignore[arg-type]


def refusal(page: Page) -> str:
    assert page.status < 500
    body = json.loads(page.body)
    assert set(body) == {"error", "message"} and body["message"]
    return str(body["error"])


def _reforge(token: str, variant: str) -> str:
    """The same signature over a payload that names another variant."""
    body, mac = token.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("|")
    payload[2] = variant
    forged = base64.urlsafe_b64encode("|".join(payload).encode()).rstrip(b"=").decode()
    return f"{forged}.{mac}"


@pytest.mark.parametrize("forge", [
    pytest.param(lambda t, v: t[:-4] + ("AAAA" if not t.endswith("AAAA") else "BBBB"),
                 id="signature-altered"),
    pytest.param(lambda t, v: _reforge(t, "hero-joulu"), id="payload-names-another-variant"),
    pytest.param(lambda t, v: DecisionSigner("another-site-secret-" + "x" * 20)
                 .sign(v, "hero", "hero-default"), id="signed-with-another-secret"),
    pytest.param(lambda t, v: t.split(".")[0], id="signature-missing"),
    pytest.param(lambda t, v: "not-a-token", id="garbage"),
])
def test_forged_decision_ids_are_refused_403(demo: Demo, forge: object) -> None:
    cookie, decisions = shown(demo)
    forged = forge(decisions["hero"], visitor_id(cookie))  # type: ignore[operator]
    page = send(demo, cookie, {"type": "click", "decision": forged})
    assert page.status == 403
    assert refusal(page) == "bad_token"
    assert not list(demo.engine.store.read_log(types=["click"]))


def test_an_expired_decision_id_is_refused_403(demo: Demo) -> None:
    cookie, decisions = shown(demo)
    demo.clock.advance(demo.engine.signer.max_age + 60)
    page = send(demo, cookie, {"type": "click", "decision": decisions["hero"]})
    assert page.status == 403
    assert refusal(page) == "expired_token"


def test_a_replayed_event_is_refused_409_and_counted_once(demo: Demo) -> None:
    cookie, decisions = shown(demo)
    event = {"type": "click", "decision": decisions["hero"]}
    first = send(demo, cookie, event)
    again = send(demo, cookie, event)
    assert first.status == 202 and json.loads(first.body) == {"accepted": 1}
    assert again.status == 409
    assert refusal(again) == "replay"
    assert len(list(demo.engine.store.read_log(types=["click"]))) == 1


def test_another_visitors_decision_is_refused_403(demo: Demo) -> None:
    _, theirs = shown(demo)
    mine, _ = shown(demo)
    page = send(demo, mine, {"type": "click", "decision": theirs["hero"]})
    assert page.status == 403
    assert refusal(page) == "visitor_mismatch"


@pytest.mark.parametrize("chunked", [pytest.param(False, id="declared-length"),
                                     pytest.param(True, id="chunked")])
def test_an_oversized_body_is_refused_413(demo: Demo, chunked: bool) -> None:
    cookie, decisions = shown(demo)
    body = json.dumps({"type": "feedback", "decision": decisions["hero"], "value": -1,
                       "reason": "x" * 5000})
    environ = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
               "wsgi.input_terminated": True} if chunked else None
    page = demo.post(EVENTS, body, cookie=cookie, environ=environ)
    assert page.status == 413
    assert refusal(page) == "too_large"


def test_a_flood_from_one_visitor_is_refused_429_with_retry_after(demo: Demo) -> None:
    cookie, _ = shown(demo)
    visitor = visitor_id(cookie)
    signer = demo.engine.signer
    statuses = []
    for i in range(30):  # the intake allows 20 events per 10 s per visitor
        token = signer.sign(visitor, "hero", "hero-default", issued_at=demo.clock() - i)
        statuses.append(send(demo, cookie, {"type": "click", "decision": token}).status)
    assert statuses[:20] == [202] * 20
    assert set(statuses[20:]) == {429}
    token = signer.sign(visitor, "hero", "hero-default", issued_at=demo.clock() - 99)
    flooded = send(demo, cookie, {"type": "click", "decision": token})
    assert flooded.status == 429 and refusal(flooded) == "rate_limited"
    assert int(flooded.headers["Retry-After"]) >= 1
    demo.clock.advance(10)
    assert send(demo, cookie, {"type": "click", "decision": token}).status == 202


MALFORMED = [
    pytest.param(b"{not json", "application/json", 400, "bad_json", id="not-json"),
    pytest.param(b"\xff\xfe\x00", "application/json", 400, "bad_json", id="not-utf8"),
    pytest.param(b'{"type": "dwell", "decision": "d", "value": NaN}', "application/json",
                 400, "bad_json", id="nan"),
    pytest.param(b'{"type": "click", "type": "click"}', "application/json", 400, "bad_json",
                 id="repeated-key"),
    pytest.param(b"[" * 2000 + b"]" * 2000, "application/json", 400, "bad_json",
                 id="deeply-nested"),
    pytest.param(b"[]", "application/json", 400, "bad_event", id="not-an-object"),
    pytest.param(b'{"events": []}', "application/json", 400, "bad_event", id="no-events"),
    pytest.param(b'{"type": "click"}', "application/json", 400, "bad_event",
                 id="no-decision"),
    pytest.param(b'{"type": "purchase", "decision": "x.y"}', "application/json", 400,
                 "unknown_type", id="unknown-type"),
    pytest.param(b'{"type": "click", "decision": "x.y", "admin": true}', "application/json",
                 400, "bad_event", id="unknown-key"),
    pytest.param(b'{"type": "click", "decision": "x"}', "application/x-www-form-urlencoded",
                 415, "unsupported_media_type", id="form-encoded"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code"), MALFORMED)
def test_malformed_bodies_are_refused_with_a_4xx(demo: Demo, body: bytes, content_type: str,
                                                  status: int, code: str) -> None:
    cookie, _ = shown(demo)
    page = demo.post(EVENTS, body, cookie=cookie, content_type=content_type)
    assert (page.status, refusal(page)) == (status, code)


@pytest.mark.parametrize(("value", "code"), [
    pytest.param(2, "bad_value", id="feedback-not-plus-or-minus-one"),
    pytest.param("1", "bad_value", id="value-as-text"),
    pytest.param(1e400, "bad_value", id="infinite"),
])
def test_out_of_range_values_are_refused_400(demo: Demo, value: object, code: str) -> None:
    cookie, decisions = shown(demo)
    raw = json.dumps({"type": "feedback", "decision": decisions["hero"], "value": value})
    page = demo.post(EVENTS, raw.replace("Infinity", "1e400"), cookie=cookie)
    assert (page.status, refusal(page)) == (400, code)


@pytest.mark.parametrize(("method", "environ", "status"), [
    pytest.param("GET", {}, 405, id="get"),
    pytest.param("PUT", {}, 405, id="put"),
    pytest.param("POST", {"CONTENT_LENGTH": "abc"}, 400, id="bad-content-length"),
    pytest.param("POST", {"CONTENT_LENGTH": "-5"}, 400, id="negative-content-length"),
    pytest.param("POST", {"CONTENT_LENGTH": "99999999"}, 413, id="huge-content-length"),
])
def test_malformed_requests_are_refused_never_500(demo: Demo, method: str,
                                                  environ: dict[str, str], status: int) -> None:
    response = demo.client.open(EVENTS, method=method, data=b'{"type": "click"}',
                                headers={"Content-Type": "application/json"},
                                environ_overrides=environ)
    response.close()
    assert response.status_code == status


@pytest.mark.parametrize(("method", "path", "query", "status"), [
    pytest.param("GET", "/_personalize/why", "", 404, id="why-without-id"),
    pytest.param("GET", "/_personalize/why", "d=%00%ff.%zz", 404, id="why-with-junk"),
    pytest.param("GET", "/_personalize/why", "d=" + "A" * 5000, 404, id="why-with-huge-id"),
    pytest.param("GET", "/_personalize/optout", "", 404, id="optout-by-get"),
    pytest.param("DELETE", "/_personalize/static/beacon.js", "", 404, id="beacon-delete"),
    pytest.param("GET", "/_personalize/../../etc/passwd", "", 404, id="path-traversal"),
])
def test_the_other_endpoints_refuse_bad_requests(demo: Demo, method: str, path: str,
                                                 query: str, status: int) -> None:
    response = demo.client.open(path, method=method, query_string=query)
    response.close()
    assert response.status_code == status


def test_a_why_page_for_another_visitors_decision_is_refused_403(demo: Demo) -> None:
    _, theirs = shown(demo)
    mine, _ = shown(demo)
    page = demo.get(f"/_personalize/why?d={theirs['hero']}", cookie=mine)
    assert page.status == 403


@pytest.mark.parametrize("path", ["/", "/_personalize/optout", "/_personalize/events"])
def test_a_cookie_header_that_is_not_utf8_is_no_error(demo: Demo, path: str) -> None:
    """Header bytes arrive as latin-1 text (PEP 3333); werkzeug's cookie parser
    decodes them as UTF-8 and raises on bytes such as 0xE8."""
    cookie = "basket=caf\xe8; paahtimo_consent=yes"
    if path == "/":
        page = demo.get(path, consent=False, cookie=cookie)
        assert page.status == 200
        assert not any(k.startswith("fail_open") for k in demo.engine.counters)
    else:
        page = demo.post(path, b'{"type": "click", "decision": "x.y"}', cookie=cookie)
        assert page.status in (200, 403)
