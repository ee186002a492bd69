"""Device classification: a labelled table of real User-Agents, Client Hints, bad input.

The table lives in ``user_agents.json`` next to this file; each row is one test.
"""

from __future__ import annotations

import doctest
import json
from pathlib import Path
from typing import Any

import pytest
import user_agents.parsers as ua_rules
from hypothesis import given, settings
from hypothesis import strategies as st
from ua_parser import Domain, load_lazy_builtins
from ua_parser.regex import Resolver

from personalize.context import device
from personalize.context.device import DEVICE_TYPES, MAX_UA_LENGTH, Device, classify_device
from personalize.context.fields import FIELDS

ROWS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "user_agents.json").read_text(encoding="utf-8"))["rows"]
UAS = [row["ua"] for row in ROWS]

CHROME_PHONE = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Mobile Safari/537.36")
CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/124.0.0.0 Safari/537.36")
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                  "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
SAFARI_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.4.1 Safari/605.1.15")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT_PHONE = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
                   "(KHTML, like Gecko) Chrome/124.0.6367.60 Mobile Safari/537.36 "
                   "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
BRAVIA = ("Mozilla/5.0 (Linux; Android 9; BRAVIA 4K GB Build/PTT1.190515.001.S52) "
          "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.157 Safari/537.36")


def test_table_is_large_varied_and_unique() -> None:
    assert len(ROWS) >= 200
    assert len({row["id"] for row in ROWS}) == len(ROWS)
    assert len(set(UAS)) == len(ROWS)
    counts = {kind: sum(row["type"] == kind for row in ROWS) for kind in DEVICE_TYPES}
    assert counts["mobile"] >= 40 and counts["tablet"] >= 20 and counts["desktop"] >= 40
    assert counts["tv"] >= 15 and counts["bot"] >= 60


def _row_param(row: dict[str, Any]) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=row["gap"])] if "gap" in row else []
    return pytest.param(row, id=row["id"], marks=marks)


@pytest.mark.parametrize("row", [_row_param(row) for row in ROWS])
def test_real_user_agent(row: dict[str, Any]) -> None:
    got = classify_device(row["ua"])
    assert got.type == row["type"]
    assert got.touch is row["touch"]
    if "os" in row:
        assert got.os == row["os"]
    if "browser" in row:
        assert got.browser == row["browser"]


# -- same rules as user-agents ------------------------------------------------------------

_RESOLVER = Resolver(load_lazy_builtins())


def _verdicts(ua: str) -> tuple[tuple[str, bool], tuple[str, bool]]:
    """(ours, user-agents') device type and touch, both over one and the same parse."""
    parsed = _RESOLVER(ua, Domain.ALL).complete().with_defaults()
    os, browser, dev = parsed.os, parsed.user_agent, parsed.device

    ref = ua_rules.UserAgent.__new__(ua_rules.UserAgent)  # skip its slow legacy parse
    ref.ua_string = ua
    ref.os = ua_rules.parse_operating_system(os.family, os.major, os.minor, os.patch)
    ref.browser = ua_rules.parse_browser(browser.family, browser.major, browser.minor,
                                         browser.patch)
    ref.device = ua_rules.parse_device(dev.family, dev.brand, dev.model)
    theirs = ("bot" if ref.is_bot else "tablet" if ref.is_tablet else "mobile" if ref.is_mobile
              else "desktop" if ref.is_pc else "other"), ref.is_touch_capable

    version = device._version_string(os.major, os.minor, os.patch)
    ours_parsed = device._Parsed(browser.family, os.family,
                                 version if os.family == "Windows" else "", dev.family)
    ours = (device._user_agents_type(ua, ours_parsed),
            device._is_touch_capable(ua, ours_parsed))
    return ours, theirs


@pytest.mark.parametrize("ua", [pytest.param(row["ua"], id=row["id"]) for row in ROWS])
def test_rules_equal_user_agents(ua: str) -> None:
    ours, theirs = _verdicts(ua)
    assert ours == theirs


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(UAS), st.sampled_from(UAS), st.integers(0, 300), st.integers(0, 300))
def test_rules_equal_user_agents_on_spliced_strings(a: str, b: str, i: int, j: int) -> None:
    ours, theirs = _verdicts(a[:i] + b[j:])
    assert ours == theirs


@pytest.mark.parametrize("name", [
    pytest.param(name, id=name) for name in (
        "MOBILE_DEVICE_FAMILIES", "PC_OS_FAMILIES", "MOBILE_OS_FAMILIES",
        "MOBILE_BROWSER_FAMILIES", "TABLET_DEVICE_FAMILIES", "TOUCH_CAPABLE_OS_FAMILIES",
        "TOUCH_CAPABLE_DEVICE_FAMILIES")
])
def test_family_tables_are_user_agents_tables(name: str) -> None:
    assert getattr(device, name) == frozenset(getattr(ua_rules, name))


@pytest.mark.parametrize("row", [pytest.param(row, id=row["id"]) for row in ROWS])
def test_parse_is_ua_parser_resolver_or_screen(row: dict[str, Any]) -> None:
    parsed = _RESOLVER(row["ua"], Domain.ALL).complete().with_defaults()
    ours = device._parser()(row["ua"])
    assert (ours.browser, ours.os) == (parsed.user_agent.family, parsed.os.family)
    if ours.device in device._SCREENED:
        assert device._SCREENED[ours.device] == row["type"]
    else:
        assert ours.device == parsed.device.family


# -- Client Hints -------------------------------------------------------------------------

@pytest.mark.parametrize(("ua", "mobile", "platform", "expected"), [
    pytest.param(CHROME_PHONE, "?1", '"Android"', ("mobile", "Android", "Chrome Mobile", True),
                 id="phone-says-mobile"),
    pytest.param(CHROME_PHONE, "?0", '"Android"', ("tablet", "Android", "Chrome Mobile", True),
                 id="frozen-mobile-ua-but-not-mobile-on-android-is-tablet"),
    pytest.param(CHROME_PHONE, "?0", None, ("tablet", "Android", "Chrome Mobile", True),
                 id="frozen-mobile-ua-not-mobile-without-platform"),
    pytest.param(CHROME_PHONE, "?0", '"Windows"', ("desktop", "Windows", "Chrome Mobile", False),
                 id="mobile-ua-not-mobile-on-windows-is-desktop"),
    pytest.param(CHROME_LINUX, "?0", '"Android"', ("tablet", "Android", "Chrome", True),
                 id="android-tablet-asking-for-desktop-pages"),
    pytest.param(CHROME_LINUX, None, '"Android"', ("tablet", "Android", "Chrome", True),
                 id="android-platform-alone-with-desktop-ua"),
    pytest.param(CHROME_LINUX, "?1", '"Android"', ("mobile", "Android", "Chrome", True),
                 id="phone-in-desktop-mode-still-says-mobile"),
    pytest.param(CHROME_LINUX, "?0", '"Chrome OS"', ("desktop", "Chrome OS", "Chrome", False),
                 id="platform-sets-os-chrome-os"),
    pytest.param(CHROME_LINUX, "?0", '"Chromium OS"', ("desktop", "Chrome OS", "Chrome", False),
                 id="platform-chromium-os"),
    pytest.param(CHROME_WINDOWS, "?0", '"Windows"', ("desktop", "Windows", "Chrome", False),
                 id="windows-desktop"),
    pytest.param(CHROME_LINUX, "?0", '"macOS"', ("desktop", "Mac OS X", "Chrome", False),
                 id="platform-macos-uses-parser-name"),
    pytest.param(SAFARI_MAC, None, None, ("desktop", "Mac OS X", "Safari", False),
                 id="ipad-desktop-mode-without-hints-is-desktop"),
    pytest.param(SAFARI_MAC, None, '"iOS"', ("tablet", "iOS", "Safari", True),
                 id="mac-ua-with-ios-platform-is-ipad"),
    pytest.param(IPHONE, None, None, ("mobile", "iOS", "Mobile Safari", True),
                 id="no-hints-trusts-ua"),
    pytest.param(GOOGLEBOT_PHONE, "?1", '"Android"', ("bot", "Android", "Googlebot", False),
                 id="bots-ignore-hints"),
    pytest.param(BRAVIA, "?0", '"Android"', ("tv", "Android", "Chrome", False),
                 id="tv-stays-tv"),
    pytest.param("", "?1", None, ("mobile", "Other", "Other", True),
                 id="mobile-hint-without-ua"),
])
def test_client_hints(ua: str, mobile: str | None, platform: str | None,
                      expected: tuple[str, str, str, bool]) -> None:
    assert classify_device(ua, mobile, platform) == Device(*expected)


@pytest.mark.parametrize(("platform", "os"), [
    pytest.param('"Android"', "Android", id="quoted"),
    pytest.param("Android", "Android", id="unquoted"),
    pytest.param(' "android" ', "Android", id="spaces-and-case"),
    pytest.param('"Linux"', "Linux", id="linux"),
    pytest.param('"Unknown"', "Windows", id="unknown-ignored"),
    pytest.param('"Haiku"', "Windows", id="unlisted-ignored"),
    pytest.param('""', "Windows", id="empty-string"),
    pytest.param('"', "Windows", id="lone-quote"),
    pytest.param('"Android' + "x" * 10_000 + '"', "Windows", id="huge"),
])
def test_platform_hint_values(platform: str, os: str) -> None:
    assert classify_device(CHROME_WINDOWS, None, platform).os == os


@pytest.mark.parametrize("mobile", [
    pytest.param(value, id=repr(value)) for value in ("?2", "1", "true", "", "? 1", "?1?1")
])
def test_malformed_mobile_hint_is_ignored(mobile: str) -> None:
    assert classify_device(CHROME_PHONE, mobile, None).type == "mobile"
    assert classify_device(CHROME_LINUX, mobile, None).type == "desktop"


def test_mobile_hint_tolerates_spaces() -> None:
    assert classify_device(CHROME_LINUX, " ?1 ", None).type == "mobile"


# -- bot and TV screens -------------------------------------------------------------------

@pytest.mark.parametrize("ua", [
    pytest.param("Mozilla/5.0 (compatible; Google-Extended)", id="google-extended"),
    pytest.param(CHROME_LINUX + " Puppeteer", id="puppeteer-marker"),
    pytest.param(CHROME_LINUX + " Playwright/1.43", id="playwright-marker"),
    pytest.param(IPHONE + " (compatible; GPTBot/1.2)", id="crawler-token-on-phone-ua"),
    pytest.param("Mozilla/5.0 (compatible; meta-externalfetcher/1.1)", id="meta-externalfetcher"),
    pytest.param(CHROME_WINDOWS + " " + "x" * 200 + " bingbot/2.0", id="token-far-into-ua"),
])
def test_bot_tokens(ua: str) -> None:
    assert classify_device(ua).type == "bot"


@pytest.mark.parametrize("ua", [
    pytest.param(CHROME_WINDOWS + " Slack/4.36.140 Electron/28.0.0", id="slack-desktop-app"),
    pytest.param(IPHONE + " [LinkedInApp]/9.29.8649", id="linkedin-app"),
    pytest.param(CHROME_PHONE + " YandexSearch/21.103", id="yandex-app"),
    pytest.param(IPHONE + " Mobile/15E148 Robotics", id="word-containing-bot"),
])
def test_apps_are_not_bots(ua: str) -> None:
    assert classify_device(ua).type in ("mobile", "desktop")


# -- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("ua", [
    pytest.param("", id="empty"),
    pytest.param("   ", id="spaces"),
    pytest.param("\x00\xff", id="nul-and-ff"),
    pytest.param("Mozilla/5.0 (iPhone;\x00 CPU iPhone OS 17_4)", id="nul-inside-real-ua"),
    pytest.param("\r\nSet-Cookie: x=1", id="header-injection"),
    pytest.param("A" * 10_240, id="10kb"),
    pytest.param("\U0001f600" * 600, id="emoji"),
    pytest.param("Ã¤Ã¶Ã¼ \x80\x91\x9f", id="utf8-as-latin1"),
    pytest.param("\ud800\udfff", id="lone-surrogates"),
    pytest.param("Mozilla/5.0 (" * 200, id="unbalanced-parens"),
    pytest.param(None, id="none"),
    pytest.param(b"Mozilla/5.0 (iPhone)", id="bytes"),
])
def test_garbage_is_other(ua: Any) -> None:
    assert classify_device(ua) == Device("other", "Other", "Other", False)


def test_long_ua_is_classified_by_its_start() -> None:
    assert classify_device(IPHONE + " " + "x" * 10_000).type == "mobile"


def test_cache_key_is_truncated() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0) cache-key-test " + "y" * 20_000
    classify_device(ua)
    before = device._classify.cache_info().hits
    assert classify_device(ua[:MAX_UA_LENGTH]).type == "desktop"
    assert device._classify.cache_info().hits == before + 1


@settings(max_examples=300, deadline=None)
@given(st.text(), st.none() | st.text(max_size=20), st.none() | st.text(max_size=20))
def test_any_text_classifies(ua: str, mobile: str | None, platform: str | None) -> None:
    got = classify_device(ua, mobile, platform)
    assert got.type in DEVICE_TYPES
    assert isinstance(got.os, str) and isinstance(got.browser, str)
    assert got == classify_device(ua[:MAX_UA_LENGTH], mobile, platform)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_any_header_bytes_classify(raw: bytes) -> None:
    # WSGI hands headers over as latin-1 decoded str.
    assert classify_device(raw.decode("latin-1")).type in DEVICE_TYPES


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40), st.integers(200, 400))
def test_huge_repeated_text_classifies(chunk: str, times: int) -> None:
    assert classify_device(chunk * times).type in DEVICE_TYPES


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(UAS), st.text(alphabet=st.characters(max_codepoint=0x1f), min_size=1))
def test_control_characters_make_any_ua_other(ua: str, junk: str) -> None:
    if junk.strip("\t"):  # a tab is allowed in an HTTP field value
        assert classify_device(ua[:100] + junk + ua[100:]).type == "other"


def test_device_types_are_the_documented_field_values() -> None:
    assert FIELDS["device.type"].values == DEVICE_TYPES


def test_module_examples() -> None:
    assert doctest.testmod(device).failed == 0
