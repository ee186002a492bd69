"""The Django app: ``INSTALLED_APPS = [..., "personalize.integrations.django"]``.

Installing it makes ``{% load personalize %}`` available and adds checks to
``manage.py check`` (which ``runserver`` and deploy scripts run): a wrong
``PERSONALIZE`` value is an error, a missing or misplaced middleware a warning.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed

from ...exceptions import ConfigError
from . import conf

MIDDLEWARE = "personalize.integrations.django.middleware.PersonalizeMiddleware"
#: middleware that must see the response after ours (the list runs bottom-up for responses)
MUST_COME_BEFORE = (
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.cache.UpdateCacheMiddleware",
)


class PersonalizeConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """Registers the checks and forgets the engine when a test changes the settings."""

    name = "personalize.integrations.django"
    label = "personalize"
    verbose_name = "Personalization"

    def ready(self) -> None:
        checks.register(check_settings)
        checks.register(check_middleware)
        setting_changed.connect(_settings_changed, dispatch_uid="personalize.settings_changed")


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``personalize.E001``: a ``PERSONALIZE`` value is wrong."""
    try:
        conf.load()
    except ConfigError as err:
        return [checks.Error(str(err), hint="See docs/django.md for every PERSONALIZE key.",
                             id="personalize.E001")]
    return []


def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``personalize.W001``: the middleware is missing; ``W002``: it sits above one it must not."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        return [checks.Warning(
            f"{MIDDLEWARE} is not in MIDDLEWARE, so every slot shows its default content.",
            hint="Add it below GZipMiddleware.", id="personalize.W001")]
    ours = middleware.index(MIDDLEWARE)
    return [checks.Warning(
        f"{other} comes after {MIDDLEWARE} in MIDDLEWARE, so it handles the response before "
        "personalization does (markers in compressed pages stay unfilled, ETags and caches "
        "miss the personalized content).",
        hint=f"Move {MIDDLEWARE} below {other}.", id="personalize.W002")
        for other in MUST_COME_BEFORE if other in middleware[ours + 1:]]


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("PERSONALIZE", "SECRET_KEY"):
        from .middleware import reset

        reset()
