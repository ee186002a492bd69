"""Everything a store holds, as text, read behind the store's back.

The privacy tests search these dumps rather than asking the store's own API,
so data kept anywhere — a table or key the API does not expose — is found.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import redis


def dump_sqlite(path: Path) -> dict[str, str]:
    """Table name → every row of it, as text (BLOBs decoded leniently)."""
    conn = sqlite3.connect(path)
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: "\n".join(
            " | ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
            for row in conn.execute(f'SELECT * FROM "{table}"')) for table in tables}
    finally:
        conn.close()


def dump_redis(url: str) -> dict[str, str]:
    """Key → its whole value, as text, for every key of every type."""
    client = redis.Redis.from_url(url)
    try:
        found: dict[str, str] = {}
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            value: object
            if kind == "string":
                value = client.get(key)
            elif kind == "hash":
                value = client.hgetall(key)
            elif kind == "set":
                value = sorted(client.smembers(key))
            elif kind == "zset":
                value = client.zrange(key, 0, -1, withscores=True)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "stream":
                value = client.xrange(key)
            else:
                raise AssertionError(f"unexpected Redis type {kind!r} at {key!r}")
            found[key.decode("latin-1")] = _text(value)
        return found
    finally:
        client.close()


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return " ".join(f"{_text(k)}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value)
    return str(value)
