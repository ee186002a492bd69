"""Redis specifics: key layout, expiry, trimming, and failing fast when Redis dies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import redis

from personalize.exceptions import ConfigError, StoreError
from personalize.store import RedisStore, Store, make_store
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_url, prefix="t:")
    yield store
    store.close()


def test_every_key_is_under_the_prefix(store: RedisStore, client: redis.Redis) -> None:
    store.put_profile("v1", {"a": 1})
    store.append([{"ts": 1, "type": "exposure", "visitor": "v1"}])
    store.add_stats("hero", {"b": np.ones(2)})
    store.set_state("paused:hero", {"variant": "b"})
    store.claim("event:d-1", 10)
    assert sorted(client.keys("*")) == [
        b"t:c:event:d-1", b"t:log", b"t:lv:v1", b"t:p:v1", b"t:profiles", b"t:s:hero", b"t:state"
    ]


def test_two_prefixes_share_a_database_without_seeing_each_other(
    store: RedisStore, redis_url: str
) -> None:
    other = RedisStore(redis_url, prefix="other:")
    try:
        store.put_profile("v1", {"site": "t"})
        store.append([{"ts": 1, "type": "exposure"}])
        store.set_state("k", {"site": "t"})
        assert other.get_profile("v1") is None
        assert list(other.read_log()) == []
        assert other.list_state("") == {}
        assert other.claim("k", 10) and store.claim("k", 10)
    finally:
        other.close()


@pytest.mark.parametrize(
    ("ttl", "low", "high"),
    [
        pytest.param(60.0, 59_000, 60_000, id="seconds"),
        pytest.param(180 * 86400, 180 * 86400_000 - 1000, 180 * 86400_000, id="default"),
        pytest.param(None, -1, -1, id="none-keeps-forever"),
    ],
)
def test_profiles_expire_profile_ttl_after_their_last_write(
    redis_url: str, client: redis.Redis, ttl: float | None, low: int, high: int
) -> None:
    kwargs: dict[str, Any] = {} if ttl == 180 * 86400 else {"profile_ttl": ttl}
    store = RedisStore(redis_url, **kwargs)
    try:
        store.put_profile("v1", {})
        assert low <= client.pttl("pz:p:v1") <= high
    finally:
        store.close()


def test_a_profile_is_gone_when_its_ttl_passes(redis_url: str) -> None:
    store = RedisStore(redis_url, profile_ttl=0.1)
    try:
        store.put_profile("v1", {"a": 1})
        assert store.get_profile("v1") == {"a": 1}
        time.sleep(0.2)
        assert store.get_profile("v1") is None
    finally:
        store.close()


def test_the_log_stream_is_trimmed_to_about_log_maxlen(redis_url: str, client: redis.Redis) -> None:
    store = RedisStore(redis_url, log_maxlen=10)
    try:
        for start in range(0, 2000, 100):
            store.append([{"ts": i, "type": "exposure", "n": i} for i in range(start, start + 100)])
        length = client.xlen("pz:log")
        assert 10 <= length < 500
        assert [r["n"] for r in store.read_log()][-1] == 1999
    finally:
        store.close()


def test_stream_entries_carry_ts_type_visitor_and_the_record(
    store: RedisStore, client: redis.Redis
) -> None:
    record = {"ts": 12.5, "type": "click", "visitor": "v1", "decision": "d-1"}
    store.append([record, {"ts": 13, "type": "exposure"}])
    (_, first), (_, second) = client.xrange("t:log")
    assert first == {
        b"t": b"12.5", b"y": b"click", b"v": b"v1",
        b"r": b'{"ts":12.5,"type":"click","visitor":"v1","decision":"d-1"}',
    }
    assert second[b"v"] == b""
    assert client.smembers("t:lv:v1") == {client.xrange("t:log")[0][0]}


def test_read_log_finds_records_whose_ts_is_within_log_skew_ahead(redis_url: str) -> None:
    store = RedisStore(redis_url, log_skew=3600)
    try:
        ahead = time.time() + 1800  # a web server's clock half an hour fast
        store.append([{"ts": ahead, "type": "exposure"}])
        assert [r["ts"] for r in store.read_log(since=ahead - 1)] == [ahead]
    finally:
        store.close()


def test_stats_are_float64_bytes_and_a_shape(store: RedisStore, client: redis.Redis) -> None:
    store.add_stats("hero", {"A": np.eye(2)})
    store.add_stats("hero", {"A": np.eye(2)})
    assert client.hgetall("t:s:hero") == {
        b"v:A": (2 * np.eye(2)).astype("<f8").tobytes(),
        b"s:A": b"[2,2]",
    }


def test_claims_expire_on_the_server_with_px(store: RedisStore, client: redis.Redis) -> None:
    assert store.claim("event:d-1", 1.5)
    assert 1000 < client.pttl("t:c:event:d-1") <= 1500


def test_forget_uses_and_removes_the_visitor_index(store: RedisStore, client: redis.Redis) -> None:
    store.append([{"ts": i, "type": "exposure", "visitor": "v1"} for i in range(3)])
    assert client.scard("t:lv:v1") == 3
    assert store.forget("v1") == 3
    assert not client.exists("t:lv:v1")
    assert client.xlen("t:log") == 0


def test_purge_drops_purged_ids_from_the_visitor_index(
    store: RedisStore, client: redis.Redis
) -> None:
    store.append([{"ts": 1, "type": "x", "visitor": "v1"}, {"ts": 9, "type": "x", "visitor": "v1"}])
    assert store.purge(5) == 1
    assert client.smembers("t:lv:v1") == {client.xrange("t:log")[0][0]}


def test_make_store_passes_options(redis_url: str) -> None:
    store = make_store(redis_url, buffered=False, prefix="opt:", log_maxlen=5)
    try:
        assert isinstance(store, RedisStore)
        assert store.prefix == "opt:"
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        pytest.param({"url": "http://x"}, "url", id="not-redis-url"),
        pytest.param({"profile_ttl": 0}, "profile_ttl", id="ttl-zero"),
        pytest.param({"log_maxlen": 0}, "log_maxlen", id="maxlen-zero"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        RedisStore(**kwargs)
    assert info.value.key == key


# -- failures -----------------------------------------------------------------------

OPERATIONS: list[Any] = [
    pytest.param(lambda s: s.get_profile("v1"), id="get_profile"),
    pytest.param(lambda s: s.put_profile("v1", {}), id="put_profile"),
    pytest.param(lambda s: s.append([{"ts": 1, "type": "x", "visitor": "v1"}]), id="append"),
    pytest.param(lambda s: list(s.read_log()), id="read_log"),
    pytest.param(lambda s: s.add_stats("k", {"x": np.ones(1)}), id="add_stats"),
    pytest.param(lambda s: s.get_stats("k"), id="get_stats"),
    pytest.param(lambda s: s.get_state("k"), id="get_state"),
    pytest.param(lambda s: s.set_state("k", {}), id="set_state"),
    pytest.param(lambda s: s.list_state(""), id="list_state"),
    pytest.param(lambda s: s.claim("k", 1), id="claim"),
    pytest.param(lambda s: s.forget("v1"), id="forget"),
    pytest.param(lambda s: s.purge(0), id="purge"),
]


def test_nothing_listening_fails_fast() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="ConnectionError"):
            store.get_profile("v1")
        assert store.ping() is False
        assert time.monotonic() - started < 1.0
    finally:
        store.close()


@pytest.fixture(scope="module")
def own_server() -> Iterator[RedisServer]:
    """A server of this module's own, for killing without disturbing the others."""
    with RedisServer() as server:
        yield server


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_killed_server_fails_fast_and_a_restarted_one_is_used_again(
    own_server: RedisServer, operation: Callable[[Store], object]
) -> None:
    store = RedisStore(own_server.url, socket_timeout=0.25)
    try:
        operation(store)  # the pool now holds a connection to the server we kill
        assert store.ping() is True
        own_server.kill()
        started = time.monotonic()
        with pytest.raises(StoreError, match="Redis"):
            operation(store)
        assert store.ping() is False
        assert time.monotonic() - started < 1.0
        own_server.restart()
        operation(store)
        store.put_profile("v1", {"back": True})
        assert store.get_profile("v1") == {"back": True}
    finally:
        store.close()
        if not own_server.running:
            own_server.restart()


def test_a_server_that_stops_answering_times_out(own_server: RedisServer) -> None:
    store = RedisStore(own_server.url, socket_timeout=0.25)
    blocker = redis.Redis.from_url(own_server.url)
    try:
        store.set_state("k", {"a": 1})
        # CLIENT PAUSE stops the server answering, as a stalled host would.
        blocker.execute_command("CLIENT", "PAUSE", 1000, "ALL")
        started = time.monotonic()
        with pytest.raises(StoreError, match="Timeout"):
            store.get_state("k")
        assert time.monotonic() - started < 0.8
        blocker.execute_command("CLIENT", "UNPAUSE")
        assert store.get_state("k") == {"a": 1}
    finally:
        blocker.close()
        store.close()


def test_state_documents_are_json_in_one_hash(store: RedisStore, client: redis.Redis) -> None:
    store.set_state("k", {"a": [1, 2]})
    assert json.loads(client.hget("t:state", "k")) == {"a": [1, 2]}
