"""WSGI middleware that personalizes any WSGI site.

>>> from personalize import PersonalizeMiddleware
>>> app.wsgi_app = PersonalizeMiddleware(app.wsgi_app, rules="rules/",
...                                      store="sqlite:///var/personalize.db",
...                                      secret=os.environ["PERSONALIZE_SECRET"])

Templates ask for a slot through ``environ["personalize"].slot("hero")``; pages
that will not touch templates mark elements with ``data-personalize-slot``.
Either way the content is in the HTML the server sends: no flicker.

The host site is never broken by us: a failure at any stage serves the slot's
default (or leaves the marker's own content), is logged with the decision id,
and is counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from werkzeug.http import dump_cookie

from .context.builder import Visit
from .context.history import Exposure
from .context.visitor import VISITOR_COOKIE
from .decision import Decision
from .engine import Personalizer, exposure_of
from .exceptions import ConfigError, StoreError
from .inject import inject
from .once import Once
from .rules.model import RuleOutcome
from .store.base import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("personalize")

ENVIRON_KEY = "personalize"
DEFAULT_SKIP = ("/static/", "/favicon.ico", "/robots.txt", "/health", "/healthz",
                "/metrics")
MAX_BUFFERED = 2 * 1024 * 1024
PENDING = "pz-pending:"


def skipped(path: str, skip_paths: tuple[str, ...]) -> bool:
    """True when a skip entry covers ``path``.

    An entry ending in ``/`` covers everything below it; any other entry covers
    that exact path and everything below it, so ``/health`` skips ``/health``
    and ``/health/db`` but not ``/healthy-recipes``.
    """
    for entry in skip_paths:
        if entry.endswith("/"):
            if path.startswith(entry):
                return True
        elif path == entry or path.startswith(entry + "/"):
            return True
    return False


class PersonalizeRequest:
    """The per-request handle placed in ``environ["personalize"]``.

    Nothing is classified until a page asks for a slot, so pages without slots
    cost almost nothing.
    """

    def __init__(self, engine: Personalizer, environ: WSGIEnvironment) -> None:
        self.engine = engine
        self.environ = environ
        self.decisions: dict[str, Decision] = {}
        self.failed = False
        #: set by a cache-key function: markup then carries ``pz-pending:<slot>``
        #: ids that the middleware swaps for this request's decision ids, so a
        #: cached page never hands one visitor's decision id to another
        self.cacheable = False
        #: a visitor id this browser moves to (after :meth:`identify`)
        self.switch_to: str | None = None
        self.started = time.perf_counter()
        self.spent = 0.0
        #: the page's exposures so far, for budgets that count across slots
        self._shown: list[Exposure] = []

    @property
    def built_visit(self) -> Visit | None:
        """The visit if this request built one, without building it (for the response's end)."""
        return self.__dict__.get("visit")  # where :attr:`visit` keeps it

    @Once
    def visit(self) -> Visit | None:
        """The request's context and profile, or ``None`` if classification failed."""
        start = time.perf_counter()
        try:
            return self.engine.visit(self.environ)
        except Exception:  # noqa: BLE001 - fail open: the host page must render
            self.fail("context", "")
            return None
        finally:
            self.spent += time.perf_counter() - start

    @Once
    def outcomes(self) -> Mapping[str, RuleOutcome]:
        """What the rules say about every slot, evaluated once per request."""
        visit = self.visit
        return {} if visit is None else self.engine.ruleset.evaluate_all(visit.context)

    def decision(self, slot: str) -> Decision | None:
        """The slot's decision (made once per request); ``None`` if even the default failed."""
        if slot in self.decisions:
            return self.decisions[slot]
        start = time.perf_counter()
        decision: Decision | None = None
        try:
            visit = self.visit
            if visit is not None:
                decision = self.engine.decide(visit.context, slot, self._shown,
                                              outcome=self.outcomes.get(slot))
        except ConfigError as err:
            # a template naming an unknown slot: the page's own fallback shows
            self.fail("config", slot, err)
            self.spent += time.perf_counter() - start
            return None
        except Exception:  # noqa: BLE001 - fail open: serve the default instead
            self.fail("decide", slot)
        if decision is None:
            try:
                decision = self.engine.default_decision(
                    slot, "Showing the usual content because personalization had a problem.")
            except Exception:  # noqa: BLE001 - unknown slot or broken renderer
                self.fail("default", slot)
                self.spent += time.perf_counter() - start
                return None
        self.decisions[slot] = decision
        self._shown.append(exposure_of(decision, 0.0))
        self.spent += time.perf_counter() - start
        return decision

    def record(self, kind: str, value: float = 1.0) -> int:
        """Record an event for this visitor from the host app (e.g. a conversion).

        Credited to the decisions a policy recently chose for this visitor; see
        :meth:`~personalize.engine.Personalizer.record`. Never raises: a failure
        is logged and counted, and 0 is returned.
        """
        visit = self.visit
        try:
            return self.engine.record(visit.context.visitor_id if visit else None, kind,
                                      value=value)
        except Exception:  # noqa: BLE001 - the host's checkout must not fail because of us
            self.fail("record", "")
            return 0

    def identify(self, account_key: str) -> None:
        """Link this browser to the visitor's account (call it at login).

        Histories from the person's devices merge, and this browser continues
        as the account's visitor. Never raises.
        """
        visit = self.visit
        if visit is None or visit.context.visitor_id is None:
            return
        try:
            canonical = self.engine.identify(visit.context.visitor_id, account_key)
        except Exception:  # noqa: BLE001 - a login must not fail because of us
            self.fail("identify", "")
            return
        if canonical != visit.context.visitor_id:
            self.switch_to = canonical

    def slot(self, name: str, default: str = "") -> Markup:
        """The slot's content wrapped in its container, for templates."""
        decision = self.decision(name)
        if decision is None:
            return Markup(default)
        decision_id = f"{PENDING}{name}" if self.cacheable else decision.id
        return Markup(
            f'<div data-personalize-slot="{name}" data-personalize-decision="{decision_id}">'
            f"{decision.content}</div>")

    def fail(self, stage: str, slot: str, error: Exception | None = None) -> None:
        """Record a failure: counted, and logged (with a traceback unless it is a known error)."""
        self.failed = True
        self.engine.count("fail_open")
        self.engine.count(f"fail_open_{stage}")
        if error is not None:
            log.error("personalization skipped slot %r on %s: %s", slot,
                      self.environ.get("PATH_INFO"), error)
        else:
            log.exception("personalization failed at %s for slot %r on %s; serving defaults",
                          stage, slot, self.environ.get("PATH_INFO"))


class PersonalizeMiddleware:
    """Wraps a WSGI app: classify → decide → inject → log.

    :param app: the WSGI application to wrap.
    :param engine: a ready :class:`Personalizer`; or give ``rules``, ``store`` and
        ``secret`` and one is built.
    :param store: a :class:`Store` or a store URL (``sqlite:///var/p.db``, ``redis://…``).
    :param skip_paths: path prefixes never personalized (static files, health checks).
    :param cookie_max_age: lifetime of the visitor cookie in seconds.
    :param web_app: serves ``/_personalize/…`` (events, beacon, why); built by default.
    """

    def __init__(self, app: WSGIApplication, *, engine: Personalizer | None = None,
                 rules: str | Path | None = None, store: Store | str | None = None,
                 secret: str | None = None, skip_paths: Iterable[str] = DEFAULT_SKIP,
                 cookie_max_age: int = 365 * 86400,
                 web_app: WSGIApplication | None = None) -> None:
        if engine is None:
            if rules is None or secret is None:
                raise TypeError("PersonalizeMiddleware needs engine=, or rules= and secret=")
            engine = Personalizer(rules=rules, store=store or "sqlite:///var/personalize.db",
                                  secret=secret)
        self.app = app
        self.engine = engine
        self.skip_paths = tuple(skip_paths)
        self.cookie_max_age = cookie_max_age
        if web_app is None:
            from .web.app import PersonalizeWeb

            web_app = PersonalizeWeb(engine)
        self.web_app = web_app

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_personalize/"):
            return self.web_app(environ, start_response)
        if skipped(path, self.skip_paths):
            return self.app(environ, start_response)
        request = PersonalizeRequest(self.engine, environ)
        environ[ENVIRON_KEY] = request
        return _Response(self, request, environ, start_response).run()


class _Response:
    """One response passing through: headers held until the body is known."""

    def __init__(self, middleware: PersonalizeMiddleware, request: PersonalizeRequest,
                 environ: WSGIEnvironment, start_response: StartResponse) -> None:
        self.middleware = middleware
        self.request = request
        self.environ = environ
        self.start_response = start_response
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.exc_info: Any = None
        self.started = False

    def capture(self, status: str, headers: list[tuple[str, str]],
                exc_info: Any = None) -> Callable[[bytes], object]:
        self.status, self.headers, self.exc_info = status, list(headers), exc_info
        return self._legacy_write

    def _legacy_write(self, data: bytes) -> object:
        return self._send_headers()(data)

    def _send_headers(self) -> Callable[[bytes], object]:
        self.started = True
        if self.request.decisions or self.request.failed or self.request.switch_to:
            self.headers = personalize_headers(
                self.request, self.status, self.headers,
                cookie_max_age=self.middleware.cookie_max_age,
                secure=self.environ.get("wsgi.url_scheme") == "https")
        return self.start_response(self.status, self.headers, self.exc_info)

    def run(self) -> Iterable[bytes]:
        app_iter = self.middleware.app(self.environ, self.capture)
        if self.started or not self._should_buffer():
            if not self.started:
                self._send_headers()
            return _Closing(app_iter, self._finish)
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        body = rewrite_body(self.request, body)
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        self.headers.append(("Content-Length", str(len(body))))
        self._send_headers()
        return _Closing([body], self._finish)

    def _should_buffer(self) -> bool:
        headers = {k.lower(): v for k, v in self.headers}
        length = headers.get("content-length", "")
        return should_rewrite(self.environ.get("REQUEST_METHOD", "GET"), self.status, headers,
                              int(length) if length.isdigit() else None)

    def _finish(self) -> None:
        commit(self.request, self.status)


class _Closing:
    """An app iterable that runs a callback once the server closes it."""

    def __init__(self, iterable: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self.iterable = iterable
        self.on_close = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.iterable)

    def close(self) -> None:
        try:
            close = getattr(self.iterable, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()


# -- finishing a response, shared with the Django middleware ------------------

def should_rewrite(method: str, status: str, headers: Mapping[str, str],
                   length: int | None) -> bool:
    """True for a body we may rewrite: a 2xx, uncompressed, not streamed HTML response.

    :param headers: the response headers keyed in lower case.
    :param length: the body's known length; ``None`` means streamed (unknown).
    """
    return (method != "HEAD" and status.startswith("2") and "content-encoding" not in headers
            and "html" in headers.get("content-type", "")
            and length is not None and length <= MAX_BUFFERED)


def rewrite_body(request: PersonalizeRequest, body: bytes) -> bytes:
    """Fill HTML markers and pending decision ids; the body unchanged on failure."""
    def content_for(slot: str) -> tuple[str, str] | None:
        decision = request.decision(slot)
        return None if decision is None else (decision.id, decision.content)

    try:
        body = inject(body, content_for)
        if request.cacheable:
            for slot, decision in request.decisions.items():
                body = body.replace(f'"{PENDING}{slot}"'.encode(), f'"{decision.id}"'.encode())
    except Exception:  # noqa: BLE001 - a broken page is worse than an unpersonalized one
        request.fail("inject", "")
    return body


def personalize_headers(request: PersonalizeRequest, status: str,
                        headers: list[tuple[str, str]], *, cookie_max_age: int,
                        secure: bool) -> list[tuple[str, str]]:
    """Headers of a personalized response: Vary, Cache-Control, Server-Timing, cookie.

    Caching is personalization's first bug: the response varies by cookie and
    must never sit in a shared cache.
    """
    out = list(headers)
    vary = [v.strip() for k, v in out if k.lower() == "vary"]
    values = {p.strip().lower() for v in vary for p in v.split(",")}
    if "cookie" not in values and "*" not in values:
        out = [(k, v) for k, v in out if k.lower() != "vary"]
        out.append(("Vary", ", ".join([*filter(None, vary), "Cookie"])))
    cache = ", ".join(v for k, v in out if k.lower() == "cache-control")
    if "no-store" not in cache and "private" not in cache:
        kept = [p.strip() for p in cache.split(",") if p.strip()
                and p.strip().lower() != "public" and not p.strip().lower().startswith("s-maxage")]
        out = [(k, v) for k, v in out if k.lower() != "cache-control"]
        out.append(("Cache-Control", ", ".join(["private", *kept])))
    out.append(("Server-Timing", f"personalize;dur={request.spent * 1000:.2f}"))
    visit = request.built_visit
    cookie = visit.new_visitor_cookie if visit is not None else None
    if request.switch_to is not None:
        cookie = request.engine.contexts.visitor_ids.sign(request.switch_to)
    if cookie and not status.startswith("5"):
        out.append(("Set-Cookie", dump_cookie(
            VISITOR_COOKIE, cookie, max_age=cookie_max_age, httponly=True,
            samesite="Lax", secure=secure)))
    return out


def commit(request: PersonalizeRequest, status: str) -> None:
    """After the body is sent: log exposures and save the profile (never on a 5xx).

    The handle then leaves the environ. The two refer to each other, so left
    there every request would outlive its response as a reference cycle of
    some 70 objects that only the garbage collector frees: collections came
    several times as often, and each took longer.
    """
    try:
        _log_exposures(request, status)
    finally:
        if request.environ.get(ENVIRON_KEY) is request:
            del request.environ[ENVIRON_KEY]


def _log_exposures(request: PersonalizeRequest, status: str) -> None:
    observe = request.engine.observe_latency
    if observe is not None and (request.decisions or request.failed):
        observe(request.spent)
    visit = request.built_visit
    if visit is None or not request.decisions or status.startswith("5"):
        return
    try:
        request.engine.commit(visit, list(request.decisions.values()))
    except StoreError as err:
        request.engine.count("commit_errors")
        log.warning("exposures for %s not logged: the store is unavailable (%s)",
                    request.environ.get("PATH_INFO"), err)
    except Exception:
        request.engine.count("commit_errors")
        log.exception("could not log exposures for %s", request.environ.get("PATH_INFO"))
