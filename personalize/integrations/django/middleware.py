"""Django middleware: classify → decide → inject → log, for a Django project.

>>> # settings.py
>>> INSTALLED_APPS = [..., "personalize.integrations.django"]
>>> MIDDLEWARE = [..., "django.middleware.gzip.GZipMiddleware", ...,
...               "personalize.integrations.django.middleware.PersonalizeMiddleware"]
>>> PERSONALIZE = {"RULES": BASE_DIR / "rules", "STORE": "sqlite:///var/p.db"}

Templates then write ``{% load personalize %}{% slot "hero" %}…{% endslot %}``;
views reach the per-request handle as ``request.personalize``. The work itself
is the WSGI middleware's (:mod:`personalize.middleware`): this module only
translates between Django's request and response objects and those shared
functions, so both integrations behave the same.

The middleware must sit *below* ``GZipMiddleware`` (and ``ConditionalGetMiddleware``,
``UpdateCacheMiddleware``) in ``MIDDLEWARE``: responses pass the list bottom-up,
so ours sees the HTML before it is compressed, tagged or cached.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.html import escape

from ...engine import Personalizer
from ...exceptions import ConfigError
from ...middleware import (
    ENVIRON_KEY,
    PersonalizeRequest,
    commit,
    personalize_headers,
    rewrite_body,
    should_rewrite,
    skipped,
)
from ...rules.model import Variant
from ...store import make_store
from ...web.app import PREFIX, PersonalizeWeb
from . import conf


@dataclass(frozen=True)
class Personalization:
    """What one process shares across requests: the engine, its web app, the settings."""

    engine: Personalizer
    web: PersonalizeWeb
    config: conf.Config
    owns_store: bool


_lock = threading.Lock()
_current: Personalization | None = None


def personalization() -> Personalization:
    """This process's :class:`Personalization`, built from the settings on first use.

    One engine per process, whatever the number of middleware instances (the
    test client builds a handler per client): bandit statistics and the rule
    reloader are shared, and the store is opened once.

    :raises ConfigError: a ``PERSONALIZE`` value is wrong.
    """
    global _current
    current = _current
    if current is None:
        with _lock:
            if _current is None:
                _current = _build(conf.load())
            current = _current
    return current


def get_engine() -> Personalizer:
    """The process's :class:`Personalizer`, e.g. to record a server-side conversion."""
    return personalization().engine


def reset() -> None:
    """Drop the engine so the next request builds one from the settings as they are now.

    Called when a test changes ``PERSONALIZE`` (``setting_changed``); closes the
    store if it was opened from a URL here.
    """
    global _current
    with _lock:
        old, _current = _current, None
    if old is not None and old.owns_store:
        old.engine.store.close()


def render_variant(variant: Variant) -> str:
    """HTML of a variant that names a Django template (given ``variant``) or a plain key."""
    if variant.template is not None:
        return str(render_to_string(variant.template, {"variant": variant}))
    return str(escape(variant.key or ""))


class PersonalizeMiddleware:
    """Personalizes the HTML responses of a Django project.

    Paths under ``/_personalize/`` (events, beacon, why, opt-out) are answered
    here; ``SKIP_PATHS`` pass through untouched; every other request gets a
    :class:`~personalize.middleware.PersonalizeRequest` as ``request.personalize``
    (and ``request.META["personalize"]``, where WSGI code looks).

    :param get_response: the next middleware or the view.
    :raises ConfigError: at start-up, when a ``PERSONALIZE`` value is wrong.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        personalization()  # build now, so bad settings stop the server from starting

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        current = personalization()
        path = request.path_info
        if path.startswith(f"{PREFIX}/"):
            return serve_wsgi(current.web, request)
        if skipped(path, tuple(current.config.skip_paths)):
            return self.get_response(request)
        handle = PersonalizeRequest(current.engine, request.META)
        request.META[ENVIRON_KEY] = handle
        request.personalize = handle
        response = self.get_response(request)
        finish(handle, request, response, cookie_max_age=current.config.cookie_max_age)
        return response


def finish(handle: PersonalizeRequest, request: HttpRequest, response: HttpResponseBase, *,
           cookie_max_age: int) -> None:
    """Fill markers, add the caching headers and the cookie, and log exposures on close.

    Streaming responses are never buffered: their headers are set here, before
    the first chunk, so only slots decided before the view returned count
    towards them. Exposures are logged when the server closes the response
    (``_resource_closers``, the hook Django uses to close files it streams),
    after the body has been sent, as in the WSGI middleware.

    :param handle: the request's personalization handle.
    :param request: the Django request.
    :param response: the response to finish in place.
    :param cookie_max_age: lifetime of the visitor cookie in seconds.
    """
    status = f"{response.status_code} {response.reason_phrase}"
    if not response.streaming:
        body = response.content
        headers = {name.lower(): value for name, value in response.items()}
        if should_rewrite(request.method or "GET", status, headers, len(body)):
            rewritten = rewrite_body(handle, body)
            if rewritten is not body:
                response.content = rewritten
                response.headers["Content-Length"] = str(len(rewritten))
    if handle.decisions or handle.failed or handle.switch_to:
        apply_headers(response, personalize_headers(
            handle, status, list(response.items()), cookie_max_age=cookie_max_age,
            secure=request.is_secure()))
    response._resource_closers.append(partial(commit, handle, str(response.status_code)))


def apply_headers(response: HttpResponseBase, headers: Iterable[tuple[str, str]]) -> None:
    """Make ``response`` carry exactly ``headers``, given as WSGI ``(name, value)`` pairs.

    Django keeps one value per header name and cookies apart from headers, so a
    ``Set-Cookie`` pair is parsed into ``response.cookies`` (which Django writes
    back out unchanged) and repeated names are joined with ``", "``, as HTTP
    allows for the list headers (``Vary``, ``Cache-Control``, ``Server-Timing``).
    """
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)
            continue
        names.setdefault(name.lower(), name)
        values.setdefault(name.lower(), []).append(value)
    for name in [n for n in response.headers if n.lower() not in values]:
        del response.headers[name]
    for lower, joined in values.items():
        response.headers[names[lower]] = ", ".join(joined)


def serve_wsgi(app: Callable[..., Iterable[bytes]], request: HttpRequest) -> HttpResponse:
    """Answer a Django request with a WSGI app, e.g. :class:`PersonalizeWeb`.

    ``request.META`` is the WSGI environ; its body is handed over as read by
    Django (bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE``), since another
    middleware may already have read ``wsgi.input``.
    """
    environ: dict[str, Any] = dict(request.META)
    body = request.body
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Callable[[bytes], object]:
        started[:] = [status, headers]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    code, _, reason = str(status).partition(" ")
    response = HttpResponse(b"".join(chunks), status=int(code), reason=reason or None)
    apply_headers(response, headers)
    return response


def _build(config: conf.Config) -> Personalization:
    store = config.store
    owns_store = isinstance(store, str)
    if isinstance(store, str):
        try:
            store = make_store(store)
        except ValueError as err:  # ConfigError is a ValueError
            raise ConfigError(conf.key("STORE"), str(err)) from err
    try:
        engine = Personalizer(rules=config.rules, store=store, secret=config.secret,
                              renderer=render_variant, reward_window=config.reward_window,
                              random_state=config.random_state)
    except BaseException:
        if owns_store:
            store.close()
        raise
    return Personalization(engine, PersonalizeWeb(engine), config, owns_store)
