"""Flask extension: ``Personalize(app)`` or ``init_app(app)``.

>>> from personalize.integrations.flask import Personalize
>>> personalize = Personalize(app)          # reads PERSONALIZE_* config keys

Templates then write ``{{ personalize.slot("hero") }}``. Every config key is set
with ``setdefault`` in :data:`DEFAULTS` and documented in ``docs/configuration.md``;
bad values fail at start-up with a message naming the key.

With flask-caching, pass :func:`cache_key` as ``make_cache_key`` (or use
:func:`cached_slots`): a page is cached once per combination of chosen
variants, never per visitor, and never served with another visitor's content.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, render_template, request
from markupsafe import Markup

from ..engine import Personalizer
from ..exceptions import ConfigError
from ..middleware import DEFAULT_SKIP, ENVIRON_KEY, PersonalizeMiddleware, PersonalizeRequest
from ..rules.model import Variant

DEFAULTS: dict[str, Any] = {
    "PERSONALIZE_RULES": "rules",
    "PERSONALIZE_STORE": "sqlite:///var/personalize.db",
    "PERSONALIZE_SECRET": None,  # falls back to SECRET_KEY
    "PERSONALIZE_SKIP_PATHS": DEFAULT_SKIP,
    "PERSONALIZE_COOKIE_MAX_AGE": 365 * 86400,
    "PERSONALIZE_REWARD_WINDOW": 1800.0,
    "PERSONALIZE_RANDOM_STATE": None,
    "PERSONALIZE_CLOCK": None,  # epoch-seconds callable; simulations drive time with it
    "PERSONALIZE_METRICS": False,  # True serves Prometheus metrics at /metrics, or give a path
}


@dataclass
class _State:
    engine: Personalizer
    middleware: PersonalizeMiddleware


class Personalize:
    """Wires personalization into a Flask app (Flask extension conventions)."""

    def __init__(self, app: Flask | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read the config, wrap ``app.wsgi_app`` and register the template global."""
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        secret = app.config["PERSONALIZE_SECRET"] or app.config.get("SECRET_KEY") \
            or os.environ.get("PERSONALIZE_SECRET")
        if not secret:
            raise ConfigError("PERSONALIZE_SECRET", "expected a secret key (or set SECRET_KEY); "
                              "it signs visitor cookies and decision ids")
        window = app.config["PERSONALIZE_REWARD_WINDOW"]
        if not isinstance(window, int | float) or window <= 0:
            raise ConfigError("PERSONALIZE_REWARD_WINDOW",
                              f"expected a positive number of seconds, got {window!r}")
        clock = app.config["PERSONALIZE_CLOCK"]
        if clock is not None and not callable(clock):
            raise ConfigError("PERSONALIZE_CLOCK", f"expected a callable returning epoch "
                              f"seconds, got {clock!r}")
        engine = Personalizer(
            rules=app.config["PERSONALIZE_RULES"], store=app.config["PERSONALIZE_STORE"],
            secret=secret, renderer=_renderer(app), reward_window=float(window),
            random_state=app.config["PERSONALIZE_RANDOM_STATE"],
            **({"clock": clock} if clock is not None else {}))
        middleware = PersonalizeMiddleware(app.wsgi_app, engine=engine,
                                           skip_paths=app.config["PERSONALIZE_SKIP_PATHS"],
                                           cookie_max_age=app.config["PERSONALIZE_COOKIE_MAX_AGE"])
        app.wsgi_app = _with_metrics(middleware, engine,  # type: ignore[method-assign]
                                     app.config["PERSONALIZE_METRICS"])
        app.extensions["personalize"] = _State(engine, middleware)
        app.jinja_env.globals["personalize"] = _TemplateHelper()

    @staticmethod
    def engine(app: Flask | None = None) -> Personalizer:
        """The app's :class:`Personalizer`."""
        state: _State = (app or current_app).extensions["personalize"]
        return state.engine


def current_request() -> PersonalizeRequest | None:
    """This request's personalization handle, or ``None`` on skipped paths."""
    found: PersonalizeRequest | None = request.environ.get(ENVIRON_KEY)
    return found


def record(kind: str, value: float = 1.0) -> int:
    """Record an event for the current visitor, e.g. ``record("conversion", value=42.0)``.

    Call it from the view that completes an order: the conversion is
    credited to the decisions a policy recently chose for this visitor (see
    :meth:`Personalizer.record <personalize.engine.Personalizer.record>`).
    Returns the number of decisions credited (0 without consent, for bots, on
    skipped paths, or when nothing chosen was shown).
    """
    handle = current_request()
    return 0 if handle is None else handle.record(kind, value)


def identify(account_key: str) -> None:
    """Link the current browser to an account at login, merging its history."""
    handle = current_request()
    if handle is not None:
        handle.identify(account_key)


class _TemplateHelper:
    """``personalize`` in templates."""

    def slot(self, name: str, default: str = "") -> Markup:
        handle = current_request()
        return Markup(default) if handle is None else handle.slot(name, default)

    def why_link(self, name: str, text: str = "Why am I seeing this?") -> Markup:
        handle = current_request()
        decision = handle.decision(name) if handle else None
        if decision is None or not decision.id:
            return Markup("")
        return Markup('<a class="pz-why" data-personalize-why href="/_personalize/why?d={}">'
                      "{}</a>").format(decision.id, text)


def cache_key(slots: Sequence[str]) -> Callable[[], str]:
    """A flask-caching ``make_cache_key`` that varies by the variants chosen.

    The slots are decided before the cache lookup (the page then reuses those
    decisions), and the key names the variant of each, so one cached entry
    serves every visitor who would see exactly that content.
    """

    def make_key(*_args: Any, **_kwargs: Any) -> str:
        handle = current_request()
        chosen = []
        for name in slots:
            decision = handle.decision(name) if handle else None
            chosen.append(f"{name}={decision.variant if decision else '-'}")
        if handle is not None:
            handle.cacheable = True
        return f"pz|{request.full_path}|{'|'.join(chosen)}"

    return make_key


def _with_metrics(middleware: PersonalizeMiddleware, engine: Personalizer,
                  setting: object) -> Any:
    """The app, with Prometheus metrics mounted when ``PERSONALIZE_METRICS`` asks for them."""
    if setting is False or setting is None:
        return middleware
    path = "/metrics" if setting is True else setting
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigError("PERSONALIZE_METRICS", f"expected True, False or a path starting "
                          f"with '/', got {setting!r}")
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from ..metrics import metrics_app

    return DispatcherMiddleware(middleware, {path: metrics_app(engine)})


def _renderer(app: Flask) -> Callable[[Variant], str]:
    def render(variant: Variant) -> str:
        if variant.template is not None:
            with app.app_context():
                return render_template(variant.template, variant=variant)
        return str(Markup.escape(variant.key or ""))

    return render
