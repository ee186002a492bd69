"""Who may use the review dashboard: one password, a session, CSRF tokens, a rate limit.

::

    state = ReviewAuth(password="...", limiter=LoginLimiter(max_failures=5, window=300))
    state.check_password(form["password"])     # constant-time
    login(name="Aino")                         # fresh session, new CSRF token
    require_csrf()                             # before every POST

The dashboard has one shared password (``PERSONALIZE_REVIEW_PASSWORD``); a
person also gives a name at login, which is recorded with every pause and
resume they make. Everything lives in the host app's signed Flask session under
keys prefixed ``pz_review_``, so the dashboard never touches the host's own
session data. Every POST must carry the session's CSRF token (a form field
``csrf_token`` or an ``X-CSRF-Token`` header). Failed logins are limited per
client address in a sliding window; a blocked client gets 429 with
``Retry-After``. Behind a reverse proxy, wrap the app in werkzeug's
``ProxyFix`` so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, abort, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

__all__ = ["CSRF_FIELD", "LoginLimiter", "ReviewAuth", "SecureWhenHttps", "csrf_token",
           "current_user", "login", "logout", "require_csrf", "secure_session_defaults"]

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_USER = "pz_review_user"
_CSRF = "pz_review_csrf"
_SINCE = "pz_review_since"
MAX_NAME = 60


class LoginLimiter:
    """At most ``max_failures`` failed logins per client in any ``window`` seconds.

    Kept in process memory: behind several workers each counts its own
    failures, which still bounds guessing to ``workers × max_failures`` a window.

    :param clock: monotonic seconds; tests pass a fake one.
    """

    def __init__(self, *, max_failures: int = 5, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_failures < 1 or window <= 0:
            raise ValueError(f"expected max_failures >= 1 and window > 0, got "
                             f"{max_failures!r}, {window!r}")
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        with self._lock:
            recent = self._recent(client)
            if len(recent) < self.max_failures:
                return 0.0
            return max(recent[0] + self.window - self.clock(), 0.0)

    def failed(self, client: str) -> None:
        """Count one failed login."""
        with self._lock:
            self._recent(client).append(self.clock())
            if len(self._failures) > 10_000:  # forget idle clients, so memory stays bounded
                for key in [k for k, q in self._failures.items() if not q]:
                    del self._failures[key]

    def succeeded(self, client: str) -> None:
        """Forget a client's failures after a good login."""
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float]:
        found = self._failures.setdefault(client, deque())
        cutoff = self.clock() - self.window
        while found and found[0] <= cutoff:
            found.popleft()
        return found


@dataclass
class ReviewAuth:
    """The password one app's dashboard accepts, and its login limiter.

    :param generated: true when the password was generated at start-up.
    """

    password: str
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    generated: bool = False

    def check_password(self, given: str) -> bool:
        """Compare in constant time (over the UTF-8 bytes)."""
        return hmac.compare_digest(given.encode(), self.password.encode())


def login(name: str) -> None:
    """Start a fresh dashboard session for ``name`` (a new CSRF token, no old keys)."""
    for key in (_USER, _CSRF, _SINCE):
        session.pop(key, None)
    session[_USER] = name.strip()[:MAX_NAME] or "reviewer"
    session[_CSRF] = secrets.token_urlsafe(32)
    session[_SINCE] = time.time()


def logout() -> None:
    """End the dashboard session; the host's own session keys are left alone."""
    for key in (_USER, _CSRF, _SINCE):
        session.pop(key, None)


def current_user() -> str | None:
    """The logged-in reviewer's name, or ``None``."""
    user = session.get(_USER)
    return user if isinstance(user, str) and user else None


def csrf_token() -> str:
    """This session's CSRF token, created on first use (the login form needs one too)."""
    token = session.get(_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF] = token
    return token


def require_csrf() -> None:
    """Abort with 400 unless the request carries this session's CSRF token."""
    expected = session.get(_CSRF)
    given = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not expected \
            or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="The form was missing its security token or it had expired. "
                               "Reload the page and try again.")


class SecureWhenHttps(SecureCookieSessionInterface):
    """Flask's cookie session, whose cookie is also ``Secure`` on every https request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when configured so, or when this request came over https."""
        return bool(super().get_cookie_secure(app)) \
            or (has_request_context() and request.is_secure)


def secure_session_defaults(app: Flask) -> None:
    """Tighten the host's session cookie where the host left Flask's defaults.

    ``SESSION_COOKIE_HTTPONLY`` and ``SESSION_COOKIE_SAMESITE = "Lax"`` are set only
    when still at Flask's defaults; and when the app uses Flask's own cookie
    session, the cookie is marked ``Secure`` on https requests
    (:class:`SecureWhenHttps`). A host that configured any of these keeps its choice.
    """
    defaults = Flask.default_config
    if app.config.get("SESSION_COOKIE_SAMESITE") == defaults["SESSION_COOKIE_SAMESITE"]:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_HTTPONLY") is None:
        app.config["SESSION_COOKIE_HTTPONLY"] = True
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = SecureWhenHttps()
