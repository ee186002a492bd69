"""The event endpoint through real WSGI: what it accepts, and every way it refuses."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client, TestResponse

from personalize.decision import DecisionSigner
from personalize.exceptions import ConfigError, StoreError
from personalize.store.memory import MemoryStore
from personalize.web.events import Event, EventIntake, events_app

NOW = 1_700_000_000.0
URL = "/_personalize/events"
JSON = "application/json"


def _forge(token: str) -> str:
    """The token with one signature character changed (not the last: padding bits)."""
    return token[:-5] + ("B" if token[-5] == "A" else "A") + token[-4:]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class Site:
    client: Client
    signer: DecisionSigner
    intake: EventIntake
    store: MemoryStore
    clock: Clock
    received: list[Event] = field(default_factory=list)

    def token(self, visitor: str = "v1", slot: str = "hero", variant: str = "calm") -> str:
        return self.signer.sign(visitor, slot, variant)

    def post(self, payload: Any, content_type: str | None = JSON, **kw: Any) -> TestResponse:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = kw.pop("headers", {})
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.client.post(URL, data=data, headers=headers, **kw)


def visitor_header(environ: dict[str, Any]) -> str | None:
    """Stands in for the visitor cookie: the id the request claims to be."""
    value = environ.get("HTTP_X_VISITOR")
    return value if isinstance(value, str) else None


def make_site(sink: Callable[[Event], None] | None = None, **options: Any) -> Site:
    clock = Clock()
    signer = DecisionSigner("test-secret", max_age=86400, clock=clock)
    store = MemoryStore(clock=clock)
    intake = EventIntake(signer, store, clock=clock, **options)
    received: list[Event] = []
    app = events_app(intake, sink or received.append, visitor_id_from_environ=visitor_header)
    return Site(Client(app), signer, intake, store, clock, received)


@pytest.fixture
def site() -> Site:
    return make_site()


def refusal(response: TestResponse) -> tuple[int, str]:
    body = response.get_json()
    assert set(body) == {"error", "message"}
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, body["error"]


@pytest.mark.parametrize(
    ("fields", "value", "reason"),
    [
        pytest.param({"type": "click"}, 1.0, "", id="click"),
        pytest.param({"type": "click", "value": 1}, 1.0, "", id="click-value-1"),
        pytest.param({"type": "conversion", "value": 49.5}, 49.5, "", id="conversion-value"),
        pytest.param({"type": "conversion", "value": 0}, 0.0, "", id="conversion-zero"),
        pytest.param({"type": "conversion"}, 1.0, "", id="conversion-no-value"),
        pytest.param({"type": "dwell", "value": 12.5}, 12.5, "", id="dwell"),
        pytest.param({"type": "dwell", "value": 86400}, 86400.0, "", id="dwell-max"),
        pytest.param({"type": "feedback", "value": 1}, 1.0, "", id="feedback-up"),
        pytest.param({"type": "feedback", "value": -1.0, "reason": " too pushy "}, -1.0,
                     "too pushy", id="feedback-down-reason"),
        pytest.param({"type": "complaint", "reason": "x" * 200}, 1.0, "x" * 200,
                     id="complaint-longest-reason"),
        pytest.param({"type": "bounce"}, 1.0, "", id="bounce"),
    ],
)
def test_accepts_one_event(site: Site, fields: dict[str, Any], value: float,
                           reason: str) -> None:
    token = site.token()
    response = site.post({**fields, "decision": token})
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == JSON
    [event] = site.received
    assert (event.type, event.value, event.reason) == (fields["type"], value, reason)
    assert event.decision_id == token
    assert (event.claims.visitor, event.claims.slot, event.claims.variant) == ("v1", "hero", "calm")
    assert event.received_at == NOW


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        pytest.param(JSON, 202, id="json"),
        pytest.param("application/json; charset=utf-8", 202, id="json-charset"),
        pytest.param("text/plain;charset=UTF-8", 202, id="sendbeacon-string"),
        pytest.param(None, 202, id="none"),
        pytest.param("application/x-www-form-urlencoded", 415, id="form"),
        pytest.param("multipart/form-data; boundary=x", 415, id="multipart"),
        pytest.param("text/html", 415, id="html"),
    ],
)
def test_content_types(site: Site, content_type: str | None, status: int) -> None:
    response = site.post({"type": "click", "decision": site.token()}, content_type)
    assert response.status_code == status
    if status == 415:
        assert refusal(response) == (415, "unsupported_media_type")
        assert site.received == []


Body = Callable[[str], Any]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(lambda d: b"{not json", 400, "bad_json", id="not-json"),
        pytest.param(lambda d: b"", 400, "bad_json", id="empty"),
        pytest.param(lambda d: b'{"type": "click", "type": "dwell"}', 400, "bad_json",
                     id="duplicate-key"),
        pytest.param(lambda d: b'{"type": "dwell", "value": NaN}', 400, "bad_json", id="nan"),
        pytest.param(lambda d: b'{"type": "dwell", "value": Infinity}', 400, "bad_json",
                     id="infinity"),
        pytest.param(lambda d: b'{"type": "\xff"}', 400, "bad_json", id="not-utf8"),
        pytest.param(lambda d: b"[" * 2000 + b"]" * 2000, 400, "bad_json", id="deep-nesting"),
        pytest.param(lambda d: [{"type": "click", "decision": d}], 400, "bad_event",
                     id="bare-list"),
        pytest.param(lambda d: "click", 400, "bad_event", id="bare-string"),
        pytest.param(lambda d: {"events": {"type": "click"}}, 400, "bad_event",
                     id="events-not-list"),
        pytest.param(lambda d: {"events": [], "x": 1}, 400, "bad_event", id="events-extra-key"),
        pytest.param(lambda d: {"events": []}, 400, "bad_event", id="events-empty"),
        pytest.param(lambda d: {"events": [{"type": "click", "decision": d}] * 21}, 400,
                     "too_many_events", id="21-events"),
        pytest.param(lambda d: {"events": [1]}, 400, "bad_event", id="event-not-object"),
        pytest.param(lambda d: {"type": "click", "decison": d}, 400, "bad_event",
                     id="unknown-key"),
        pytest.param(lambda d: {"type": "click"}, 400, "bad_event", id="no-decision"),
        pytest.param(lambda d: {"type": "click", "decision": 5}, 400, "bad_event",
                     id="decision-not-string"),
        pytest.param(lambda d: {"type": "click", "decision": d, "reason": "meh"}, 400,
                     "bad_event", id="reason-on-click"),
        pytest.param(lambda d: {"type": "purchase", "decision": d}, 400, "unknown_type",
                     id="unknown-type"),
        pytest.param(lambda d: {"decision": d}, 400, "unknown_type", id="no-type"),
        pytest.param(lambda d: {"type": 1, "decision": d}, 400, "unknown_type",
                     id="type-not-string"),
        pytest.param(lambda d: {"type": "dwell", "decision": d}, 400, "bad_value",
                     id="dwell-no-value"),
        pytest.param(lambda d: {"type": "dwell", "decision": d, "value": -0.5}, 400,
                     "bad_value", id="dwell-negative"),
        pytest.param(lambda d: {"type": "dwell", "decision": d, "value": 86400.5}, 400,
                     "bad_value", id="dwell-over-a-day"),
        pytest.param(lambda d: {"type": "dwell", "decision": d, "value": "5"}, 400,
                     "bad_value", id="dwell-string"),
        pytest.param(lambda d: {"type": "dwell", "decision": d, "value": True}, 400,
                     "bad_value", id="dwell-bool"),
        pytest.param(lambda d: {"type": "dwell", "decision": d, "value": None}, 400,
                     "bad_value", id="dwell-null"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": 0}, 400,
                     "bad_value", id="feedback-zero"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": 2}, 400,
                     "bad_value", id="feedback-two"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": True}, 400,
                     "bad_value", id="feedback-bool"),
        pytest.param(lambda d: {"type": "feedback", "decision": d}, 400, "bad_value",
                     id="feedback-no-value"),
        pytest.param(lambda d: {"type": "conversion", "decision": d, "value": -1}, 400,
                     "bad_value", id="conversion-negative"),
        pytest.param(lambda d: b'{"type": "conversion", "decision": "%s", "value": 1e999}'
                     % d.encode(), 400, "bad_value", id="conversion-overflows-to-inf"),
        pytest.param(lambda d: b'{"type": "conversion", "decision": "%s", "value": 1%s}'
                     % (d.encode(), b"0" * 400), 400, "bad_value", id="conversion-huge-int"),
        pytest.param(lambda d: {"type": "click", "decision": d, "value": 2}, 400, "bad_value",
                     id="click-value-2"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": 1,
                                "reason": "x" * 201}, 400, "bad_value", id="reason-too-long"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": 1,
                                "reason": "a\x00b"}, 400, "bad_value", id="reason-control"),
        pytest.param(lambda d: {"type": "feedback", "decision": d, "value": 1, "reason": 3},
                     400, "bad_value", id="reason-not-string"),
        pytest.param(lambda d: {"type": "click", "decision": _forge(d)}, 403, "bad_token",
                     id="forged-signature"),
        pytest.param(lambda d: {"type": "click", "decision": "garbage"}, 403, "bad_token",
                     id="garbage-token"),
        pytest.param(lambda d: {"type": "click", "decision": d.split(".")[0] + ".\u00e9t\u00e9"},
                     403, "bad_token", id="non-ascii-signature"),
        pytest.param(lambda d: {"type": "click",
                                "decision": DecisionSigner("other").sign("v1", "hero", "calm",
                                                                         NOW)},
                     403, "bad_token", id="other-secret"),
        pytest.param(lambda d: {"events": [{"type": "click", "decision": d},
                                           {"type": "dwell", "decision": d, "value": -1}]},
                     400, "bad_value", id="one-bad-event-refuses-the-body"),
    ],
)
def test_refuses(site: Site, body: Body, status: int, code: str) -> None:
    response = site.post(body(site.token()))
    assert refusal(response) == (status, code)
    assert site.received == []
    # Nothing was claimed: the same decision's click is still accepted.
    assert site.post({"type": "click", "decision": site.token()}).status_code == 202


def test_expired_token_is_told_apart(site: Site) -> None:
    token = site.token()
    site.clock.now += 86400 + 1
    assert refusal(site.post({"type": "click", "decision": token})) == (403, "expired_token")


@pytest.mark.parametrize(
    ("cookie_visitor", "status"),
    [
        pytest.param(None, 202, id="no-cookie"),
        pytest.param("v1", 202, id="same-visitor"),
        pytest.param("v2", 403, id="other-visitor"),
    ],
)
def test_visitor_cookie_must_match_token(site: Site, cookie_visitor: str | None,
                                         status: int) -> None:
    headers = {} if cookie_visitor is None else {"X-Visitor": cookie_visitor}
    response = site.post({"type": "click", "decision": site.token("v1")}, headers=headers)
    assert response.status_code == status
    if status == 403:
        assert refusal(response) == (403, "visitor_mismatch")


def test_one_event_of_a_type_per_decision(site: Site) -> None:
    token = site.token()
    assert site.post({"type": "click", "decision": token}).status_code == 202
    assert refusal(site.post({"type": "click", "decision": token})) == (409, "replay")
    assert site.post({"type": "dwell", "decision": token, "value": 3}).status_code == 202
    other = site.token(slot="promo")
    batch = {"events": [{"type": "click", "decision": token}, {"type": "click", "decision": other},
                        {"type": "click", "decision": other}]}
    response = site.post(batch)
    assert (response.status_code, response.get_json()) == (202, {"accepted": 1})
    assert [(e.type, e.claims.slot) for e in site.received] == [
        ("click", "hero"), ("dwell", "hero"), ("click", "promo")]


def test_floods_are_rate_limited_per_visitor(site: Site) -> None:
    for n in range(20):
        assert site.post({"type": "click", "decision": site.token(slot=f"s{n}")}).status_code == 202
    response = site.post({"type": "click", "decision": site.token(slot="s20")})
    assert refusal(response) == (429, "rate_limited")
    assert response.headers["Retry-After"] == "1"  # 2 events a second come back
    assert site.post({"type": "click", "decision": site.token("v2")}).status_code == 202
    site.clock.now += 0.5
    assert site.post({"type": "click", "decision": site.token(slot="s20")}).status_code == 202
    batch = {"events": [{"type": "click", "decision": site.token(slot=f"b{n}")}
                        for n in range(20)]}
    response = site.post(batch)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "10")
    site.clock.now += 10
    assert site.post(batch).get_json() == {"accepted": 20}


def test_rate_limiter_forgets_the_least_recent_visitor() -> None:
    site = make_site(rate=1, per=3600, max_visitors=2)
    assert site.post({"type": "click", "decision": site.token("a")}).status_code == 202
    assert site.post({"type": "dwell", "decision": site.token("a"), "value": 1}).status_code == 429
    for visitor in ("b", "c"):
        assert site.post({"type": "click", "decision": site.token(visitor)}).status_code == 202
    # "a" fell out of the two remembered buckets, so it starts afresh.
    assert site.post({"type": "dwell", "decision": site.token("a"), "value": 1}).status_code == 202
    assert site.post({"type": "bounce", "decision": site.token("c")}).status_code == 429


def test_batch_limit_follows_a_lower_rate() -> None:
    site = make_site(rate=5)
    batch = {"events": [{"type": "click", "decision": site.token(slot=f"s{n}")}
                        for n in range(6)]}
    assert refusal(site.post(batch)) == (400, "too_many_events")


def test_types_not_taken_are_refused() -> None:
    site = make_site(accept_types={"click", "dwell", "feedback"})
    response = site.post({"type": "conversion", "decision": site.token(), "value": 5})
    assert refusal(response) == (403, "type_not_allowed")


def test_store_failure_answers_503(site: Site) -> None:
    site.store.close()
    assert refusal(site.post({"type": "click", "decision": site.token()})) == (503, "unavailable")


@pytest.mark.parametrize(
    "error",
    [pytest.param(StoreError("disk full"), id="store-error"),
     pytest.param(RuntimeError("bug"), id="unexpected")],
)
def test_sink_failure_answers_503(error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    def sink(event: Event) -> None:
        raise error

    site = make_site(sink)
    with caplog.at_level(logging.ERROR, logger="personalize.web.events"):
        response = site.post({"type": "click", "decision": site.token()})
    assert refusal(response) == (503, "unavailable")
    assert "event sink failed" in caplog.text


def test_unexpected_error_reading_a_request_answers_400(
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(environ: dict[str, Any]) -> str | None:
        raise RuntimeError("cookie reader bug")

    intake = EventIntake(DecisionSigner("s"), MemoryStore())
    client = Client(events_app(intake, lambda e: None, visitor_id_from_environ=broken))
    with caplog.at_level(logging.ERROR, logger="personalize.web.events"):
        response = client.post(URL, json={"type": "click", "decision": "x.y"})
    assert refusal(response) == (400, "bad_event")
    assert "cookie reader bug" in caplog.text


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_other_methods_get_405(site: Site, method: str) -> None:
    response = site.client.open(URL, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


class Unreadable(io.RawIOBase):
    """An input stream that fails as a dropped connection does."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise OSError("connection reset")


@pytest.mark.parametrize(
    ("stream", "environ", "status", "code"),
    [
        pytest.param(Unreadable(), {"CONTENT_LENGTH": "5000"}, 413, "too_large",
                     id="declared-too-large-is-not-read"),
        pytest.param(io.BytesIO(b"x" * 5000), {"wsgi.input_terminated": True}, 413, "too_large",
                     id="chunked-too-large"),
        pytest.param(io.BytesIO(b"x" * 5000), {"HTTP_TRANSFER_ENCODING": "chunked"}, 413,
                     "too_large", id="transfer-encoding-chunked-too-large"),
        pytest.param(io.BytesIO(b'{"type": "click"}'), {"CONTENT_LENGTH": "abc"}, 400,
                     "bad_length", id="invalid-length"),
        pytest.param(io.BytesIO(b'{"type": "click"}'), {"CONTENT_LENGTH": "-5"}, 400,
                     "bad_length", id="negative-length"),
        pytest.param(io.BytesIO(b'{"type": "click"}'), {}, 400, "bad_json",
                     id="no-length-no-chunking-reads-nothing"),
        pytest.param(Unreadable(), {"CONTENT_LENGTH": "10"}, 400, "bad_body",
                     id="connection-dropped"),
    ],
)
def test_body_reading(site: Site, stream: io.RawIOBase, environ: dict[str, Any], status: int,
                      code: str) -> None:
    overrides = {"wsgi.input": stream, **environ}
    response = site.client.post(URL, content_type=JSON, environ_overrides=overrides)
    assert refusal(response) == (status, code)


def test_chunked_body_within_limit_is_read(site: Site) -> None:
    data = json.dumps({"type": "click", "decision": site.token()}).encode()
    overrides = {"wsgi.input": io.BytesIO(data), "wsgi.input_terminated": True}
    response = site.client.post(URL, content_type=JSON, environ_overrides=overrides)
    assert (response.status_code, response.get_json()) == (202, {"accepted": 1})


def test_large_body_under_the_limit_is_refused_when_max_body_is_lower() -> None:
    site = make_site(max_body=100)
    response = site.post({"type": "feedback", "decision": site.token(), "value": 1,
                          "reason": "x" * 100})
    assert refusal(response) == (413, "too_large")


def test_server_side_report_uses_the_same_checks(site: Site) -> None:
    [event] = site.intake.accept({"type": "conversion", "decision": site.token(), "value": 20})
    assert (event.type, event.value) == ("conversion", 20.0)
    with pytest.raises(Exception, match="already reported") as info:
        site.intake.accept({"type": "conversion", "decision": site.token(), "value": 20})
    assert getattr(info.value, "status", None) == 409


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"max_body": 10}, id="tiny-body"),
        pytest.param({"replay_ttl": 60}, id="replay-ttl-below-token-age"),
        pytest.param({"rate": 0}, id="zero-rate"),
        pytest.param({"per": 0}, id="zero-period"),
        pytest.param({"max_visitors": 0}, id="no-visitors"),
        pytest.param({"accept_types": {"click", "purchase"}}, id="unknown-type"),
    ],
)
def test_bad_configuration_is_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        EventIntake(DecisionSigner("s"), MemoryStore(), **options)


# -- nothing a client sends yields a 500 -------------------------------------

STATUSES = {202, 400, 403, 405, 409, 413, 415, 429, 503}
_FUZZ = make_site()
_TOKEN = _FUZZ.token()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["click", "dwell", "feedback", "conversion", _TOKEN, "x.y"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["type", "decision", "value", "reason", "events", "z"]),
                      inner, max_size=5),
    max_leaves=12,
)


def check_answer(response: TestResponse) -> None:
    assert response.status_code in STATUSES
    body = response.get_json()
    assert set(body) in ({"accepted"}, {"error", "message"})


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PATCH"]),
    body=st.binary(max_size=5000),
    content_type=st.none() | st.sampled_from([JSON, "text/plain", "text/xml"]) | st.text(),
    length=st.none() | st.sampled_from(["", "0", "3", "99999", "x", "-1"]),
)
def test_random_bytes_never_get_a_500(method: str, body: bytes, content_type: str | None,
                                      length: str | None) -> None:
    overrides: dict[str, Any] = {"wsgi.input": io.BytesIO(body),
                                 "CONTENT_LENGTH": str(len(body)) if length is None else length}
    if content_type is not None:
        overrides["CONTENT_TYPE"] = content_type
    check_answer(_FUZZ.client.open(URL, method=method, environ_overrides=overrides))


@settings(max_examples=300, deadline=None)
@given(payload=json_values, visitor=st.none() | st.sampled_from(["v1", "v2"]))
def test_random_json_never_gets_a_500(payload: Any, visitor: str | None) -> None:
    headers = {} if visitor is None else {"X-Visitor": visitor}
    check_answer(_FUZZ.post(json.dumps(payload).encode(), headers=headers))


def test_decision_ids_keep_their_format_and_key() -> None:
    """Ids issued before a deployment must verify after it: the MAC and layout are a contract."""
    token = DecisionSigner("a-secret", clock=lambda: 1000.0).sign("v1", "hero", "hero-sale")
    payload = b"v1|hero|hero-sale|1000.000"
    key = hashlib.sha256(b"personalize.decision|a-secret").digest()
    mac = hashlib.blake2b(payload, key=key, digest_size=16).digest()
    assert token == (base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "."
                     + base64.urlsafe_b64encode(mac).rstrip(b"=").decode())
