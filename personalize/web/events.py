"""The event intake: what browsers and the host report about decisions.

Mount :func:`events_app` at ``/_personalize/events``::

    intake = EventIntake(signer, store)
    app = events_app(intake, sink=record_event, visitor_id_from_environ=visitor_id)

A body is one event or ``{"events": [...]}`` (at most 20)::

    {"type": "feedback", "decision": "<decision id>", "value": -1, "reason": "too pushy"}

Every event quotes a signed decision id, so a browser can report only on a
variant it was shown; each event type counts once per decision; a visitor may
send ``rate`` events per ``per`` seconds. A refusal is an
:class:`~personalize.exceptions.EventError` carrying the HTTP status to answer,
and nothing a client sends makes the endpoint answer 500.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import IO, TYPE_CHECKING, Any

from ..decision import DecisionClaims, DecisionSigner
from ..exceptions import ConfigError, EventError, StoreError, TokenError
from ..signals import EVENT_TYPES
from ..store.base import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_EVENTS_PER_BODY = 20
MAX_REASON_CHARS = 200
MAX_DWELL_SECONDS = 86400.0
_MEDIA_TYPES = frozenset({"application/json", "text/plain"})
_KEYS = frozenset({"type", "decision", "value", "reason"})
_COUNTED = frozenset({"click", "complaint", "bounce"})
_WITH_REASON = frozenset({"feedback", "complaint"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,12}")
_MISSING: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One accepted event about one decision.

    :param type: one of :data:`~personalize.signals.EVENT_TYPES`.
    :param decision_id: the signed decision id the event quotes.
    :param claims: what that id says: visitor, slot, variant, issue time.
    :param value: conversion value (1 when none was sent), dwell seconds,
        feedback ``+1``/``-1``; 1 for click, complaint and bounce.
    :param reason: the visitor's words with feedback or a complaint, if any.
    :param received_at: epoch seconds when the intake accepted it.
    """

    type: str
    decision_id: str
    claims: DecisionClaims
    value: float
    reason: str = ""
    received_at: float


class RateLimitedError(EventError):
    """A visitor sent more events than the rate allows.

    :param retry_after: whole seconds until the events would be accepted.
    """

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, status=429, code="rate_limited")
        self.retry_after = retry_after


class _Buckets:
    """Token buckets per visitor, least recently used forgotten first."""

    def __init__(self, capacity: int, per: float, max_visitors: int) -> None:
        self.capacity = float(capacity)
        self.refill = capacity / per
        self.max_visitors = max_visitors
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, costs: Mapping[str, int], now: float) -> float:
        """Take every visitor's cost, or none; the seconds to wait when refused, else 0."""
        with self._lock:
            levels: dict[str, float] = {}
            wait = 0.0
            for visitor, cost in costs.items():
                level, then = self._levels.get(visitor, (self.capacity, now))
                level = min(self.capacity, level + max(0.0, now - then) * self.refill)
                levels[visitor] = level
                wait = max(wait, (cost - level) / self.refill)
            if wait > 0:
                return wait
            for visitor, cost in costs.items():
                self._levels[visitor] = (levels[visitor] - cost, now)
                self._levels.move_to_end(visitor)
            while len(self._levels) > self.max_visitors:
                self._levels.popitem(last=False)
            return 0.0


class EventIntake:
    """Validates event bodies into :class:`Event` objects, once per decision.

    :param signer: verifies the decision ids events quote.
    :param store: holds the one-shot claims that refuse replays.
    :param max_body: largest body accepted, in bytes.
    :param replay_ttl: seconds a claim lives; at least the signer's ``max_age``,
        or a replay would be accepted again while its token is still valid.
    :param rate: events one visitor may send per ``per`` seconds (a token
        bucket, so short bursts up to ``rate`` pass).
    :param max_visitors: buckets kept in memory; the least recently active
        visitor's bucket is forgotten first.
    :param accept_types: event types this intake takes, e.g. without
        ``conversion`` for an endpoint browsers reach; others are refused 403.
    :param clock: returns epoch seconds; injectable for tests.
    """

    def __init__(
        self,
        signer: DecisionSigner,
        store: Store,
        *,
        max_body: int = 4096,
        replay_ttl: float = 2 * 86400.0,
        rate: int = 20,
        per: float = 10.0,
        max_visitors: int = 10_000,
        accept_types: Collection[str] = EVENT_TYPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_body < 64:
            raise ConfigError("max_body", f"expected at least 64 bytes, got {max_body!r}")
        if not replay_ttl >= signer.max_age:
            raise ConfigError("replay_ttl", f"expected at least the signer's max_age "
                              f"({signer.max_age!r} s), got {replay_ttl!r}")
        if rate < 1 or not per > 0:
            raise ConfigError("rate", f"expected rate >= 1 per > 0 s, got {rate!r} per {per!r}")
        if max_visitors < 1:
            raise ConfigError("max_visitors", f"expected at least 1, got {max_visitors!r}")
        unknown = set(accept_types) - EVENT_TYPES
        if unknown:
            raise ConfigError("accept_types", f"unknown event types {sorted(unknown)!r}; "
                              f"expected some of {sorted(EVENT_TYPES)!r}")
        self.signer = signer
        self.store = store
        self.max_body = max_body
        self.replay_ttl = replay_ttl
        self.max_events = min(MAX_EVENTS_PER_BODY, rate)
        self.accept_types = frozenset(accept_types)
        self.clock = clock
        self._buckets = _Buckets(rate, per, max_visitors)

    def parse(self, body: bytes, content_type: str | None,
              visitor_cookie_id: str | None) -> list[Event]:
        """The new events in a request body; :class:`EventError` when refused.

        :param body: the body as read, at most ``max_body + 1`` bytes.
        :param content_type: the request's ``Content-Type``; JSON, ``text/plain``
            (what ``navigator.sendBeacon`` sends for a string) or none.
        :param visitor_cookie_id: the visitor id of the request's own cookie;
            when given, every event's decision must belong to that visitor.
        """
        if len(body) > self.max_body:
            raise EventError(f"expected a body of at most {self.max_body} bytes", status=413,
                             code="too_large")
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media and media not in _MEDIA_TYPES:
            raise EventError(f"expected a JSON body (application/json or text/plain), got "
                             f"{media[:60]!r}", status=415, code="unsupported_media_type")
        try:
            payload = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant,
                                 object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            raise EventError(f"the body is not valid JSON: {str(err)[:120]}",
                             code="bad_json") from err
        return self.accept(payload, visitor_cookie_id)

    def accept(self, payload: object, visitor_cookie_id: str | None = None) -> list[Event]:
        """The new events in an already decoded payload (a server-side report).

        All events are validated before any is claimed, so a body is refused
        whole; events already reported are dropped, and when nothing new is
        left the payload is refused as a replay (409). When the store fails
        (503), claims already made for earlier events of the body stay made.
        """
        now = self.clock()
        events = [self._event(item, visitor_cookie_id, now) for item in self._items(payload)]
        wait = self._buckets.take(Counter(e.claims.visitor for e in events), now)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise RateLimitedError(f"too many events; try again in {retry} s", retry_after=retry)
        fresh = [e for e in events if self._claim(e)]
        if not fresh:
            raise EventError("every event in the body was already reported for its decision",
                             status=409, code="replay")
        return fresh

    def _items(self, payload: object) -> list[object]:
        if isinstance(payload, dict) and "events" in payload:
            items = payload["events"]
            if len(payload) != 1 or not isinstance(items, list):
                raise EventError('expected {"events": [...]} and nothing else', code="bad_event")
            if not 1 <= len(items) <= self.max_events:
                raise EventError(f"expected 1 to {self.max_events} events, got {len(items)}",
                                 code="too_many_events" if items else "bad_event")
            return items
        return [payload]

    def _event(self, item: object, cookie_visitor: str | None, now: float) -> Event:
        if not isinstance(item, dict):
            raise EventError(f"expected an event object, got {type(item).__name__}",
                             code="bad_event")
        extra = item.keys() - _KEYS
        if extra:
            raise EventError(f"unknown keys {sorted(extra)[:5]!r}; expected some of "
                             f"{sorted(_KEYS)!r}", code="bad_event")
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            raise EventError(f"expected type one of {sorted(EVENT_TYPES)!r}, got "
                             f"{str(kind)[:40]!r}", code="unknown_type")
        if kind not in self.accept_types:
            raise EventError(f"{kind!r} events are not taken here", status=403,
                             code="type_not_allowed")
        value = _value(kind, item.get("value", _MISSING))
        reason = _reason(kind, item.get("reason", ""))
        token = item.get("decision")
        if not isinstance(token, str) or not token:
            raise EventError("expected 'decision': the decision id from the page",
                             code="bad_event")
        try:
            claims = self.signer.verify(token)
        except TokenError as err:
            expired = "expired" in str(err)
            raise EventError(str(err), status=403,
                             code="expired_token" if expired else "bad_token") from err
        if cookie_visitor is not None and cookie_visitor != claims.visitor:
            raise EventError("the decision belongs to another visitor", status=403,
                             code="visitor_mismatch")
        return Event(type=kind, decision_id=token, claims=claims, value=value, reason=reason,
                     received_at=now)

    def _claim(self, event: Event) -> bool:
        try:
            return self.store.claim(f"evt:{event.type}:{event.decision_id}", self.replay_ttl)
        except StoreError as err:
            raise EventError("the event store is unavailable; try again later", status=503,
                             code="unavailable") from err


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("an object repeats a key")
    return result


def _number(kind: str, raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise EventError(f"expected a number as the {kind} value, got {type(raw).__name__}",
                         code="bad_value")
    try:
        value = float(raw)
    except OverflowError as err:
        raise EventError(f"the {kind} value is too large", code="bad_value") from err
    if not math.isfinite(value):
        raise EventError(f"expected a finite {kind} value, got {value!r}", code="bad_value")
    return value


def _value(kind: str, raw: object) -> float:
    if kind in _COUNTED or kind == "conversion":
        value = 1.0 if raw is _MISSING else _number(kind, raw)
        if kind in _COUNTED and value != 1.0:
            raise EventError(f"a {kind} counts once: leave 'value' out or send 1, got {value!r}",
                             code="bad_value")
        if value < 0:
            raise EventError(f"expected a conversion value >= 0, got {value!r}", code="bad_value")
        return value
    if raw is _MISSING:
        raise EventError(f"a {kind} event needs a 'value'", code="bad_value")
    value = _number(kind, raw)
    if kind == "feedback" and value not in (1.0, -1.0):
        raise EventError(f"expected feedback 1 or -1, got {value!r}", code="bad_value")
    if kind == "dwell" and not 0 <= value <= MAX_DWELL_SECONDS:
        raise EventError(f"expected dwell seconds from 0 to {MAX_DWELL_SECONDS:.0f}, "
                         f"got {value!r}", code="bad_value")
    return value


def _reason(kind: str, raw: object) -> str:
    if raw == "":
        return ""
    if kind not in _WITH_REASON:
        raise EventError(f"only {sorted(_WITH_REASON)!r} events carry a reason", code="bad_event")
    if not isinstance(raw, str) or len(raw) > MAX_REASON_CHARS or _CONTROL.search(raw):
        raise EventError(f"expected a reason of at most {MAX_REASON_CHARS} printable "
                         "characters", code="bad_value")
    return raw.strip()


def _no_visitor(environ: WSGIEnvironment) -> str | None:
    return None


def _read(stream: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit:
            chunk = stream.read(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    # Servers signal a broken upload with their own types (OSError, werkzeug's
    # ClientDisconnected, gunicorn's NoMoreData): all mean the client's body is bad.
    except Exception as err:
        raise EventError("the request body could not be read", code="bad_body") from err
    return b"".join(chunks)


def read_body(environ: WSGIEnvironment, max_body: int) -> bytes:
    """At most ``max_body + 1`` bytes of the request body, honoring ``CONTENT_LENGTH``.

    A declared length over ``max_body`` is refused (413) without reading; a
    chunked body (no length, ``wsgi.input_terminated`` or ``Transfer-Encoding:
    chunked``) is read up to one byte past the limit, so the caller sees it is
    too long; with neither, the body is empty, as PEP 3333 asks.
    """
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if declared:
        if not _DIGITS.fullmatch(declared):
            raise EventError(f"invalid Content-Length {declared[:20]!r}", code="bad_length")
        length = int(declared)
        if length > max_body:
            raise EventError(f"expected a body of at most {max_body} bytes, got {length}",
                             status=413, code="too_large")
        return _read(stream, length) if stream is not None and length else b""
    chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
    if stream is not None and (chunked or environ.get("wsgi.input_terminated")):
        return _read(stream, max_body + 1)
    return b""


def _respond(start_response: StartResponse, status: int, body: Mapping[str, object],
             extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        *extra,
    ]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [data]


def _refuse(start_response: StartResponse, err: EventError,
            extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    if isinstance(err, RateLimitedError):
        extra = [*extra, ("Retry-After", str(err.retry_after))]
    return _respond(start_response, err.status, {"error": err.code, "message": str(err)}, extra)


def events_app(
    intake: EventIntake,
    sink: Callable[[Event], None],
    *,
    visitor_id_from_environ: Callable[[WSGIEnvironment], str | None] = _no_visitor,
    count: Callable[[str, int], None] | None = None,
) -> WSGIApplication:
    """A WSGI app taking ``POST`` event bodies and handing each new event to ``sink``.

    Answers ``202 {"accepted": n}``, or the refusal's status with ``{"error":
    code, "message": text}``; ``405`` with ``Allow: POST`` for other methods.
    It serves whatever path it is mounted at.

    :param intake: validates bodies and refuses replays and floods.
    :param sink: records one accepted event (log, policy update, monitors); when
        it fails the client gets 503, never 500.
    :param visitor_id_from_environ: the visitor id of the request's own cookie,
        or ``None``; events must then belong to that visitor.
    :param count: bumps an operator counter: ``events_accepted`` by the number
        accepted, ``events_rejected_<code>`` by one per refused request.
    """

    def refuse(start_response: StartResponse, err: EventError,
               extra: list[tuple[str, str]] | None = None) -> Iterable[bytes]:
        if count is not None:
            count(f"events_rejected_{err.code}", 1)
        return _refuse(start_response, err, extra or ())

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            refusal = EventError("send events with POST", status=405, code="method_not_allowed")
            return refuse(start_response, refusal, [("Allow", "POST")])
        try:
            body = read_body(environ, intake.max_body)
            content_type = environ.get("CONTENT_TYPE")
            events = intake.parse(body, content_type if isinstance(content_type, str) else None,
                                  visitor_id_from_environ(environ))
        except EventError as err:
            return refuse(start_response, err)
        except Exception:  # a client must never see a 500 from here
            log.exception("event intake failed on a request; answered 400")
            return refuse(start_response, EventError("the events could not be read"))
        try:
            for event in events:
                sink(event)
        except Exception:  # the sink's storage failing is a 503, not a 500
            log.exception("event sink failed; answered 503")
            return refuse(start_response, EventError(
                "events could not be recorded; try again later", status=503, code="unavailable"))
        if count is not None:
            count("events_accepted", len(events))
        return _respond(start_response, 202, {"accepted": len(events)})

    return app
