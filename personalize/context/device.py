"""Device classification from the User-Agent and its Client Hints.

>>> classify_device("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
...                 "(KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36")
Device(type='mobile', os='Android', browser='Chrome Mobile', touch=True)
>>> classify_device("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
...                 "Chrome/124.0.0.0 Safari/537.36", "?0", '"Android"').type
'tablet'

How a request is classified:

1. The User-Agent is cut to :data:`MAX_UA_LENGTH` characters, the hints are
   reduced to ``True``/``False``/``None`` and a known platform, and the result
   is cached on those three (an LRU of :data:`CACHE_SIZE` entries), so the
   cache stays bounded however long or varied the headers are.
2. ua-parser 1.x's regexes give the browser, OS and device families, run on
   its fastest backend, ua-parser-rs: about 20 µs for an unseen string, where
   user-agents' default path takes about 430 µs. A screen runs inside the
   device extractor, ahead of its own rules (:data:`BOT_TOKENS`,
   :data:`TV_TOKENS`, case-insensitive): control characters mean ``other``;
   crawlers, AI crawlers, link preview fetchers, headless browsers and HTTP
   libraries mean ``bot``; smart TVs, streaming devices and game consoles
   mean ``tv``.
3. Everything else is classified by user-agents' rules (``is_bot``,
   ``is_tablet``, ``is_mobile``, ``is_pc``, ``is_touch_capable`` of
   ``user_agents.parsers.UserAgent`` 2.2), reimplemented over the fast parse
   with the same family tables; the first that holds, in that order, is the
   type, else ``other``. Importing user-agents itself would compile
   ua-parser's legacy regexes (~0.2 s) for nothing; the tests check that the
   tables and the verdicts equal user-agents' own on the same parse.
4. Three corrections where those rules are out of date: an Android UA with
   ``; Tablet;`` is a tablet (Firefox for Android, which user-agents calls
   mobile); an Android UA that user-agents calls a tablet only for lacking
   ``Mobile Safari`` but says ``Mobile`` elsewhere is a phone (DuckDuckGo);
   KaiOS is mobile.
5. User-Agent Client Hints, when sent, say what a frozen UA cannot (Chromium
   freezes Android to ``Linux; Android 10; K``): ``Sec-CH-UA-Mobile: ?1``
   means mobile; ``?0`` turns a mobile-looking UA into a tablet (on Android)
   or desktop; ``Sec-CH-UA-Platform`` sets the OS family, and ``"Android"``
   or ``"iOS"`` with a desktop-looking UA means a tablet (Chrome on Android
   tablets asks for desktop pages). Hints that change the type set ``touch``
   to match it.

Choices and known limits:

- Consoles (PlayStation, Xbox, Nintendo Switch / Wii U) count as ``tv``: they
  are used from a sofa with a controller, which is what a page should adapt
  to. Handhelds are left to the rules: PlayStation Vita is mobile, an old
  Nintendo 3DS other.
- iPadOS 13+ Safari asks for desktop pages with a Mac UA and sends no Client
  Hints, so such an iPad is a touchless ``desktop``; only a platform hint of
  ``"iOS"`` (or ``?1``) would say otherwise. Windows tablets (Surface) send
  the desktop Windows UA and are ``desktop`` too.
- Bots and TVs have ``touch=False``; bots ignore Client Hints. ua-parser-rs
  applies ua-parser's ``^.{0,100}(bot|...)`` spider rule past the first 100
  characters too, so it finds a few bots ua-parser's Python engine misses.
- Known misses, inherited from user-agents: Opera Mini on Android is a
  tablet (its UA names no form factor); BlackBerry touch phones are not
  touch (ua-parser renamed their family).
- Empty or unparseable strings, and strings with control characters (not
  allowed in an HTTP field), are ``other``; a long UA is classified by its
  first :data:`MAX_UA_LENGTH` characters.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

import ua_parser_rs
from ua_parser import load_lazy_builtins

#: Only this much of a User-Agent is read; real ones are rarely over 300 characters.
MAX_UA_LENGTH = 512
#: Distinct (User-Agent, hints) results kept.
CACHE_SIZE = 4096

#: Case-insensitive regex fragments (Rust ``regex`` syntax) that mark a bot.
BOT_TOKENS: tuple[str, ...] = (
    # headless and automated browsers
    r"headlesschrome", r"phantomjs", r"puppeteer", r"playwright", r"selenium", r"webdriver",
    r"chrome-lighthouse",
    # search engines
    r"googlebot", r"adsbot-google", r"mediapartners-google", r"feedfetcher-google",
    r"google-inspectiontool", r"storebot-google", r"googleother", r"apis-google",
    r"google-extended", r"bingbot", r"bingpreview", r"adidxbot", r"msnbot",
    r"yandex\.com/bots", r"baiduspider", r"duckduckbot", r"duckassistbot", r"applebot",
    r"yahoo! slurp", r"petalbot", r"seznambot", r"sogou web spider",
    # AI crawlers and assistants' fetchers
    r"gptbot", r"chatgpt-user", r"oai-searchbot", r"claudebot", r"claude-web", r"claude-user",
    r"claude-searchbot", r"anthropic-ai", r"perplexitybot", r"perplexity-user", r"ccbot",
    r"bytespider", r"amazonbot", r"meta-externalagent", r"meta-externalfetcher", r"cohere-ai",
    r"cohere-training-data-crawler", r"diffbot", r"youbot", r"mistralai-user", r"ai2bot",
    # link previews
    r"facebookexternalhit", r"facebookcatalog", r"\bfacebot", r"twitterbot", r"linkedinbot",
    r"slackbot", r"slack-imgproxy", r"discordbot", r"whatsapp/", r"telegrambot",
    r"skypeuripreview", r"pinterestbot", r"redditbot", r"embedly", r"iframely",
    # HTTP libraries and tools
    r"^curl/", r"\bcurl/\d", r"\bwget/", r"python-requests", r"python-urllib", r"aiohttp",
    r"httpx", r"go-http-client", r"okhttp", r"^java/", r"\bjava/\d", r"libwww-perl",
    r"\baxios/", r"node-fetch", r"^node$", r"undici", r"postmanruntime", r"scrapy",
    r"apache-httpclient", r"guzzlehttp", r"http\.rb/", r"\(dart:io\)", r"windowspowershell",
    r"httpie/", r"\bdalvik/", r"\bcfnetwork/",
)

#: Case-insensitive regex fragments that mark a TV, streaming device or game console.
TV_TOKENS: tuple[str, ...] = (
    r"smart-?tv", r"\bweb0s\b", r"webos.{0,40}\btv\b", r"\btizen\b.{0,40}\btv\b", r"hbbtv",
    r"\bcrkey/", r"chromecast", r"google ?tv", r"android ?tv", r"\bbravia\b", r"\broku",
    r"apple ?tv", r"\btvos\b", r"\baft[a-z]{1,5} build/", r"netcast", r"\bviera\b",
    r"\baquos", r"philipstv", r"nettv/", r"vidaa", r"\bmibox", r"\bmitv", r"opera tv",
    r"\btv safari\b",
    # game consoles (see the module docstring for why they are ``tv``)
    r"playstation ?[345]\b", r"\bxbox", r"nintendo (?:switch|wiiu|wii)\b",
)

# user-agents 2.2 family tables (user_agents/parsers.py), copied so importing
# this module does not import user-agents; tests/context/test_device.py checks them.
MOBILE_DEVICE_FAMILIES = frozenset({
    "iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita",
    "iOS-Device",
})
PC_OS_FAMILIES = frozenset({"Windows 95", "Windows 98", "Solaris"})
MOBILE_OS_FAMILIES = frozenset({
    "Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile",
    "Maemo",
})
MOBILE_BROWSER_FAMILIES = frozenset({
    "IE Mobile", "Opera Mobile", "Opera Mini", "Chrome Mobile", "Chrome Mobile WebView",
    "Chrome Mobile iOS",
})
TABLET_DEVICE_FAMILIES = frozenset({
    "iPad", "BlackBerry Playbook", "Blackberry Playbook", "Kindle", "Kindle Fire",
    "Kindle Fire HD", "Galaxy Tab", "Xoom", "Dell Streak",
})
TOUCH_CAPABLE_OS_FAMILIES = frozenset({
    "iOS", "Android", "Windows Phone", "Windows CE", "Windows Mobile", "Firefox OS", "MeeGo",
})
TOUCH_CAPABLE_DEVICE_FAMILIES = frozenset({
    "BlackBerry Playbook", "Blackberry Playbook", "Kindle Fire",
})

# Sec-CH-UA-Platform values (lower-cased) to ua-parser's OS family names.
_PLATFORMS = {
    "android": "Android", "chrome os": "Chrome OS", "chromium os": "Chrome OS", "ios": "iOS",
    "linux": "Linux", "macos": "Mac OS X", "windows": "Windows",
}
_HANDHELD_PLATFORMS = frozenset({"Android", "iOS"})
_MOBILE_HINTS = {"?1": True, "?0": False}

DEVICE_TYPES = ("mobile", "tablet", "desktop", "tv", "bot", "other")


@dataclass(frozen=True, slots=True)
class Device:
    """What the visitor is using.

    :param type: ``mobile | tablet | desktop | tv | bot | other``.
    :param os: operating system family (``"Other"`` when unknown).
    :param browser: browser family (``"Other"`` when unknown).
    :param touch: the device has a touch screen.
    """

    type: str
    os: str
    browser: str
    touch: bool


_OTHER = Device("other", "Other", "Other", False)


class _Parsed(NamedTuple):
    """One parse, in the shape user-agents' rules read."""

    browser: str
    os: str
    #: Only Windows versions matter to user-agents (``RT``, ``CE``, ``ME``, ``8``).
    os_version: str
    #: ua-parser's device family, or a ``_SCREENED`` verdict.
    device: str


#: Device "families" the screen reports instead of ua-parser's.
_SCREENED = {"personalize:other": "other", "personalize:bot": "bot", "personalize:tv": "tv"}


class _Parser:
    """ua-parser's regexes on ua-parser-rs, with the screen in front of the device rules.

    The extractors are built as ``ua_parser.regex.Resolver`` builds them but
    called directly: the resolver's result objects and ``Domain`` flag tests
    cost about 5 µs a call. The screen's patterns go first in the device
    extractor, whose first match wins, because a screened UA needs no device
    family; run apart, they would cost another 2 µs.
    """

    def __init__(self) -> None:
        browsers, systems, devices = load_lazy_builtins()
        fields = attrgetter("regex", "family", "major", "minor", "patch", "patch_minor")
        self.browser = ua_parser_rs.UserAgentExtractor(map(fields, browsers))
        self.os = ua_parser_rs.OSExtractor(map(fields, systems))
        screen: list[ua_parser_rs.DeviceParser] = [
            (r"[\x00-\x08\x0a-\x1f\x7f]", None, "personalize:other", None, None),
            ("|".join(BOT_TOKENS), "i", "personalize:bot", None, None),
            ("|".join(TV_TOKENS), "i", "personalize:tv", None, None),
        ]
        self.device = ua_parser_rs.DeviceExtractor(itertools.chain(
            screen, map(attrgetter("regex", "regex_flag", "family", "brand", "model"), devices)))

    def __call__(self, ua: str) -> _Parsed:
        d = self.device.extract(ua)
        device = d.family if d else "Other"
        if device == "personalize:other":
            return _Parsed("Other", "Other", "", device)
        b = self.browser.extract(ua)
        o = self.os.extract(ua)
        os = o.family if o else "Other"
        version = _version_string(o.major, o.minor, o.patch) if o and os == "Windows" else ""
        return _Parsed(b.family if b else "Other", os, version, device)


@functools.cache
def _parser() -> _Parser:
    # Built on first use (~0.2 s), not at import.
    return _Parser()


def _version_string(*parts: str | None) -> str:
    # user-agents turns digit strings into ints, so "08" reads as "8".
    return ".".join(str(int(p)) if p.isdigit() else p for p in parts if p is not None)


def _is_tablet(ua: str, f: _Parsed) -> bool:
    if f.device in TABLET_DEVICE_FAMILIES:
        return True
    if f.os == "Android" and "Mobile Safari" not in ua and f.browser != "Firefox Mobile":
        return True
    if f.os == "Windows" and f.os_version.startswith("RT"):
        return True
    return f.os == "Firefox OS" and "Mobile" not in f.browser


def _is_mobile(ua: str, f: _Parsed) -> bool:
    # user-agents' is_mobile, less the tablets, which are tested before it.
    return (
        f.device in MOBILE_DEVICE_FAMILIES
        or f.browser in MOBILE_BROWSER_FAMILIES
        or f.os in ("Android", "Firefox OS")
        or (f.os == "BlackBerry OS" and f.device != "Blackberry Playbook")
        or f.os in MOBILE_OS_FAMILIES
        or "J2ME" in ua or "MIDP" in ua or "iPhone;" in ua or "Googlebot-Mobile" in ua
        or (f.device == "Spider" and "Mobile" in f.browser)
        or ("NokiaBrowser" in ua and "Mobile" in ua)
    )


def _is_pc(ua: str, f: _Parsed) -> bool:
    if "Windows NT" in ua or f.os in PC_OS_FAMILIES or (f.os == "Windows" and f.os_version == "ME"):
        return True
    if f.os == "Mac OS X" and "Silk" not in ua:
        return True
    if "Maemo" in ua:
        return False
    return "Chrome OS" in f.os or ("Linux" in ua and "X11" in ua)


def _is_touch_capable(ua: str, f: _Parsed) -> bool:
    if f.os in TOUCH_CAPABLE_OS_FAMILIES or f.device in TOUCH_CAPABLE_DEVICE_FAMILIES:
        return True
    if f.os == "Windows":
        if f.os_version.startswith(("RT", "CE")):
            return True
        if f.os_version.startswith("8") and "Touch" in ua:
            return True
    return "BlackBerry" in f.os and ("Blackberry 99" in f.device or "Blackberry 95" in f.device)


def _user_agents_type(ua: str, f: _Parsed) -> str:
    """The device type user-agents' rules give, in the order bot, tablet, mobile, pc."""
    if f.device == "Spider":
        return "bot"
    if _is_tablet(ua, f):
        return "tablet"
    if _is_mobile(ua, f):
        return "mobile"
    if _is_pc(ua, f):
        return "desktop"
    return "other"


def _corrected(ua: str, f: _Parsed, kind: str) -> str:
    """Where user-agents' rules are out of date; see the module docstring."""
    if f.os == "Android":
        if kind == "mobile" and "; Tablet;" in ua:  # Firefox for Android on a tablet
            return "tablet"
        if kind == "tablet" and "Mobile" in ua and f.device not in TABLET_DEVICE_FAMILIES:
            return "mobile"  # a phone saying "Mobile" elsewhere: "Mobile DuckDuckGo/5 Safari"
    elif f.os == "KaiOS":
        return "mobile"
    return kind


def _apply_hints(kind: str, os: str, mobile: bool | None, platform: str | None) -> str:
    """The device type once Client Hints are taken into account."""
    if mobile is True:
        return "mobile"
    if kind == "mobile" and mobile is False:
        return "tablet" if os in _HANDHELD_PLATFORMS else "desktop"
    if kind == "desktop" and platform in _HANDHELD_PLATFORMS:
        return "tablet"
    return kind


@functools.lru_cache(maxsize=CACHE_SIZE)
def _classify(ua: str, mobile: bool | None, platform: str | None) -> Device:
    try:
        f = _parser()(ua)
    except UnicodeEncodeError:  # lone surrogates cannot reach the Rust engine
        return _OTHER
    screened = _SCREENED.get(f.device)
    if screened == "other":
        return _OTHER
    if screened == "bot" or f.device == "Spider":
        return Device("bot", f.os, f.browser, False)
    os = platform or f.os
    if screened == "tv":
        return Device("tv", os, f.browser, False)
    ua_kind = _corrected(ua, f, _user_agents_type(ua, f))
    kind = _apply_hints(ua_kind, os, mobile, platform)
    # When the hints overrule the UA, its touch rules no longer apply either.
    touch = _is_touch_capable(ua, f) if kind == ua_kind else kind in ("mobile", "tablet")
    return Device(kind, os, f.browser, touch)


def _platform(value: str) -> str | None:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return _PLATFORMS.get(value.strip().lower())


def classify_device(
    user_agent: str, mobile_hint: str | None = None, platform_hint: str | None = None
) -> Device:
    """Classify a request's device; never raises.

    :param user_agent: the ``User-Agent`` header, possibly empty or garbage.
    :param mobile_hint: the ``Sec-CH-UA-Mobile`` header (``?1`` / ``?0``) if sent.
    :param platform_hint: the ``Sec-CH-UA-Platform`` header (``"Android"``) if sent;
        values other than the standard platforms (and ``"Unknown"``) are ignored,
        so a header cannot put arbitrary text into rules or features.
    """
    if not isinstance(user_agent, str):
        return _OTHER
    mobile = None
    if isinstance(mobile_hint, str):
        mobile = _MOBILE_HINTS.get(mobile_hint.strip())
    platform = _platform(platform_hint[:64]) if isinstance(platform_hint, str) else None
    return _classify(user_agent[:MAX_UA_LENGTH], mobile, platform)
