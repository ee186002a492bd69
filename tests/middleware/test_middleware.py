"""The WSGI middleware end to end through ``werkzeug.test``: content, headers, fail-open."""

from __future__ import annotations

import gc
import gzip
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder
from werkzeug.wrappers import Request, Response

from personalize.engine import Personalizer
from personalize.middleware import PersonalizeMiddleware, skipped
from personalize.store.memory import MemoryStore

RULES = Path(__file__).parent / "rules"
SECRET = "middleware-tests-secret-0123456789"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
DESKTOP = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
MARKED = (b"<html><body><section data-personalize-slot=\"hero\">fallback hero</section>"
          b"<div data-personalize-slot='promo'>fallback promo</div></body></html>")


def host_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """A host site with every kind of response the middleware must handle."""
    request = Request(environ)
    path = request.path
    if path == "/template":
        handle = environ["personalize"]
        body = f"<html><body>{handle.slot('hero')}</body></html>"
        return Response(body, mimetype="text/html")(environ, start_response)
    if path == "/stream":
        def chunks() -> Iterator[bytes]:
            yield MARKED
        return Response(chunks(), mimetype="text/html")(environ, start_response)
    if path == "/gzip":
        response = Response(gzip.compress(MARKED), mimetype="text/html")
        response.headers["Content-Encoding"] = "gzip"
        return response(environ, start_response)
    if path == "/json":
        return Response(b'{"data-personalize-slot": "hero"}',
                        mimetype="application/json")(environ, start_response)
    if path == "/not-modified":
        return Response(status=304)(environ, start_response)
    if path == "/boom":
        handle = environ["personalize"]
        handle.slot("hero")
        return Response(MARKED, status=500, mimetype="text/html")(environ, start_response)
    if path == "/cached":
        response = Response(MARKED, mimetype="text/html")
        response.headers["Cache-Control"] = "public, max-age=600, s-maxage=600"
        response.headers["Vary"] = "Accept-Encoding"
        return response(environ, start_response)
    return Response(MARKED, mimetype="text/html")(environ, start_response)


class BufferedClient(Client):
    """Consumes and closes every response, as a real server does (commit runs on close)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def engine() -> Iterator[Personalizer]:
    store = MemoryStore()
    yield Personalizer(rules=RULES, store=store, secret=SECRET, random_state=7)
    store.close()


@pytest.fixture
def client(engine: Personalizer) -> Client:
    return BufferedClient(PersonalizeMiddleware(host_app, engine=engine))


def test_markers_are_filled_on_the_server(client: Client) -> None:
    response = client.get("/", headers={"User-Agent": IPHONE})
    body = response.get_data()
    assert response.status_code == 200
    assert b"<h2>On the go</h2>" in body and b"fallback hero" not in body
    assert body.count(b"data-personalize-decision=") == 2
    assert int(response.headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        pytest.param("/stream", {}, id="streamed"),
        pytest.param("/gzip", {}, id="compressed"),
        pytest.param("/json", {}, id="json"),
        pytest.param("/not-modified", {}, id="304"),
    ],
)
def test_responses_we_must_not_rewrite_pass_through(client: Client, path: str,
                                                   headers: dict[str, str]) -> None:
    bare = BufferedClient(host_app).get(path, headers=headers)
    wrapped = client.get(path, headers=headers)
    assert wrapped.status_code == bare.status_code
    assert wrapped.get_data() == bare.get_data()
    assert "Set-Cookie" not in wrapped.headers


def test_head_is_not_buffered_or_personalized(client: Client) -> None:
    response = client.head("/")
    assert response.status_code == 200 and response.get_data() == b""


def test_personalized_pages_are_never_shared_by_caches(client: Client) -> None:
    response = client.get("/cached", headers={"User-Agent": DESKTOP})
    assert "cookie" in response.headers["Vary"].lower()
    assert "accept-encoding" in response.headers["Vary"].lower()
    cache = response.headers["Cache-Control"]
    assert cache.startswith("private") and "public" not in cache and "s-maxage" not in cache
    assert response.headers["Server-Timing"].startswith("personalize;dur=")


def test_the_visitor_cookie_is_httponly_lax_and_secure_on_https(client: Client) -> None:
    plain = client.get("/", headers={"User-Agent": DESKTOP}).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    secure = BufferedClient(client.application).get("/", base_url="https://shop.example/",
                                             headers={"User-Agent": DESKTOP})
    assert "Secure" in secure.headers["Set-Cookie"]


def test_a_returning_visitor_keeps_the_same_id(client: Client, engine: Personalizer) -> None:
    first = client.get("/", headers={"User-Agent": DESKTOP})
    assert "Set-Cookie" in first.headers
    second = client.get("/", headers={"User-Agent": DESKTOP})
    assert "Set-Cookie" not in second.headers
    engine.store.flush()
    exposures = list(engine.store.read_log(types=["exposure"]))
    assert len({r["visitor"] for r in exposures}) == 1 and len(exposures) == 4


def test_template_helper_wraps_content_with_its_decision(client: Client) -> None:
    body = client.get("/template", headers={"User-Agent": IPHONE}).get_data(as_text=True)
    assert '<div data-personalize-slot="hero" data-personalize-decision="' in body
    assert "<h2>On the go</h2>" in body


def test_nothing_is_saved_on_a_5xx(client: Client, engine: Personalizer) -> None:
    response = client.get("/boom", headers={"User-Agent": DESKTOP})
    assert response.status_code == 500
    assert "Set-Cookie" not in response.headers
    engine.store.flush()
    assert list(engine.store.read_log()) == []


def test_do_not_track_sets_no_cookie_and_stores_nothing(client: Client,
                                                        engine: Personalizer) -> None:
    response = client.get("/", headers={"User-Agent": IPHONE, "DNT": "1"})
    assert response.status_code == 200 and b"<h2>On the go</h2>" in response.get_data()
    assert "Set-Cookie" not in response.headers
    engine.store.flush()
    assert list(engine.store.read_log()) == []


@pytest.mark.parametrize(
    ("path", "skips"),
    [("/static/app.css", True), ("/health", True), ("/health/db", True),
     ("/healthy-recipes", False), ("/", False), ("/staticky", False)],
)
def test_skip_paths(path: str, skips: bool) -> None:
    assert skipped(path, ("/static/", "/health")) is skips


def test_skipped_paths_pass_through_untouched(client: Client) -> None:
    response = client.get("/static/page.html")
    assert response.get_data() == MARKED and "Set-Cookie" not in response.headers


STAGES = [
    pytest.param("visit", id="context"),
    pytest.param("decide", id="decide"),
    pytest.param("commit", id="commit"),
    pytest.param("render", id="render"),
]


@pytest.mark.parametrize("stage", STAGES)
def test_a_fault_in_any_stage_still_serves_200(engine: Personalizer, stage: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"injected fault in {stage}")

    monkeypatch.setattr(engine, stage, broken)
    response = BufferedClient(PersonalizeMiddleware(host_app, engine=engine)).get(
        "/", headers={"User-Agent": IPHONE})
    assert response.status_code == 200
    body = response.get_data()
    if stage == "render":
        # not even the default can be rendered: the page's own fallback stays
        assert b"fallback hero" in body
    elif stage == "commit":
        assert b"<h2>On the go</h2>" in body
    else:
        assert b"<h2>Welcome</h2>" in body  # the slot's default
    assert engine.counters.get("fail_open", 0) + engine.counters.get("commit_errors", 0) >= 1
    assert f"injected fault in {stage}" in caplog.text


def test_a_failing_store_serves_personalized_rules_without_history(
        client: Client, engine: Personalizer) -> None:
    client.get("/", headers={"User-Agent": IPHONE})  # a returning visitor from now on
    engine.store.close()  # every store call now raises StoreError
    response = client.get("/", headers={"User-Agent": IPHONE})
    assert response.status_code == 200 and b"<h2>On the go</h2>" in response.get_data()
    assert engine.counters["store_degraded"] == 1
    assert "Set-Cookie" not in response.headers


def test_an_unknown_slot_leaves_the_markers_own_content(client: Client) -> None:
    app = PersonalizeMiddleware(
        lambda e, s: Response(b'<p data-personalize-slot="nope">mine</p>',
                              mimetype="text/html")(e, s),
        engine=client.application.engine)
    assert BufferedClient(app).get("/").get_data() == b'<p data-personalize-slot="nope">mine</p>'


def test_a_slow_profile_read_does_not_hold_up_other_threads(
        engine: Personalizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a threaded server one visitor's stalled store read must not queue everyone else."""
    client = BufferedClient(PersonalizeMiddleware(host_app, engine=engine))
    slow, fast = BufferedClient(client.application), client
    slow.get("/", headers={"User-Agent": IPHONE})  # returning visitors: profiles are read
    fast.get("/", headers={"User-Agent": DESKTOP})
    stalled, release = threading.Event(), threading.Event()
    read = engine.store.get_profile

    def get_profile(visitor: str) -> Any:
        if threading.current_thread().name == "slow-visitor":
            stalled.set()
            release.wait(10)
        return read(visitor)

    monkeypatch.setattr(engine.store, "get_profile", get_profile)
    thread = threading.Thread(target=slow.get, args=("/",), name="slow-visitor",
                              kwargs={"headers": {"User-Agent": IPHONE}})
    thread.start()
    try:
        assert stalled.wait(10)
        done = threading.Event()
        other = threading.Thread(target=lambda: (fast.get("/", headers={"User-Agent": DESKTOP}),
                                                 done.set()))
        other.start()
        assert done.wait(5), "another visitor's request waited for the stalled profile read"
        other.join()
    finally:
        release.set()
        thread.join(10)


def test_a_finished_request_leaves_no_reference_cycle(engine: Personalizer) -> None:
    """Garbage only the cyclic collector frees makes collections frequent and slow."""
    def plain_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["personalize"].slot("promo")
        start_response("200 OK", [("Content-Type", "text/html")])
        return [MARKED]

    app = PersonalizeMiddleware(plain_app, engine=engine)
    cookie = BufferedClient(app).get("/", headers={"User-Agent": IPHONE}).headers["Set-Cookie"]
    environs = [EnvironBuilder(path="/", headers={"User-Agent": IPHONE,
                                                  "Cookie": cookie.split(";")[0]}).get_environ()
                for _ in range(3)]
    gc.collect()
    gc.disable()
    try:
        while environs:  # a returning visitor: profile, decisions, log
            response = app(environs.pop(), lambda status, headers, exc_info=None: None)
            b"".join(response)
            response.close()  # type: ignore[attr-defined]
            del response  # with the environ, nothing of the request is referenced now
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert unreachable == 0
