"""Where personalize keeps profiles, the event log, model statistics and state.

Pick a backend by URL, short name or dotted path::

    from personalize.store import make_store

    make_store("memory://")                           # this process only
    make_store("sqlite:///var/personalize.db")        # relative path: var/personalize.db
    make_store("sqlite:////srv/personalize.db")       # absolute path: /srv/personalize.db
    make_store("redis://127.0.0.1:6379/0", prefix="shop:")   # buffered, see below
    make_store("redis://127.0.0.1:6379/0", buffered=False)   # failures raise at once
    make_store("myapp.stores:DynamoStore", table="pz")  # any Store subclass

Keyword options go to the backend's constructor; see :class:`MemoryStore`,
:class:`SQLiteStore` and :class:`RedisStore`. SQLite URLs follow SQLAlchemy:
three slashes then a relative path, four for an absolute one.

Network stores (``redis://``, ``rediss://``, ``unix://``) come wrapped in a
:class:`BufferedStore` unless ``buffered=False``: while the server is down, log
records, statistics deltas and event claims are kept in this process (at most
100 000, oldest dropped first) and delivered in order when it answers again,
so a Redis restart loses no events. ``buffered=True`` wraps any other backend
the same way. For other limits build it yourself:
``BufferedStore(RedisStore(url), max_buffered=10_000)``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigError
from .base import Record, Stats, Store
from .buffered import BufferedStore
from .memory import MemoryStore
from .sqlite import SQLiteStore

if TYPE_CHECKING:
    from .redis import RedisStore

__all__ = [
    "BufferedStore", "MemoryStore", "Record", "RedisStore", "SQLiteStore", "Stats", "Store",
    "make_store",
]

_NAMES = {
    "memory": "personalize.store.memory:MemoryStore",
    "sqlite": "personalize.store.sqlite:SQLiteStore",
    "redis": "personalize.store.redis:RedisStore",
}
_NETWORK = ("redis", "rediss", "unix")
_EXPECTED = (
    "expected memory://, sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "redis://host:port/db, a name (memory, sqlite, redis) or package.module:StoreClass"
)


def __getattr__(name: str) -> Any:
    # redis-py is an optional dependency: import it only when asked for.
    if name == "RedisStore":
        from .redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_store(url_or_name: str, *, buffered: bool | None = None, **options: Any) -> Store:
    """Build the store a setting names.

    :param url_or_name: a URL (``memory://``, ``sqlite:///path``,
        ``redis://host:port/db``), a short name (``memory``, ``sqlite``,
        ``redis``) or ``package.module:Class`` naming a :class:`Store` subclass.
    :param buffered: wrap the store in a :class:`BufferedStore`; ``None`` (the
        default) wraps network stores (``redis://``, ``rediss://``, ``unix://``)
        and nothing else.
    :param options: keyword arguments for the backend's constructor, such as
        ``clock`` or ``prefix``.
    :raises ConfigError: the URL, name or options are not usable; the message
        says what was expected.
    """
    network = url_or_name.partition("://")[0] in _NETWORK  # "redis" the name, too
    store = _make(url_or_name, options)
    return BufferedStore(store) if (network if buffered is None else buffered) else store


def _make(url_or_name: str, options: dict[str, Any]) -> Store:
    scheme, sep, rest = url_or_name.partition("://")
    if sep:
        if scheme == "memory":
            if rest:
                raise ConfigError("store", f"memory:// takes no path, got {url_or_name!r}")
            return _build(MemoryStore, url_or_name, (), options)
        if scheme == "sqlite":
            if not rest.startswith("/") or len(rest) < 2:
                raise ConfigError(
                    "store",
                    f"expected sqlite:///relative/path.db or sqlite:////absolute/path.db, "
                    f"got {url_or_name!r}",
                )
            return _build(SQLiteStore, url_or_name, (rest[1:],), options)
        if scheme in _NETWORK:
            return _build(_load(_NAMES["redis"]), url_or_name, (url_or_name,), options)
        raise ConfigError("store", f"{_EXPECTED}; got {url_or_name!r}")
    path = _NAMES.get(url_or_name, url_or_name)
    if ":" not in path:
        raise ConfigError("store", f"{_EXPECTED}; got {url_or_name!r}")
    return _build(_load(path), url_or_name, (), options)


def _load(path: str) -> type[Store]:
    module_name, _, attr = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except ImportError as err:
        hint = " (pip install 'personalize[redis]')" if module_name.endswith(".redis") else ""
        raise ConfigError("store", f"cannot import {module_name!r}{hint}: {err}") from err
    except AttributeError as err:
        raise ConfigError("store", f"module {module_name!r} has no {attr!r}") from err
    if not (isinstance(found, type) and issubclass(found, Store)):
        raise ConfigError("store", f"expected a Store subclass at {path!r}, got {found!r}")
    return found


def _build(
    cls: type[Store], url_or_name: str, args: tuple[Any, ...], options: dict[str, Any]
) -> Store:
    try:
        inspect.signature(cls).bind(*args, **options)
    except TypeError as err:
        raise ConfigError("store", f"bad options for {url_or_name!r}: {err}") from err
    return cls(*args, **options)
