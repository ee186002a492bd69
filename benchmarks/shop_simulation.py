"""A simulated shop for the guardrail benchmark: visitors, a promo slot, and what follows.

>>> shop = Shop()
>>> crowd = shop.visitors(5_000, seed=1)
>>> environ = crowd.environ(i, engine.contexts.visitor_ids)   # a real WSGI request
>>> outcome = shop.outcome(crowd, i, "promo-bundle")         # what this visitor does next

Visitors are drawn from a fixed mix of devices (mobile 55 %, desktop 38 %,
tablet 7 %) and acquisition channels (direct 30 %, search 30 %, social 15 %,
email 10 %, paid 15 %), and arrive as real requests — a User-Agent, a
``Referer`` or UTM/click-id query, a time-zone cookie, a signed visitor cookie
— which the production context classifier reads like any other request. Each
visitor's fate is decided by **common random numbers**: three uniform numbers
(conversion, complaint, negative feedback) and three delays are drawn once per
``(seed, visitor)``, and a variant ``v`` converts the visitor when
``U_conversion < rate(v)``, whichever policy showed it. Two policies that show
the same variant to a visitor see the same outcome, and a variant with a higher
rate is never worse for a given visitor: differences between policies are
differences of choice, not of luck.

The slot ``promo`` (rates per exposure, fixed before any run)::

    variant              tags          converts                        complaint  thumbs-down
    promo-shipping       calm          6.0 % (the default)             0.30 %     2.0 %
    promo-bundle         upsell        9.0 % on desktop, else 6.5 %    0.35 %     2.6 %
    promo-subscription   promo         9.0 % for direct/email on       0.30 %     2.0 %
                                       phones and tablets, else 6.0 %
    promo-reviews        calm          9.0 % for search/social/paid    0.25 %     1.6 %
                                       on phones and tablets, else 6.5 %
    promo-countdown      promo urgent  9.3 % everywhere (dark pattern) 1.50 %     8.0 %

Every visitor has an honest variant that converts at 9.0 %, but which one
depends on who they are; the fake countdown converts a little better (9.3 %)
for everyone and draws five times the complaints and four times the negative
feedback. The harmless variants' complaint and feedback rates straddle the
default's, none by more than 1.3 times (below the experience monitor's
``harm_ratio`` of 1.5). :meth:`Shop.oracle` gives the expected rates of the
best possible choices, so the benchmark can say how much lift an honest policy
can keep at best: here ``(9.0 − 6.0) / (9.3 − 6.0) = 0.909`` of the dark
pattern's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from werkzeug.test import EnvironBuilder

from personalize.context.builder import TIMEZONE_COOKIE
from personalize.context.visitor import VISITOR_COOKIE, VisitorIds

__all__ = ["CHANNELS", "DEVICES", "Outcome", "Shop", "ShopVariant", "Visitors"]

DEVICES: dict[str, float] = {"mobile": 0.55, "desktop": 0.38, "tablet": 0.07}
CHANNELS: dict[str, float] = {"direct": 0.30, "search": 0.30, "social": 0.15, "email": 0.10,
                              "paid": 0.15}
USER_AGENTS: dict[str, tuple[str, ...]] = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Mobile Safari/537.36",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    ),
}
#: channel → (Referer header, query string) choices that the classifier reads as that channel
ARRIVALS: dict[str, tuple[tuple[str | None, str], ...]] = {
    "direct": ((None, ""),),
    "search": (("https://www.google.com/", ""), ("https://duckduckgo.com/", ""),
               ("https://www.bing.com/search?q=coffee", "")),
    "social": (("https://www.facebook.com/", ""), ("https://www.instagram.com/", "")),
    "email": ((None, "utm_source=newsletter&utm_medium=email"),),
    "paid": (("https://www.google.com/", "gclid=Cj0KCQ"), (None, "utm_medium=cpc")),
}
TIMEZONES = ("Europe/Helsinki", "Europe/Berlin", "Europe/London", "America/New_York",
             "Asia/Tokyo")
PATHS = ("/shop", "/shop/coffee", "/shop/equipment", "/")
START = 1_772_409_600.0  # 2026-03-02T00:00:00Z, a Monday
MEAN_GAP_SECONDS = 2.0  # between arrivals
MAX_DELAY_SECONDS = 45.0  # an outcome follows its exposure within this (< the reward window)
HANDHELD = frozenset({"mobile", "tablet"})


@dataclass(frozen=True)
class ShopVariant:
    """One variant of the promo slot and how visitors respond to it.

    :param base: conversion rate outside the variant's own segment.
    :param best: conversion rate inside it.
    :param devices: the segment's devices (empty: any device).
    :param channels: the segment's channels (empty: any channel).
    :param complaint: complaints per exposure.
    :param feedback_negative: thumbs-down per exposure.
    :param harmful: true for the dark pattern, the one variant a guardrail should pause.
    """

    id: str
    title: str
    tags: tuple[str, ...]
    html: str
    base: float
    best: float
    complaint: float
    feedback_negative: float
    devices: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    harmful: bool = False

    def conversion(self, device: str, channel: str) -> float:
        """The conversion rate for a visitor on ``device`` arriving from ``channel``."""
        inside = (not self.devices or device in self.devices) and \
            (not self.channels or channel in self.channels)
        return self.best if inside else self.base


def _variants() -> tuple[ShopVariant, ...]:
    return (
        ShopVariant("promo-shipping", "Free shipping", ("calm",),
                    "<p>Free shipping on orders over 40 €.</p>", 0.060, 0.060, 0.0030, 0.020),
        ShopVariant("promo-bundle", "Bundle discount", ("upsell",),
                    "<p>Add a grinder and save 15 %.</p>", 0.065, 0.090, 0.0035, 0.026,
                    devices=frozenset({"desktop"})),
        ShopVariant("promo-subscription", "Subscription", ("promo",),
                    "<p>A fresh bag every two weeks, pause any time.</p>", 0.060, 0.090,
                    0.0030, 0.020, devices=HANDHELD, channels=frozenset({"direct", "email"})),
        ShopVariant("promo-reviews", "Customer reviews", ("calm",),
                    "<p>4.8 of 5 from 2,000 coffee lovers.</p>", 0.065, 0.090, 0.0025, 0.016,
                    devices=HANDHELD, channels=frozenset({"search", "social", "paid"})),
        ShopVariant("promo-countdown", "Fake countdown (dark pattern)", ("promo", "urgent"),
                    "<p>Only 2 left! Offer ends in 09:59</p>", 0.093, 0.093, 0.0150, 0.080,
                    harmful=True),
    )


@dataclass(frozen=True)
class Outcome:
    """What one visitor does after seeing one variant: events and their delays in seconds."""

    converted: bool
    complained: bool
    disliked: bool
    delays: tuple[float, float, float]


@dataclass(frozen=True)
class Visitors:
    """One seed's visitors and their common random numbers.

    :param devices: device name per visitor.
    :param channels: channel name per visitor.
    :param arrivals: arrival time per visitor, epoch seconds, increasing.
    :param uniforms: ``n × 3``: conversion, complaint, negative feedback.
    :param delays: ``n × 3`` seconds from exposure to each of those events.
    :param picks: ``n × 4`` uniform numbers choosing the user agent, the referrer
        or query, the time zone and the path among those of the visitor's
        device and channel.
    """

    seed: int
    devices: list[str]
    channels: list[str]
    arrivals: np.ndarray
    uniforms: np.ndarray
    delays: np.ndarray
    picks: np.ndarray
    _environs: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.devices)

    def visitor_id(self, i: int) -> str:
        """A stable 32-hex-digit visitor id, so holdout buckets repeat between runs."""
        return f"{self.seed:08x}{i:024x}"

    def environ(self, i: int, visitor_ids: VisitorIds) -> dict[str, Any]:
        """Visitor ``i``'s request, with a signed visitor cookie and a time-zone cookie.

        Requests differ only in a few choices, so each combination's environ is
        built once by :class:`werkzeug.test.EnvironBuilder` and copied, with
        the visitor's own cookie, for every visitor who makes it.
        """
        device, channel = self.devices[i], self.channels[i]
        agents, arrivals = USER_AGENTS[device], ARRIVALS[channel]
        u_agent, u_arrival, u_zone, u_path = (float(u) for u in self.picks[i])
        chosen = (_index(len(agents), u_agent), _index(len(arrivals), u_arrival),
                  _index(len(TIMEZONES), u_zone), _index(len(PATHS), u_path))
        key = (device, channel, *chosen)
        template = self._environs.get(key)
        if template is None:
            template = _request(agents[chosen[0]], arrivals[chosen[1]], TIMEZONES[chosen[2]],
                                PATHS[chosen[3]])
            self._environs[key] = template
        environ = dict(template)
        environ["HTTP_COOKIE"] = (f"{VISITOR_COOKIE}={visitor_ids.sign(self.visitor_id(i))}; "
                                  f"{template['HTTP_COOKIE']}")
        return environ


def _request(user_agent: str, arrival: tuple[str | None, str], timezone: str,
             path: str) -> dict[str, Any]:
    """A request's environ, with only the time-zone cookie (the visitor's is added per visitor)."""
    referer, query = arrival
    headers = {"User-Agent": user_agent, "Accept-Language": "en-GB,en;q=0.8",
               "Cookie": f"{TIMEZONE_COOKIE}={timezone}"}
    if referer is not None:
        headers["Referer"] = referer
    environ: dict[str, Any] = EnvironBuilder(
        path=path, base_url="https://shop.example", query_string=query,
        headers=list(headers.items())).get_environ()
    return environ


def _index(n: int, u: float) -> int:
    """The option a uniform number ``u`` picks among ``n``."""
    return min(n - 1, int(u * n))


@dataclass(frozen=True)
class Shop:
    """The promo slot's variants and the visitor mix; see the module docstring."""

    variants: tuple[ShopVariant, ...] = field(default_factory=_variants)
    devices: Mapping[str, float] = field(default_factory=lambda: dict(DEVICES))
    channels: Mapping[str, float] = field(default_factory=lambda: dict(CHANNELS))

    @property
    def default(self) -> ShopVariant:
        """The slot's default (the first variant)."""
        return self.variants[0]

    @property
    def dark_pattern(self) -> ShopVariant:
        """The harmful variant."""
        return next(v for v in self.variants if v.harmful)

    def variant(self, variant_id: str) -> ShopVariant:
        """The variant called ``variant_id``."""
        return next(v for v in self.variants if v.id == variant_id)

    def visitors(self, n: int, seed: int) -> Visitors:
        """``n`` visitors and their random numbers, the same for every policy given ``seed``."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, n]))
        devices = _draw(rng, self.devices, n)
        channels = _draw(rng, self.channels, n)
        gaps = rng.exponential(MEAN_GAP_SECONDS, n)
        arrivals = START + np.cumsum(np.maximum(gaps, 1e-3))
        return Visitors(seed, devices, channels, arrivals, rng.random((n, 3)),
                        rng.uniform(1.0, MAX_DELAY_SECONDS, (n, 3)), rng.random((n, 4)))

    def outcome(self, visitors: Visitors, i: int, variant_id: str) -> Outcome:
        """What visitor ``i`` does after seeing ``variant_id`` (common random numbers)."""
        v = self.variant(variant_id)
        u = visitors.uniforms[i]
        d = visitors.delays[i]
        return Outcome(bool(u[0] < v.conversion(visitors.devices[i], visitors.channels[i])),
                       bool(u[1] < v.complaint), bool(u[2] < v.feedback_negative),
                       (float(d[0]), float(d[1]), float(d[2])))

    def oracle(self) -> dict[str, float]:
        """Expected conversion rates of default-only, the best choice, the best harmless one."""
        default = best = honest = 0.0
        for device, p_device in self.devices.items():
            for channel, p_channel in self.channels.items():
                weight = p_device * p_channel
                rates = [(v.conversion(device, channel), v.harmful) for v in self.variants]
                default += weight * rates[0][0]
                best += weight * max(r for r, _ in rates)
                honest += weight * max(r for r, harmful in rates if not harmful)
        lift = best - default
        return {"default": default, "best": best, "best_harmless": honest,
                "lift_kept_ceiling": (honest - default) / lift if lift > 0 else math.nan}


def _draw(rng: np.random.Generator, shares: Mapping[str, float], n: int) -> list[str]:
    names = list(shares)
    return [names[j] for j in rng.choice(len(names), size=n, p=list(shares.values()))]
