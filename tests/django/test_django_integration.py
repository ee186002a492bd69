"""The Django integration, in a real project made by ``django-admin startproject``.

The ``site`` fixture makes the project in a temporary directory, wires it as
``docs/django.md`` says (with ``GZipMiddleware`` on top, to prove the ordering),
gives it its own small rule directory, and serves it with ``manage.py
runserver`` on a free loopback port; the tests speak real HTTP to it. The
settings helpers are also checked in-process over a table of bad values.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from personalize.context.visitor import VISITOR_COOKIE
from personalize.exceptions import ConfigError
from personalize.integrations.django import apps as django_apps
from personalize.integrations.django import conf
from personalize.integrations.django import middleware as django_middleware
from personalize.store import make_store
from tests.support.servers import free_port, wait_until_serving

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MIDDLEWARE = "personalize.integrations.django.middleware.PersonalizeMiddleware"
BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")
SECRET = "django-test-secret-0123456789abcdef"

RULES = """\
guardrails:
  holdout: {share: 0}
slots:
  hero:
    default: hero-default
    variants:
      - {id: hero-default, html: "<h1>HERO-DEFAULT</h1>"}
      - {id: hero-spring, html: "<h1>HERO-SPRING</h1>"}
  greeting:
    default: greeting-default
    variants:
      - {id: greeting-default, html: "<p>GREETING-DEFAULT</p>"}
      - {id: greeting-hello, html: "<p>GREETING-HELLO</p>"}
  promo:
    default: promo-default
    variants:
      - {id: promo-default, html: "<p>PROMO-DEFAULT</p>"}
      - {id: promo-card, template: promo_card.html}
rules:
  - name: spring campaign
    then: {slot: hero, show: hero-spring}
  - name: say hello
    then: {slot: greeting, show: greeting-hello}
  - name: promo card
    then: {slot: promo, show: promo-card}
"""

PAGE = """\
{% load personalize %}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo shop</title></head>
<body>
<header>{% slot "hero" %}<h1>HERO-FALLBACK</h1>{% endslot %}{% personalize_why "hero" %}</header>
<main>{% with name="promo" %}{% slot name %}PROMO-FALLBACK{% endslot %}{% endwith %}
<p>Plain text long enough for GZipMiddleware, which leaves bodies under 200 bytes alone.</p>
</main>
<aside data-personalize-slot="greeting">MARKER-FALLBACK</aside>
{% if broken %}{% slot "no-such-slot" %}UNKNOWN-FALLBACK{% endslot %}{% endif %}
</body></html>
"""

VIEWS = """\
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string


def page(request):
    return render(request, "page.html")


def fault(request):
    return render(request, "page.html", {"broken": True})


def no_request(request):
    return HttpResponse(render_to_string("page.html"))


def health(request):
    return HttpResponse('<p data-personalize-slot="greeting">HEALTH-MARKER</p>')


def streaming(request):
    hero = request.personalize.slot("hero")  # decided before the first chunk is sent
    chunks = ["<!doctype html><body>", str(hero),
              '<p data-personalize-slot="greeting">STREAM-MARKER</p></body>']
    return StreamingHttpResponse(iter(chunks), content_type="text/html; charset=utf-8")
"""

URLS = """\
from django.urls import path

from . import views

urlpatterns = [
    path("", views.page),
    path("fault/", views.fault),
    path("no-request/", views.no_request),
    path("health", views.health),
    path("stream/", views.streaming),
]
"""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def cookie(self, name: str) -> str | None:
        """The ``Set-Cookie`` header setting ``name``, if any."""
        for value in self.headers.get_all("Set-Cookie") or []:
            if value.strip().startswith(f"{name}="):
                return value.strip()
        return None

    def tokens(self, header: str) -> set[str]:
        return {t.strip().lower() for t in (self.headers.get(header) or "").split(",") if t}


@dataclass(frozen=True)
class Site:
    url: str
    project: Path
    store_url: str
    env: Mapping[str, str]

    def fetch(self, path: str, *, headers: Mapping[str, str] | None = None,
              data: bytes | None = None) -> Reply:
        request = urllib.request.Request(self.url + path, data=data,
                                         headers={"User-Agent": BROWSER, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as err:
            with err:
                return Reply(err.code, err.headers, err.read())

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=self.project,
                              env=dict(self.env), capture_output=True, text=True, timeout=60)


def _make_project(tmp: Path) -> tuple[Path, str]:
    project = tmp / "project"
    project.mkdir()
    # `python -m django` is django-admin, run by the interpreter running the tests.
    subprocess.run([sys.executable, "-m", "django", "startproject", "demo", str(project)],
                   check=True, capture_output=True, timeout=60)
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "10-slots.yaml").write_text(RULES)
    templates = project / "templates"
    templates.mkdir()
    (templates / "page.html").write_text(PAGE)
    (templates / "promo_card.html").write_text(
        '<div class="card">PROMO-CARD {{ variant.id }}</div>')
    (project / "demo" / "views.py").write_text(VIEWS)
    (project / "demo" / "urls.py").write_text(URLS)
    store_url = f"sqlite:///{tmp / 'p.db'}"
    settings = project / "demo" / "settings.py"
    settings.write_text(settings.read_text() + textwrap.dedent(f"""
        INSTALLED_APPS += ["personalize.integrations.django"]
        MIDDLEWARE.insert(0, "django.middleware.gzip.GZipMiddleware")
        MIDDLEWARE.append({MIDDLEWARE!r})
        TEMPLATES[0]["DIRS"] = [BASE_DIR / "templates"]
        PERSONALIZE = {{"RULES": {str(rules)!r}, "STORE": {store_url!r},
                        "SECRET": {SECRET!r}, "RANDOM_STATE": 7}}
        """))
    (project / "demo" / "bad_settings.py").write_text(
        'from .settings import *  # noqa: F403\n'
        'PERSONALIZE = {**PERSONALIZE, "COOKIE_MAX_AGE": "a year"}  # noqa: F405\n')
    (project / "demo" / "misordered.py").write_text(
        'from .settings import *  # noqa: F403\n'
        f'MIDDLEWARE = [{MIDDLEWARE!r}, *[m for m in MIDDLEWARE if m != {MIDDLEWARE!r}]]'
        '  # noqa: F405\n')
    return project, store_url


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("django")
    project, store_url = _make_project(tmp)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), str(REPO)])}
    port = free_port()
    log_path = tmp / "runserver.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    site = Site(f"http://127.0.0.1:{port}", project, store_url, env)
    try:
        wait_until_serving(port, server, log_path, path="/health")
        yield site
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _decision_id(body: str, slot: str) -> str:
    marker = f'data-personalize-slot="{slot}" data-personalize-decision="'
    assert marker in body, body
    return body.split(marker, 1)[1].split('"', 1)[0]


def _wait_for_exposure(store_url: str, decision_id: str) -> dict[str, Any]:
    """The exposure the server logged for ``decision_id`` once it closed the response."""
    store = make_store(store_url)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for record in store.read_log(since=0.0, types=["exposure"]):
                if record.get("decision") == decision_id:
                    return dict(record)
            time.sleep(0.1)
    finally:
        store.close()
    raise AssertionError(f"no exposure logged for {decision_id}")


# -- the page, through runserver ----------------------------------------------

def test_page_is_personalized_and_marked_private(site: Site) -> None:
    reply = site.fetch("/")
    assert reply.status == 200
    assert "<h1>HERO-SPRING</h1>" in reply.text  # the tag, pinned by a rule
    assert "HERO-FALLBACK" not in reply.text
    assert '<div class="card">PROMO-CARD promo-card</div>' in reply.text  # template variant
    assert "<p>GREETING-HELLO</p>" in reply.text  # the HTML marker, filled
    assert "MARKER-FALLBACK" not in reply.text
    assert "cookie" in reply.tokens("Vary")
    assert "private" in reply.tokens("Cache-Control")
    assert reply.headers["Server-Timing"].startswith("personalize;dur=")
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    cookie = reply.cookie(VISITOR_COOKIE)
    assert cookie is not None
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http


def test_exposures_are_logged_after_the_response(site: Site) -> None:
    reply = site.fetch("/")
    decision = _decision_id(reply.text, "hero")
    record = _wait_for_exposure(site.store_url, decision)
    assert (record["slot"], record["variant"]) == ("hero", "hero-spring")


def test_markers_are_filled_before_gzip_compresses(site: Site) -> None:
    reply = site.fetch("/", headers={"Accept-Encoding": "gzip"})
    assert reply.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(reply.body).decode()
    assert "<p>GREETING-HELLO</p>" in body
    assert {"cookie", "accept-encoding"} <= reply.tokens("Vary")


def test_why_link_explains_the_decision_to_its_visitor(site: Site) -> None:
    reply = site.fetch("/")
    decision = _decision_id(reply.text, "hero")
    assert f'href="/_personalize/why?d={decision}"' in reply.text
    cookie = (reply.cookie(VISITOR_COOKIE) or "").split(";", 1)[0]
    why = site.fetch(f"/_personalize/why?d={decision}", headers={"Cookie": cookie})
    assert why.status == 200
    assert "Why you are seeing this" in why.text
    stranger = site.fetch(f"/_personalize/why?d={decision}")
    assert stranger.status == 403


def test_do_not_track_sets_no_visitor_cookie(site: Site) -> None:
    reply = site.fetch("/", headers={"DNT": "1"})
    assert reply.status == 200
    assert "<h1>HERO-" in reply.text
    assert reply.cookie(VISITOR_COOKIE) is None
    assert "cookie" in reply.tokens("Vary")


def test_unknown_slot_serves_the_tags_default_content(site: Site) -> None:
    reply = site.fetch("/fault/")
    assert reply.status == 200
    assert "UNKNOWN-FALLBACK" in reply.text
    assert "<h1>HERO-SPRING</h1>" in reply.text  # the other slots are unharmed
    assert "private" in reply.tokens("Cache-Control")


def test_template_rendered_without_request_falls_back(site: Site) -> None:
    reply = site.fetch("/no-request/")
    assert reply.status == 200
    assert "<h1>HERO-FALLBACK</h1>" in reply.text
    assert "PROMO-FALLBACK" in reply.text
    assert "<p>GREETING-HELLO</p>" in reply.text  # the middleware still fills markers


def test_skip_paths_pass_untouched(site: Site) -> None:
    reply = site.fetch("/health")
    assert reply.text == '<p data-personalize-slot="greeting">HEALTH-MARKER</p>'
    assert "cookie" not in reply.tokens("Vary")
    assert reply.cookie(VISITOR_COOKIE) is None


def test_streaming_response_gets_headers_and_logs_on_close(site: Site) -> None:
    reply = site.fetch("/stream/")
    assert reply.status == 200
    assert "STREAM-MARKER" in reply.text  # a stream is never buffered to fill markers
    assert "cookie" in reply.tokens("Vary")
    assert reply.cookie(VISITOR_COOKIE) is not None
    _wait_for_exposure(site.store_url, _decision_id(reply.text, "hero"))


# -- /_personalize/ -----------------------------------------------------------

def test_beacon_is_served(site: Site) -> None:
    reply = site.fetch("/_personalize/static/beacon.js")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/javascript")
    assert len(reply.body) > 100


def test_optout_sets_both_cookies(site: Site) -> None:
    page = site.fetch("/")
    cookie = (page.cookie(VISITOR_COOKIE) or "").split(";", 1)[0]
    reply = site.fetch("/_personalize/optout", data=b"", headers={"Cookie": cookie})
    assert reply.status == 200
    assert "Max-Age=0" in (reply.cookie(VISITOR_COOKIE) or "")
    assert (reply.cookie("pz_consent") or "").startswith("pz_consent=no;")
    assert "no-store" in reply.tokens("Cache-Control")
    assert reply.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(("event", "status", "expected"), [
    pytest.param({"type": "click", "decision": "forged.token"}, 403, {"error": "bad_token"},
                 id="bad-token"),
    pytest.param({"type": "click"}, 400, {"error": "bad_event"}, id="no-decision"),
    pytest.param({"type": "click", "decision": None}, 202, {"accepted": 1}, id="own-decision"),
])
def test_events_endpoint(site: Site, event: dict[str, Any], status: int,
                         expected: dict[str, Any]) -> None:
    page = site.fetch("/")
    cookie = (page.cookie(VISITOR_COOKIE) or "").split(";", 1)[0]
    if "decision" in event and event["decision"] is None:
        event = {**event, "decision": _decision_id(page.text, "hero")}
    # No CSRF token: the beacon's events are authenticated by their signed decision id.
    reply = site.fetch("/_personalize/events", data=json.dumps(event).encode(),
                       headers={"Content-Type": "application/json", "Cookie": cookie})
    assert reply.status == status
    assert reply.headers["Content-Type"].startswith("application/json")
    assert expected.items() <= json.loads(reply.body).items()


# -- manage.py check ------------------------------------------------------------

@pytest.mark.parametrize(("settings", "returncode", "expected"), [
    pytest.param("demo.settings", 0, "no issues", id="wired-as-documented"),
    pytest.param("demo.bad_settings", 1, 'personalize.E001) PERSONALIZE["COOKIE_MAX_AGE"]',
                 id="bad-value"),
    pytest.param("demo.misordered", 0, "personalize.W002", id="above-gzip"),
])
def test_manage_check(site: Site, settings: str, returncode: int, expected: str) -> None:
    result = site.manage("check", "--settings", settings)
    assert result.returncode == returncode, result.stderr
    assert expected in result.stdout + result.stderr


# -- the settings helpers, in-process --------------------------------------------

def _settings(tmp_path: Path, **personalize: Any) -> SimpleNamespace:
    return SimpleNamespace(SECRET_KEY="k" * 50,
                           PERSONALIZE={"RULES": str(tmp_path), **personalize})


def test_defaults_and_secret_key_fallback(tmp_path: Path) -> None:
    config = conf.load(_settings(tmp_path))
    assert config.secret == "k" * 50
    assert config.store == conf.DEFAULTS["STORE"]
    assert config.skip_paths == tuple(conf.DEFAULTS["SKIP_PATHS"])
    assert (config.cookie_max_age, config.reward_window) == (365 * 86400, 1800.0)
    assert conf.setting("RANDOM_STATE", _settings(tmp_path, RANDOM_STATE=3)) == 3


@pytest.mark.parametrize(("values", "key"), [
    pytest.param({"RULES": "/no/such/dir"}, 'PERSONALIZE["RULES"]', id="rules-missing"),
    pytest.param({"STORE": ""}, 'PERSONALIZE["STORE"]', id="store-empty"),
    pytest.param({"SECRET": "short"}, 'PERSONALIZE["SECRET"]', id="secret-short"),
    pytest.param({"SKIP_PATHS": "/static/"}, 'PERSONALIZE["SKIP_PATHS"]', id="skip-str"),
    pytest.param({"SKIP_PATHS": ["static/"]}, 'PERSONALIZE["SKIP_PATHS"]', id="skip-relative"),
    pytest.param({"COOKIE_MAX_AGE": 0}, 'PERSONALIZE["COOKIE_MAX_AGE"]', id="max-age-zero"),
    pytest.param({"COOKIE_MAX_AGE": True}, 'PERSONALIZE["COOKIE_MAX_AGE"]', id="max-age-bool"),
    pytest.param({"REWARD_WINDOW": -1}, 'PERSONALIZE["REWARD_WINDOW"]', id="window-negative"),
    pytest.param({"RANDOM_STATE": 1.5}, 'PERSONALIZE["RANDOM_STATE"]', id="seed-float"),
    pytest.param({"STROE": "memory://"}, 'PERSONALIZE["STROE"]', id="unknown-key"),
])
def test_bad_values_name_their_key(tmp_path: Path, values: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        conf.load(_settings(tmp_path, **values))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: expected")


def test_no_secret_anywhere_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'PERSONALIZE\["SECRET"\]'):
        conf.load(SimpleNamespace(PERSONALIZE={"RULES": str(tmp_path)}))


def test_personalize_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match="PERSONALIZE: expected a dict"):
        conf.load(SimpleNamespace(PERSONALIZE=["RULES"], SECRET_KEY="k" * 50))


def test_changing_settings_drops_the_engine(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "10-slots.yaml").write_text(RULES)
    built = django_middleware._build(conf.load(_settings(tmp_path, STORE="memory://")))
    closed: list[bool] = []
    monkeypatch.setattr(built.engine.store, "close", lambda: closed.append(True))
    monkeypatch.setattr(django_middleware, "_current", built)
    assert django_middleware.get_engine() is built.engine
    django_apps._settings_changed(setting="DEBUG")
    assert django_middleware._current is built
    django_apps._settings_changed(setting="PERSONALIZE")
    assert django_middleware._current is None
    assert closed == [True]
