"""Who gets in: the password, the session, CSRF, the login rate limit, the cookie's flags."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from personalize.engine import Personalizer
from personalize.exceptions import ConfigError
from personalize.web.review import CONFIG_KEY, review_blueprint
from personalize.web.review.auth import LoginLimiter, ReviewAuth
from tests.review.review_kit import PASSWORD, csrf_of, make_app, sign_in


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("path", ["/review/", "/review/slots/hero", "/review/splits",
                                  "/review/guardrails", "/review/decisions", "/review/view-as",
                                  "/review/rules"])
def test_every_page_needs_a_login(shop: Personalizer, path: str) -> None:
    response = make_app(shop).test_client().get(path + "?days=7")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/review/login?next=")
    assert f"next={path}" in response.headers["Location"].replace("%2F", "/")


def test_the_stylesheet_needs_no_login(shop: Personalizer) -> None:
    response = make_app(shop).test_client().get("/review/static/review.css")
    assert response.status_code == 200 and b"focus-visible" in response.data
    response.close()


def test_right_password_signs_in_and_returns_to_the_page(shop: Personalizer) -> None:
    client = make_app(shop).test_client()
    token = csrf_of(client.get("/review/login").get_data(as_text=True))
    response = client.post("/review/login", data={
        "csrf_token": token, "password": PASSWORD, "name": "Aino", "next": "/review/rules"})
    assert (response.status_code, response.headers["Location"]) == (302, "/review/rules")
    page = client.get("/review/rules").get_data(as_text=True)
    assert "Signed in as <strong>Aino</strong>" in page
    assert csrf_of(page) != token  # a fresh token once signed in


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil",
                                    "javascript:alert(1)"])
def test_login_never_redirects_off_site(shop: Personalizer, target: str) -> None:
    client = make_app(shop).test_client()
    token = csrf_of(client.get("/review/login").get_data(as_text=True))
    response = client.post("/review/login", data={
        "csrf_token": token, "password": PASSWORD, "name": "Aino", "next": target})
    assert response.headers["Location"] == "/review/"


def test_wrong_password_is_refused(shop: Personalizer) -> None:
    client = make_app(shop).test_client()
    token = csrf_of(client.get("/review/login").get_data(as_text=True))
    response = client.post("/review/login", data={"csrf_token": token, "password": "guess",
                                                  "name": "Mallory"})
    assert response.status_code == 403
    assert "That password is not right." in response.get_data(as_text=True)
    assert client.get("/review/").status_code == 302


def test_failed_logins_are_rate_limited_per_client(shop: Personalizer) -> None:
    ticks = Ticks()
    client = make_app(shop, limiter=LoginLimiter(max_failures=3, window=60,
                                                 clock=ticks)).test_client()
    token = csrf_of(client.get("/review/login").get_data(as_text=True))
    wrong = {"csrf_token": token, "password": "guess", "name": "Mallory"}
    assert [client.post("/review/login", data=wrong).status_code for _ in range(3)] == \
        [403, 403, 403]
    blocked = client.post("/review/login", data={**wrong, "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "61"
    other = client.post("/review/login", data=wrong, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 403  # another address is not blocked
    ticks.now += 61
    assert client.post("/review/login", data={**wrong, "password": PASSWORD}).status_code == 302


def test_login_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_failures >= 1"):
        LoginLimiter(max_failures=0)


@pytest.mark.parametrize(("path", "data"), [
    pytest.param("/review/login", {"password": PASSWORD, "name": "A"}, id="login"),
    pytest.param("/review/logout", {}, id="logout"),
    pytest.param("/review/guardrails/pause", {"variant": "promo-countdown", "reason": "x"},
                 id="pause"),
    pytest.param("/review/guardrails/resume", {"slot": "promo", "variant": "promo-countdown"},
                 id="resume"),
])
@pytest.mark.parametrize("token", [None, "forged"])
def test_posts_without_the_csrf_token_are_refused(fresh: Personalizer, path: str,
                                                 data: dict[str, str], token: str | None) -> None:
    client = make_app(fresh).test_client()
    sign_in(client)
    form = data if token is None else {**data, "csrf_token": token}
    response = client.post(path, data=form)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert fresh.store.list_state("pause:") == {}
    assert client.get("/review/rules").status_code == 200  # still signed in


def test_csrf_token_may_come_in_a_header(fresh: Personalizer) -> None:
    client = make_app(fresh).test_client()
    token = sign_in(client)
    response = client.post("/review/guardrails/pause", headers={"X-CSRF-Token": token},
                           data={"variant": "promo-countdown", "reason": "Fake deadline."})
    assert response.status_code == 302
    assert set(fresh.store.list_state("pause:")) == {"pause:promo:promo-countdown"}


def test_logout_ends_the_session(shop: Personalizer) -> None:
    client = make_app(shop).test_client()
    token = sign_in(client)
    assert client.post("/review/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/review/").status_code == 302


@pytest.mark.parametrize(("base_url", "secure"), [("http://localhost/", False),
                                                  ("https://localhost/", True)])
def test_session_cookie_flags(shop: Personalizer, base_url: str, secure: bool) -> None:
    client = make_app(shop).test_client()
    response = client.get("/review/login", base_url=base_url)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def test_a_host_keeps_its_own_cookie_choices(shop: Personalizer) -> None:
    app = make_app(shop, SESSION_COOKIE_SAMESITE="Strict")
    cookie = app.test_client().get("/review/login").headers["Set-Cookie"]
    assert "SameSite=Strict" in cookie


def test_pages_are_not_cached_and_not_framed(shop: Personalizer) -> None:
    client = make_app(shop).test_client()
    response = client.get("/review/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def auth_of(app: Flask) -> ReviewAuth:
    found: ReviewAuth = app.extensions["personalize_review"]
    return found


def test_password_from_the_config(shop: Personalizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_KEY, "from-the-environment")
    app = make_app(shop, password=None, PERSONALIZE_REVIEW_PASSWORD="from-the-config")
    assert auth_of(app).check_password("from-the-config")
    assert not auth_of(app).check_password("from-the-environment")


def test_password_from_the_environment(shop: Personalizer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_KEY, "from-the-environment")
    app = make_app(shop, password=None)
    assert auth_of(app).check_password("from-the-environment")
    client = app.test_client()
    sign_in(client, password="from-the-environment")
    assert client.get("/review/").status_code == 200


def test_a_missing_password_is_generated_and_logged_once(
        shop: Personalizer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(CONFIG_KEY, raising=False)
    with caplog.at_level(logging.WARNING, logger="personalize.review"):
        app = make_app(shop, password=None)
    messages = [r.getMessage() for r in caplog.records if r.name == "personalize.review"]
    assert len(messages) == 1 and CONFIG_KEY in messages[0]
    generated = messages[0].rsplit(": ", 1)[1]
    assert auth_of(app).generated and len(generated) >= 16
    sign_in(app.test_client(), password=generated)


def test_a_short_password_fails_at_start_up(shop: Personalizer) -> None:
    with pytest.raises(ConfigError, match="at least 8 characters"):
        make_app(shop, password="short")


def test_the_app_needs_a_secret_key(shop: Personalizer) -> None:
    app = Flask(__name__)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        app.register_blueprint(review_blueprint(shop, password=PASSWORD), url_prefix="/review")
