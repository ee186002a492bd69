"""Acquisition channel of a request: referrer, UTM parameters and click ids.

>>> classify_referrer("https://www.google.fi/", "", "shop.example").source
'google'
>>> classify_referrer(None, "utm_source=chatgpt.com", "shop.example").kind
'chatbot'

The kind is decided by the first of these that applies:

1. ``utm_medium`` is an email medium (``email``, ``e-mail``, ``newsletter``) → ``email``.
2. ``utm_medium`` is a paid medium, as in Google Analytics' channel groups: it
   contains ``cp`` (``cpc``, ``cpm``, ``cpv``), starts with ``paid``
   (``paidsearch``, ``paid_social``), or is ``ppc``, ``display``, ``banner``,
   ``retargeting``… → ``paid``.
3. ``utm_medium`` is a social medium (``social``, ``social-media``,
   ``organic_social``…) → ``social``.
4. An ad click id is present (``gclid``, ``gbraid``, ``wbraid``, ``dclid``,
   ``msclkid``, ``yclid``, ``ttclid``, ``twclid``, ``li_fat_id``) → ``paid``.
5. ``fbclid`` is present → ``social``: Facebook and Instagram add it to organic
   shares too, so alone it is no proof of an ad.
6. ``utm_source`` names a known source (``chatgpt.com``, ``perplexity``,
   ``facebook``…) → that source's kind; ``utm_source=email`` or ``newsletter``
   → ``email``.
7. The ``Referer`` header names a host: this site (``host`` or
   ``internal_hosts``, with or without ``www.``) → ``internal``; a host in
   ``personalize/data/referrers.json`` → its kind; a host whose first label is
   ``mail``, ``webmail``, ``email`` or ``owa`` → ``email``; any other host →
   ``referral``.
8. No usable ``Referer`` but UTM parameters: ``utm_medium=organic`` →
   ``search``; anything else is a tagged link from somewhere unnamed →
   ``referral``.
9. Nothing at all → ``direct``.

``source`` is the ``utm_source`` (known names and hosts made canonical, so
``utm_source=chatgpt.com`` gives ``chatgpt``), else the referring host's known
source, else the ad network of a click id on a paid or social visit.
``source`` and ``medium`` are lower-cased, ``campaign`` is kept as written.
Only the click id's parameter name is kept, never its value, which identifies
a click.

Hosts are matched without the path: browsers send only the origin to other
sites by default. A ``Referer`` with no readable host counts as absent. Inputs
longer than :data:`MAX_INPUT` characters are cut, and host look-ups are cached,
so a call costs a few microseconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

KINDS: tuple[str, ...] = (
    "direct", "internal", "search", "social", "email", "paid", "chatbot", "referral")
#: Longest ``Referer`` or query string read; the rest is ignored.
MAX_INPUT = 2048
#: Longest UTM value kept.
MAX_VALUE = 100

#: Ad click ids in precedence order, with the ad network each belongs to.
AD_CLICK_IDS: dict[str, str] = {
    "gclid": "google", "gbraid": "google", "wbraid": "google", "dclid": "google",
    "msclkid": "bing", "yclid": "yandex", "ttclid": "tiktok", "twclid": "x",
    "li_fat_id": "linkedin",
}
_PARAMS = frozenset({"utm_source", "utm_medium", "utm_campaign", "fbclid", *AD_CLICK_IDS})
_EMAIL_WORDS = frozenset({"email", "e-mail", "newsletter"})
_PAID_MEDIA = frozenset({"ppc", "retargeting", "display", "banner", "interstitial",
                         "expandable"})
_SOCIAL_MEDIA = frozenset({"social", "social-media", "social-network", "socialmedia", "sm",
                           "organic-social"})
_MAIL_LABELS = frozenset({"mail", "webmail", "email", "owa"})

_AUTHORITY = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//([^/?#\\]*)")
_BAD_HOST = re.compile(r"[\s\x00-\x1f\x7f/\\?#@\[\]<>\"'`{}|^%\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_PATTERN = re.compile(r"\.?[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:\.\*)?")
_CCTLD = re.compile(r"[a-z]{2}")

Hit = tuple[str, str]  # (kind, source)


@dataclass(frozen=True, slots=True)
class Referrer:
    """Where the visit came from.

    :param kind: ``direct | internal | search | social | email | paid | chatbot | referral``.
    :param source: a named source (``google``, ``facebook``, ``chatgpt``…) or ``""``.
    :param domain: the referring host, or ``""``.
    :param medium: ``utm_medium`` when given.
    :param campaign: ``utm_campaign`` when given.
    :param click_id: the click-id parameter present (``gclid``…), or ``""``.
    """

    kind: str
    source: str = ""
    domain: str = ""
    medium: str = ""
    campaign: str = ""
    click_id: str = ""


DIRECT = Referrer("direct")


def _bare(host: str) -> str:
    return host.removeprefix("www.")


@dataclass(frozen=True, slots=True)
class HostTable:
    """The compiled host patterns of ``referrers.json`` (syntax in ``REFERRERS.md``).

    :param exact: ``host`` patterns, matching that host with or without ``www.``.
    :param suffix: ``.domain`` patterns, matching the domain and its subdomains.
    :param exact_any_tld: ``name.*`` patterns, keyed by the name without its TLD.
    :param suffix_any_tld: ``.name.*`` patterns, keyed likewise.
    :param names: source names and aliases, for reading ``utm_source``.
    """

    exact: dict[str, Hit]
    suffix: dict[str, Hit]
    exact_any_tld: dict[str, Hit]
    suffix_any_tld: dict[str, Hit]
    names: dict[str, Hit]


def compile_table(data: Mapping[str, Any]) -> HostTable:
    """Check and compile referrer data; a bad file is a packaging bug, so refuse it.

    :param data: the parsed JSON: ``sources`` (a list of ``{source, kind, hosts}``)
        and ``aliases`` (other spellings of a source name, for ``utm_source``).
    :raises ValueError: naming the bad entry and what was expected.
    """
    table = HostTable({}, {}, {}, {}, {})
    for entry in data["sources"]:
        source, kind, hosts = entry["source"], entry["kind"], entry["hosts"]
        if kind not in KINDS[2:]:
            raise ValueError(f"source {source!r}: kind {kind!r} is not one of {KINDS[2:]}")
        table.names.setdefault(source, (kind, source))  # a name's first entry is its kind
        for pattern in hosts:
            if not _PATTERN.fullmatch(pattern):
                raise ValueError(f"source {source!r}: {pattern!r} is not a host pattern "
                                 "(host, .domain, name.* or .name.*, in lower case)")
            key, any_tld = (pattern[:-2], True) if pattern.endswith(".*") else (pattern, False)
            if key.startswith("."):
                key, into = key[1:], table.suffix_any_tld if any_tld else table.suffix
            else:
                key = _bare(key)
                into = table.exact_any_tld if any_tld else table.exact
            if key in into:
                raise ValueError(f"source {source!r}: {pattern!r} is already listed "
                                 f"for {into[key][1]!r}")
            into[key] = (kind, source)
    for alias, source in data["aliases"].items():
        if source not in table.names or alias in table.names:
            raise ValueError(f"alias {alias!r}: expected a new name for a listed source, "
                             f"got one for {source!r}")
        table.names[alias] = table.names[source]
    return table


def _load() -> HostTable:
    text = (Path(__file__).resolve().parent.parent / "data" / "referrers.json").read_text("utf-8")
    return compile_table(json.loads(text))


TABLE = _load()


def classify_referrer(referer: str | None, query_string: str, host: str,
                      internal_hosts: tuple[str, ...] = ()) -> Referrer:
    """Classify a request's acquisition channel; never raises.

    :param referer: the ``Referer`` header, if any.
    :param query_string: the request URL's raw query string (for UTM and click ids).
    :param host: this site's host name, so links within the site are ``internal``.
    :param internal_hosts: other host names that belong to this site; one
        starting with a dot (``.example.com``) covers every subdomain too.
    """
    params = _read_query(query_string) if "=" in query_string else {}
    ref_host = _referer_host(referer) if referer else ""
    if params:
        return _classify(params, ref_host, host, tuple(internal_hosts))
    if not ref_host:
        return DIRECT
    # Most requests carry no campaign parameters, so their channel follows from
    # the hosts alone: cache it by host names, never by a URL's path or query.
    return _by_host(ref_host, host, tuple(internal_hosts))


def _classify(params: Mapping[str, str], ref_host: str, host: str,
              internal_hosts: tuple[str, ...]) -> Referrer:
    """The channel of a request whose campaign parameters and referring host are read."""
    medium = params.get("utm_medium", "")
    utm_source = params.get("utm_source", "")
    click_id = _click_id(params) if params else ""
    named = _known_source(utm_source) if utm_source else None
    internal = bool(ref_host) and _is_internal(ref_host, _site_hosts(host, internal_hosts))
    ref_hit = _host_hit(ref_host) if ref_host and not internal else None

    m = _word(medium)
    if m in _EMAIL_WORDS:
        kind = "email"
    elif "cp" in m or m.startswith("paid") or m in _PAID_MEDIA:
        kind = "paid"
    elif m in _SOCIAL_MEDIA:
        kind = "social"
    elif click_id:
        kind = "social" if click_id == "fbclid" else "paid"
    elif named:
        kind = named[0]
    elif _word(utm_source) in _EMAIL_WORDS:
        kind = "email"
    elif ref_host:
        kind = "internal" if internal else ref_hit[0] if ref_hit else "referral"
    else:
        kind = "search" if m == "organic" else "referral"

    if named:
        source = named[1]
    elif utm_source:
        source = utm_source
    elif ref_hit and ref_hit[1]:
        source = ref_hit[1]
    elif click_id and kind in ("paid", "social"):
        source = AD_CLICK_IDS.get(click_id, "facebook")
    else:
        source = ""
    return Referrer(kind, source, ref_host, medium, params.get("utm_campaign", ""), click_id)


@lru_cache(maxsize=1024)
def _by_host(ref_host: str, host: str, internal_hosts: tuple[str, ...]) -> Referrer:
    """The channel of a request with a ``Referer`` and no campaign parameters."""
    return _classify({}, ref_host, host, internal_hosts)


def _read_query(query_string: str) -> dict[str, str]:
    """The campaign parameters of a raw query string; the first non-empty value wins."""
    found: dict[str, str] = {}
    for part in query_string[:MAX_INPUT].split("&"):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key not in _PARAMS or key in found or not value:
            continue
        if not key.startswith("utm_"):
            found[key] = "1"  # a click id's value identifies one click: never keep it
            continue
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="replace")
        value = _clean(value)
        if value:
            found[key] = value if key == "utm_campaign" else value.lower()
    return found


def _clean(value: str) -> str:
    """Printable, valid UTF-8, short, and never an e-mail address.

    These values end up in profiles, logs and stores; a campaign tool that
    puts the recipient's address into ``utm_campaign`` must not make us store
    personal data.
    """
    if not (value.isascii() and value.isprintable()):
        value = value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates → "?"
        value = _CONTROL.sub("", value)
    if "@" in value and _EMAIL.search(value):
        return ""
    return value.strip()[:MAX_VALUE]


_EMAIL = re.compile(r"[^\s@/?&=]+@[^\s@/?&=]+\.[a-z]{2,}", re.IGNORECASE)


def _word(value: str) -> str:
    """A UTM value in one spelling: ``E_Mail`` and ``e mail`` become ``e-mail``."""
    return value.lower().replace("_", "-").replace(" ", "-")


def _referer_host(referer: str) -> str:
    match = _AUTHORITY.match(referer[:MAX_INPUT])
    if not match:
        return ""
    authority = match.group(1)
    # Origins repeat from request to request; cache them, but not attacker-sized ones.
    return _host_cached(authority) if len(authority) <= 300 else _host(authority)


def _host(authority: str) -> str:
    """The lower-case host of ``user@host:port``, ``[v6]:port`` or ``host.``; ``""`` if none."""
    authority = authority.rpartition("@")[2].strip()
    if authority.startswith("["):
        end = authority.find("]")
        host = authority[1:end] if end > 0 else ""
    else:
        host = authority.partition(":")[0]
    host = host.rstrip(".").lower()
    if len(host) > 253 or _BAD_HOST.search(host):  # 253: the longest DNS name
        return ""
    return host


_host_cached = lru_cache(maxsize=1024)(_host)


Site = tuple[frozenset[str], tuple[str, ...]]


@lru_cache(maxsize=256)
def _site_hosts(host: str, internal_hosts: tuple[str, ...]) -> Site:
    """This site's host names without ``www.``, and the domains whose subdomains count too."""
    names = {_bare(_host(host))}
    domains: list[str] = []
    for name in internal_hosts:
        if name.startswith("."):
            domains.append(_bare(_host(name[1:])))
        else:
            names.add(_bare(_host(name)))
    names.discard("")
    return frozenset(names), tuple(d for d in domains if d)


def _is_internal(ref_host: str, site: Site) -> bool:
    names, domains = site
    bare = _bare(ref_host)
    if bare in names:
        return True
    return any(bare == d or bare.endswith("." + d) for d in domains) if domains else False


def _click_id(params: Mapping[str, str]) -> str:
    """The click id that decides the channel: an ad click id before ``fbclid``."""
    for key in AD_CLICK_IDS:
        if key in params:
            return key
    return "fbclid" if "fbclid" in params else ""


@lru_cache(maxsize=4096)
def _host_hit(host: str) -> Hit | None:
    """What a referring host is: a listed one, else a webmail host by its first label."""
    hit = lookup_host(host)
    if hit is None and host.count(".") >= 2 and host.partition(".")[0] in _MAIL_LABELS:
        return ("email", "")
    return hit


def lookup_host(host: str, table: HostTable = TABLE) -> Hit | None:
    """``(kind, source)`` of a lower-case host name in the table; the most specific match wins.

    :param host: a host name such as ``www.google.co.uk`` or an Android package name.
    :param table: the compiled data, the shipped one by default.
    """
    labels = host.split(".")
    n = len(labels)
    bases: list[list[str]] = []  # labels left when the TLD (com, fi, co.uk, com.au) is cut off
    if n >= 3 and labels[-2] in ("co", "com") and _CCTLD.fullmatch(labels[-1]):
        bases.append(labels[:-2])
    if n >= 2 and (labels[-1] == "com" or _CCTLD.fullmatch(labels[-1])):
        bases.append(labels[:-1])
    hit = table.exact.get(_bare(host))
    for base in bases:
        hit = hit or table.exact_any_tld.get(_bare(".".join(base)))
    if hit:
        return hit
    for i in range(n):
        hit = table.suffix.get(".".join(labels[i:]))
        for base in bases:
            if i < len(base):
                hit = hit or table.suffix_any_tld.get(".".join(base[i:]))
        if hit:
            return hit
    return None


@lru_cache(maxsize=1024)
def _known_source(utm_source: str) -> Hit | None:
    """A ``utm_source`` read as a source name (``facebook``, ``fb``) or a host (``chatgpt.com``)."""
    hit = TABLE.names.get(utm_source)
    if hit is None and "." in utm_source:
        host = _referer_host(utm_source) if "//" in utm_source else _host(utm_source)
        hit = lookup_host(host) if host else None
    return hit
