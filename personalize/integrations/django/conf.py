"""The ``PERSONALIZE`` settings dict: defaults in one place, read through one helper.

>>> # settings.py
>>> PERSONALIZE = {"RULES": BASE_DIR / "rules", "STORE": "sqlite:///var/p.db"}

:func:`setting` reads one key (the default when it is not given), as
django-waffle's ``get_setting`` does; :func:`load` reads and checks them all and
is what the middleware and the ``manage.py check`` hook call, so a bad value
stops the site at start-up with a message naming ``PERSONALIZE["KEY"]``, never
while serving. Nothing is quietly repaired. Each key is documented in
``docs/django.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from ...exceptions import ConfigError
from ...middleware import DEFAULT_SKIP
from ...rules.suggest import did_you_mean
from ...store.base import Store

DEFAULTS: dict[str, Any] = {
    "RULES": "rules",
    "STORE": "sqlite:///var/personalize.db",
    "SECRET": None,  # falls back to settings.SECRET_KEY
    "SKIP_PATHS": DEFAULT_SKIP,
    "COOKIE_MAX_AGE": 365 * 86400,
    "REWARD_WINDOW": 1800.0,
    "RANDOM_STATE": None,
}
MIN_SECRET = 16


@dataclass(frozen=True)
class Config:
    """Every ``PERSONALIZE`` value, checked.

    :param rules: the rule directory.
    :param store: a store URL, or a ready :class:`~personalize.store.base.Store`.
    :param secret: signs visitor cookies and decision ids.
    :param skip_paths: path prefixes never personalized.
    :param cookie_max_age: lifetime of the visitor cookie in seconds.
    :param reward_window: seconds a decision collects events before learning.
    :param random_state: seed for the bandits' exploration, or ``None``.
    """

    rules: Path
    store: str | Store
    secret: str | bytes
    skip_paths: tuple[str, ...]
    cookie_max_age: int
    reward_window: float
    random_state: int | None


def key(name: str) -> str:
    """How a setting is named in messages: ``PERSONALIZE["RULES"]``."""
    return f'PERSONALIZE["{name}"]'


def setting(name: str, source: Any = None) -> Any:
    """One ``PERSONALIZE`` value as configured, or its default; not yet checked.

    :param name: a key of :data:`DEFAULTS`, e.g. ``"RULES"``.
    :param source: the settings object; Django's ``settings`` by default (tests pass
        a stand-in instead of configuring Django).
    :raises ConfigError: ``PERSONALIZE`` is not a dict.
    """
    if name not in DEFAULTS:
        raise KeyError(f"unknown personalize setting {name!r}; known: {', '.join(DEFAULTS)}")
    configured = _configured(django_settings if source is None else source)
    value = configured.get(name, DEFAULTS[name])
    if name == "SECRET" and value is None:
        value = getattr(django_settings if source is None else source, "SECRET_KEY", None)
    return value


def load(source: Any = None) -> Config:
    """Read and check every ``PERSONALIZE`` value.

    :param source: the settings object; Django's ``settings`` by default.
    :raises ConfigError: a key is unknown or a value is wrong; the message names
        the key, says what was expected, what was given and what to do.
    """
    settings = django_settings if source is None else source
    unknown = sorted(set(_configured(settings)) - set(DEFAULTS))
    if unknown:
        raise ConfigError(key(unknown[0]), f"expected one of {', '.join(DEFAULTS)}"
                          f"{did_you_mean(unknown[0], DEFAULTS)}; an unknown key is refused, "
                          "not ignored")

    def get(name: str) -> Any:
        return setting(name, settings)

    return Config(
        rules=_rules(get("RULES")), store=_store(get("STORE")), secret=_secret(get("SECRET")),
        skip_paths=_skip_paths(get("SKIP_PATHS")),
        cookie_max_age=_positive_int("COOKIE_MAX_AGE", get("COOKIE_MAX_AGE")),
        reward_window=_positive_number("REWARD_WINDOW", get("REWARD_WINDOW")),
        random_state=_random_state(get("RANDOM_STATE")))


def _configured(settings: Any) -> Mapping[str, Any]:
    configured = getattr(settings, "PERSONALIZE", {})
    if not isinstance(configured, Mapping):
        raise ConfigError("PERSONALIZE", f"expected a dict such as "
                          f"{{'RULES': BASE_DIR / 'rules'}}, got {configured!r}")
    return configured


def _rules(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise ConfigError(key("RULES"), f"expected the path of the rule directory, got {value!r}")
    path = Path(value)
    if not path.is_dir():
        raise ConfigError(key("RULES"), f"expected an existing directory of rule files, got "
                          f"{str(path)!r} (resolved to {str(path.resolve())!r}); a relative path "
                          "is relative to the working directory, so prefer BASE_DIR / 'rules'")
    return path


def _store(value: Any) -> str | Store:
    # Whether the URL names a known backend is make_store's to say (at start-up too).
    if isinstance(value, Store) or (isinstance(value, str) and value):
        return value
    raise ConfigError(key("STORE"), f"expected a store URL such as 'sqlite:///var/p.db' or "
                      f"'redis://localhost:6379/0', or a Store instance, got {value!r}")


def _secret(value: Any) -> str | bytes:
    if not isinstance(value, str | bytes) or len(value) < MIN_SECRET:
        shown = "a value that is too short" if isinstance(value, str | bytes) else repr(value)
        raise ConfigError(key("SECRET"), f"expected a random secret of at least {MIN_SECRET} "
                          f"characters (SECRET_KEY is used when SECRET is not given), got "
                          f"{shown}; generate one with `python -c 'import secrets; "
                          "print(secrets.token_hex(32))'`")
    return value


def _skip_paths(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(key("SKIP_PATHS"), f"expected a list of path prefixes such as "
                          f"['/static/', '/health'], got {value!r}")
    for prefix in value:
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise ConfigError(key("SKIP_PATHS"), f"expected path prefixes starting with '/', "
                              f"got {prefix!r}")
    return tuple(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(key(name), f"expected a positive whole number of seconds, got {value!r}")
    return value


def _positive_number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(key(name), f"expected a positive number of seconds, got {value!r}")
    return float(value)


def _random_state(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(key("RANDOM_STATE"), f"expected an integer seed or None, got {value!r}")
    return value
