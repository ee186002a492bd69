"""Classify one WSGI request into a :class:`~personalize.context.Context`.

>>> builder = ContextBuilder(store=store, secret="...")
>>> visit = builder.build(environ, site)
>>> visit.context.get("device.type")

The builder reads the visitor cookie, consent, device, referrer, request and
local time, and — only when the visitor allows tracking and is not a bot —
loads and advances the visitor's profile. It does not write anything: the
caller saves :attr:`Visit.profile` once the page's decisions are known.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..exceptions import StoreError
from . import Context
from .consent import read_consent
from .device import classify_device
from .history import ANONYMOUS, History, advance, history_of
from .referrer import classify_referrer
from .request import RequestInfo, preferred_language, section_of
from .site import SiteSettings
from .time import classify_time
from .visitor import VISITOR_COOKIE, VisitorIds, request_cookies

if TYPE_CHECKING:
    from ..store.base import Store

log = logging.getLogger("personalize.context")

TIMEZONE_COOKIE = "pz_tz"


@dataclass(frozen=True)
class Visit:
    """One request's context plus what the caller must persist afterwards.

    :param profile: the advanced profile to save, or ``None`` (no tracking).
    :param new_visitor_cookie: a signed cookie value to set, when the visitor is new.
    :param degraded: the store failed; history is empty and nothing will be saved.
    """

    context: Context
    profile: dict[str, Any] | None
    new_visitor_cookie: str | None = None
    degraded: bool = False


class ContextBuilder:
    """Builds contexts for requests; one instance serves all requests.

    :param store: where profiles live; ``None`` keeps no history at all.
    :param secret: the site's secret, which signs visitor cookies.
    :param clock: returns epoch seconds; injectable for tests.
    """

    def __init__(self, *, store: Store | None, secret: str | bytes,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.visitor_ids = VisitorIds(secret)
        self.clock = clock

    def build(self, environ: Mapping[str, Any], site: SiteSettings) -> Visit:
        """Classify ``environ``; never raises on bad headers or a failing store."""
        now = self.clock()
        cookies = request_cookies(environ)
        consent = read_consent(environ.get("HTTP_DNT"), environ.get("HTTP_SEC_GPC"),
                               cookies.get(site.consent_cookie), site)
        device = classify_device(environ.get("HTTP_USER_AGENT", ""),
                                 environ.get("HTTP_SEC_CH_UA_MOBILE"),
                                 environ.get("HTTP_SEC_CH_UA_PLATFORM"))
        host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").split(":")[0]
        referrer = classify_referrer(environ.get("HTTP_REFERER"),
                                     environ.get("QUERY_STRING", ""), host, site.internal_hosts)
        path = _path_of(environ)
        section = section_of(path)
        request = RequestInfo(
            path=path,
            section=section,
            language=preferred_language(environ.get("HTTP_ACCEPT_LANGUAGE", ""),
                                        site.languages),
            secure=environ.get("wsgi.url_scheme") == "https",
            method=environ.get("REQUEST_METHOD", "GET"),
        )
        local = classify_time(datetime.fromtimestamp(now, UTC), site, cookies.get(TIMEZONE_COOKIE))

        visitor_id: str | None = None
        new_cookie: str | None = None
        profile: dict[str, Any] | None = None
        history = ANONYMOUS
        degraded = False
        if consent.tracking and device.type != "bot":
            visitor_id = self.visitor_ids.read(cookies.get(VISITOR_COOKIE))
            if visitor_id is None:
                visitor_id = self.visitor_ids.new()
                new_cookie = self.visitor_ids.sign(visitor_id)
            if self.store is not None:
                try:
                    stored = None if new_cookie else self.store.get_profile(visitor_id)
                except StoreError as err:
                    log.warning("profile store unavailable, serving without history: %s", err)
                    degraded = True
                else:
                    profile = advance(stored, now=now, path=path, section=section,
                                      referrer=referrer,
                                      visit_timeout=site.visit_timeout_minutes * 60.0)
                    history = history_of(profile, now)
                    if history.channel is not None:
                        referrer = history.channel
        if history is ANONYMOUS:
            history = History(landing_page=path, sections=(section,))
        context = Context(device=device, time=local, referrer=referrer, history=history,
                          consent=consent, request=request, visitor_id=visitor_id)
        return Visit(context=context, profile=profile, new_visitor_cookie=new_cookie,
                     degraded=degraded)


def _path_of(environ: Mapping[str, Any]) -> str:
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")) or "/"
    return path[:2048]
