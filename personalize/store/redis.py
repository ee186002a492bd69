"""A store in Redis, shared by many processes and hosts.

::

    from personalize.store import RedisStore

    store = RedisStore("redis://cache.internal:6379/0", prefix="shop:")

Layout, every key under ``prefix`` (default ``pz:``):

=====================  ==========================================================
``p:<visitor>``        the profile, JSON, expiring ``profile_ttl`` after its last write
``profiles``           sorted set visitor → last write time, so :meth:`purge` finds
                       old profiles without scanning the key space
``log``                the event log, a stream trimmed to about ``log_maxlen`` entries;
                       each entry holds ``t`` (the record's ``ts``), ``y`` (type),
                       ``v`` (visitor) and ``r`` (the record as JSON)
``lv:<visitor>``       set of the visitor's stream ids, so :meth:`forget` erases their
                       records without reading the whole log; it expires with the profile
``s:<key>``            hash of a statistic: ``v:<name>`` little-endian float64 bytes,
                       ``s:<name>`` its shape as JSON; deltas merge in a Lua script
``state``              hash of state documents, JSON
``c:<key>``            a claim, ``SET NX PX``: expiry is kept by the server's clock
=====================  ==========================================================

Every write is a single command or Lua script, so it is atomic and needs no
locks. Scripts touch keys they build from ``prefix``, so this backend needs a
single Redis (or a Sentinel-managed primary), not Redis Cluster.

Stream ids are the server's clock at append time, while a record's ``ts`` is
when the event happened. :meth:`read_log` starts reading at ``since - log_skew``
by stream id and filters on the stored ``ts``: a record whose ``ts`` is more than
``log_skew`` seconds ahead of the Redis clock when it was appended can be missed
by a read with ``since``. :meth:`purge` reads the whole stream, because late
records may carry any ``ts``; it is a batch job, not a request-path call.

A visitor's stream ids are indexed for ``profile_ttl`` after their last record.
Run :meth:`purge` with a retention no longer than that (or let ``log_maxlen``
trimming be shorter), so that no record outlives its index entry.

Failures are fast and clean: sockets time out after ``socket_timeout`` seconds,
nothing is retried (a retried merge could count twice), and every Redis error
is raised as :class:`~personalize.exceptions.StoreError`. Buffering while Redis
is down belongs to the layer above. When the server comes back the pool
reconnects on the next call.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, cast

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..exceptions import ConfigError, StoreError
from .base import (
    Record,
    Stats,
    Store,
    array_from_bytes,
    array_to_bytes,
    check_delta,
    check_records,
    check_shapes,
    dumps,
    dumps_mapping,
    loads,
)

_PAGE = 1000
_Entry = tuple[bytes, dict[bytes, bytes]]

# KEYS: log stream. ARGV: maxlen, visitor-index key prefix, index ttl ms (0: none),
# then (ts, type, visitor or "", record JSON) per record.
_APPEND = """
for i = 4, #ARGV, 4 do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                        't', ARGV[i], 'y', ARGV[i + 1], 'v', ARGV[i + 2], 'r', ARGV[i + 3])
  if ARGV[i + 2] ~= '' then
    local index = ARGV[2] .. ARGV[i + 2]
    redis.call('SADD', index, id)
    if ARGV[3] ~= '0' then redis.call('PEXPIRE', index, ARGV[3]) end
  end
end
return 1
"""

# KEYS: stats hash. ARGV: (name, shape JSON, float64 bytes) per array.
# All shapes are checked before anything is written, so a refused delta changes nothing.
_ADD_STATS = """
for i = 1, #ARGV, 3 do
  local shape = redis.call('HGET', KEYS[1], 's:' .. ARGV[i])
  if shape and shape ~= ARGV[i + 1] then
    return redis.error_reply('SHAPE ' .. shape .. ' ' .. ARGV[i])
  end
end
for i = 1, #ARGV, 3 do
  local field = 'v:' .. ARGV[i]
  local current = redis.call('HGET', KEYS[1], field)
  if current then
    local delta, parts = ARGV[i + 2], {}
    for pos = 1, #current, 8 do
      parts[#parts + 1] = struct.pack('<d',
        struct.unpack('<d', current, pos) + struct.unpack('<d', delta, pos))
    end
    redis.call('HSET', KEYS[1], field, table.concat(parts))
  else
    redis.call('HSET', KEYS[1], field, ARGV[i + 2], 's:' .. ARGV[i], ARGV[i + 1])
  end
end
return 1
"""

# KEYS: log stream, visitor index, profile, profile index. ARGV: visitor id.
_FORGET = """
local removed = redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[1])
local ids = redis.call('SMEMBERS', KEYS[2])
for i = 1, #ids, 500 do
  removed = removed + redis.call('XDEL', KEYS[1], unpack(ids, i, math.min(i + 499, #ids)))
end
redis.call('DEL', KEYS[2])
return removed
"""

# KEYS: profile index. ARGV: older_than, profile key prefix, batch size.
_PURGE_PROFILES = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[3])
local removed = 0
for _, id in ipairs(ids) do
  removed = removed + redis.call('DEL', ARGV[2] .. id)
  redis.call('ZREM', KEYS[1], id)
end
return {#ids, removed}
"""


class RedisStore(Store):
    """Profiles, log, statistics and state in one Redis database.

    :param url: ``redis://[:password@]host:port/db`` (or ``rediss://``).
    :param prefix: put before every key, so several sites can share a database.
    :param profile_ttl: seconds a profile lives after its last write; ``None``
        keeps profiles until :meth:`forget` or :meth:`purge`.
    :param log_maxlen: about how many records the log stream keeps.
    :param log_skew: how far ahead of the Redis clock a record's ``ts`` may be
        and still be found by :meth:`read_log` with ``since``.
    :param socket_timeout: seconds for connecting and for each command.
    :param max_connections: the pool's limit, per process.
    :param clock: returns the time in epoch seconds (when profiles were
        written, for :meth:`purge`); claims expire on the server's clock.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "pz:",
        profile_ttl: float | None = 180 * 86400,
        log_maxlen: int = 1_000_000,
        log_skew: float = 3600.0,
        socket_timeout: float = 0.25,
        max_connections: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if profile_ttl is not None and profile_ttl <= 0:
            raise ConfigError(
                "profile_ttl", f"expected positive seconds or None, got {profile_ttl!r}"
            )
        if log_maxlen < 1:
            raise ConfigError("log_maxlen", f"expected a positive number, got {log_maxlen!r}")
        self.prefix = prefix
        self.clock = clock
        self._profile_ttl_ms = 0 if profile_ttl is None else math.ceil(profile_ttl * 1000)
        self._log_maxlen = log_maxlen
        self._log_skew = log_skew
        self._closed = False
        try:
            self._pool = redis.ConnectionPool.from_url(
                url,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
                retry=Retry(NoBackoff(), 0),
                max_connections=max_connections,
            )
        except ValueError as err:
            raise ConfigError("url", f"expected redis://host:port/db, got {url!r}: {err}") from err
        self._redis = redis.Redis(connection_pool=self._pool)
        self._log_key = f"{prefix}log"
        self._profiles_key = f"{prefix}profiles"
        self._state_key = f"{prefix}state"
        self._append = self._redis.register_script(_APPEND)
        self._add_stats = self._redis.register_script(_ADD_STATS)
        self._forget = self._redis.register_script(_FORGET)
        self._purge_profiles = self._redis.register_script(_PURGE_PROFILES)

    def __repr__(self) -> str:
        kwargs = self._pool.connection_kwargs
        return f"{type(self).__name__}({kwargs.get('host')}:{kwargs.get('port')}, {self.prefix!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed; create a new one to keep using it")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[redis.Redis]:
        self._check_open()
        try:
            yield self._redis
        except redis.RedisError as err:
            raise StoreError(f"Redis {self!r}: {type(err).__name__}: {err}") from err

    # -- profiles ---------------------------------------------------------
    def get_profile(self, visitor_id: str) -> dict[str, Any] | None:
        with self._errors() as r:
            text = r.get(f"{self.prefix}p:{visitor_id}")
        return None if text is None else dict(loads(text))

    def put_profile(self, visitor_id: str, profile: Mapping[str, Any]) -> None:
        text = dumps_mapping(profile)
        now = self.clock()
        with self._errors() as r:
            pipe = r.pipeline(transaction=True)
            pipe.set(f"{self.prefix}p:{visitor_id}", text, px=self._profile_ttl_ms or None)
            pipe.zadd(self._profiles_key, {visitor_id: now})
            if self._profile_ttl_ms:
                # Keep the index to the profiles that can still exist.
                pipe.zremrangebyscore(self._profiles_key, "-inf", now - self._profile_ttl_ms / 1000)
            pipe.execute()

    # -- the log ----------------------------------------------------------
    def append(self, records: Sequence[Record]) -> None:
        check_records(records)
        if not records:
            return
        args: list[Any] = [self._log_maxlen, f"{self.prefix}lv:", self._profile_ttl_ms]
        for record in records:
            args += [repr(float(record["ts"])), record["type"], record.get("visitor") or "",
                     dumps_mapping(record)]
        with self._errors():
            self._append(keys=[self._log_key], args=args)

    def read_log(
        self,
        *,
        since: float = 0.0,
        types: Collection[str] | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        self._check_open()
        wanted = None if types is None else {t.encode() for t in types}
        return self._read_log(since, wanted, limit)

    def _read_log(
        self, since: float, types: set[bytes] | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        if limit is not None and limit <= 0:
            return
        count = 0
        for _id, fields in self._entries(max(0, math.floor((since - self._log_skew) * 1000))):
            if float(fields[b"t"]) >= since and (types is None or fields[b"y"] in types):
                yield dict(loads(fields[b"r"]))
                count += 1
                if count == limit:
                    return

    def _entries(self, start_ms: int = 0) -> Iterator[_Entry]:
        """Every stream entry from ``start_ms`` on, a page per round trip."""
        start = f"{start_ms}-0"
        while True:
            with self._errors() as r:
                page = cast(
                    "list[_Entry]", r.xrange(self._log_key, min=start, max="+", count=_PAGE)
                )
            yield from page
            if len(page) < _PAGE:
                return
            start = "(" + page[-1][0].decode()

    def tail(self, cursor: str | None, *, limit: int = 10_000,
             types: Collection[str] | None = None) -> tuple[list[dict[str, Any]], str]:
        self._check_open()
        with self._errors() as r:
            if cursor is None:
                last = cast("list[_Entry]", r.xrevrange(self._log_key, max="+", min="-",
                                                        count=1))
                return [], last[0][0].decode() if last else "0-0"
            page = cast("list[_Entry]", r.xrange(self._log_key, min="(" + cursor, max="+",
                                                 count=limit))
        wanted = None if types is None else {t.encode() for t in types}
        records = [dict(loads(fields[b"r"])) for _id, fields in page
                   if wanted is None or fields[b"y"] in wanted]
        return records, page[-1][0].decode() if page else cursor

    # -- statistics -------------------------------------------------------
    def add_stats(self, key: str, delta: Mapping[str, np.ndarray]) -> None:
        arrays = check_delta(delta)
        if not arrays:
            return
        args: list[Any] = []
        for name, array in arrays.items():
            args += [name, dumps(list(array.shape)), array_to_bytes(array)]
        self._check_open()
        try:
            self._add_stats(keys=[f"{self.prefix}s:{key}"], args=args)
        except redis.ResponseError as err:
            if str(err).startswith("SHAPE "):
                _, shape, name = str(err).split(" ", 2)
                check_shapes(key, {name: tuple(loads(shape))}, arrays)  # raises
            raise StoreError(f"Redis {self!r}: {err}") from err
        except redis.RedisError as err:
            raise StoreError(f"Redis {self!r}: {type(err).__name__}: {err}") from err

    def get_stats(self, key: str) -> Stats:
        with self._errors() as r:
            fields = cast("dict[bytes, bytes]", r.hgetall(f"{self.prefix}s:{key}"))
        return {
            field[2:].decode(): array_from_bytes(value, loads(fields[b"s:" + field[2:]]))
            for field, value in fields.items()
            if field.startswith(b"v:")
        }

    # -- state and claims -------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._errors() as r:
            text = r.hget(self._state_key, key)
        return None if text is None else dict(loads(text))

    def set_state(self, key: str, value: Mapping[str, Any] | None) -> None:
        with self._errors() as r:
            if value is None:
                r.hdel(self._state_key, key)
            else:
                r.hset(self._state_key, key, dumps_mapping(value))

    def list_state(self, prefix: str) -> dict[str, dict[str, Any]]:
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        with self._errors() as r:
            found = dict(r.hscan_iter(self._state_key, match=pattern, count=500))
        return {
            field.decode(): dict(loads(text))
            for field, text in found.items()
            if field.decode().startswith(prefix)
        }

    def claim(self, key: str, ttl_seconds: float) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds: expected a positive number, got {ttl_seconds!r}")
        with self._errors() as r:
            won = r.set(f"{self.prefix}c:{key}", b"1", nx=True, px=math.ceil(ttl_seconds * 1000))
        return bool(won)

    # -- privacy ----------------------------------------------------------
    def forget(self, visitor_id: str) -> int:
        keys = [
            self._log_key,
            f"{self.prefix}lv:{visitor_id}",
            f"{self.prefix}p:{visitor_id}",
            self._profiles_key,
        ]
        with self._errors():
            return int(self._forget(keys=keys, args=[visitor_id]))

    def purge(self, older_than: float) -> int:
        removed = 0
        while True:
            with self._errors():
                found, deleted = self._purge_profiles(
                    keys=[self._profiles_key], args=[repr(older_than), f"{self.prefix}p:", _PAGE]
                )
            removed += int(deleted)
            if int(found) < _PAGE:
                break
        old = [
            (entry_id, fields[b"v"])
            for entry_id, fields in self._entries()
            if float(fields[b"t"]) < older_than
        ]
        for start in range(0, len(old), _PAGE):
            chunk = old[start : start + _PAGE]
            with self._errors() as r:
                pipe = r.pipeline(transaction=False)
                pipe.xdel(self._log_key, *(entry_id for entry_id, _ in chunk))
                for entry_id, visitor in chunk:
                    if visitor:
                        pipe.srem(f"{self.prefix}lv:".encode() + visitor, entry_id)
                removed += int(pipe.execute()[0])
        return removed

    # -- lifecycle --------------------------------------------------------
    def ping(self) -> bool:
        """True when Redis answers PING within ``socket_timeout``; never raises."""
        try:
            with self._errors() as r:
                return bool(r.ping())
        except StoreError:
            return False

    def close(self) -> None:
        """Close the pool's connections; calling it again does nothing."""
        if not self._closed:
            self._closed = True
            self._pool.disconnect()
