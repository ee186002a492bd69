"""Synthetic visitors with hidden preferences, for simulations and the demo's seed.

::

    population = shop_population()
    visitors = population.sample(3000, start=t0, days=3, rng=np.random.default_rng(7))
    population.response(visitors[0].persona, "promo-countdown", {"promo", "urgent"})

A :class:`Persona` is a kind of visitor: which devices, hours, referrers and
languages it comes with, whether it consents, how often it returns and what
it came for. Its hidden preferences are :class:`Response` models per variant
id (or ``tag:name``): per exposure, the chance of a click, of 👍 or 👎, of a
complaint, of bouncing, and a multiplier on the chance of buying. The engine
never sees these; it has to learn them from the events the visitors send.

The roastery's population keeps the demo's dark pattern honest: the fake
countdown (``promo-countdown``) makes people buy more often than any other
offer, and draws far more complaints and thumbs-down than the default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

#: real User-Agent strings by device type
USER_AGENTS: dict[str, tuple[str, ...]] = {
    "mobile": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    "desktop": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
}

#: channel → (Referer header, query string) choices a landing request is made with
CHANNELS: dict[str, tuple[tuple[str, str], ...]] = {
    "direct": (("", ""),),
    "search": (("https://www.google.com/", ""), ("https://duckduckgo.com/", ""),
               ("https://www.bing.com/", "")),
    "social": (("https://www.instagram.com/", ""), ("https://l.facebook.com/", "")),
    "email": (("", "utm_source=newsletter&utm_medium=email&utm_campaign=weekly"),),
    "paid": (("https://www.google.com/", "gclid=sim"),),
    "chatbot": (("https://chatgpt.com/", ""),),
}

INTENTS = ("browse", "buy", "support", "guide")


@dataclass(frozen=True, slots=True)
class Response:
    """How a visitor reacts to one variant, per exposure.

    :param click: chance of clicking inside the slot.
    :param convert: multiplier on the visitor's chance of buying in this visit.
    :param dwell: multiplier on seconds spent on the page.
    :param like: chance of 👍 where the slot offers feedback.
    :param dislike: chance of 👎 where the slot offers feedback.
    :param complaint: chance of complaining about it.
    :param bounce: added chance of leaving at once when it is on the landing page.
    """

    click: float = 0.02
    convert: float = 1.0
    dwell: float = 1.0
    like: float = 0.02
    dislike: float = 0.01
    complaint: float = 0.0
    bounce: float = 0.0


NEUTRAL = Response()


@dataclass(frozen=True)
class Persona:
    """A kind of visitor. Weights need not sum to one; they are normalized.

    :param hours: 24 weights for the local hour of arrival.
    :param consent: ``yes`` (accepts the banner), ``no`` (declines), ``none``
        (ignores it) and ``gpc`` (sends Global Privacy Control).
    :param returns: mean number of further visits during the simulated days.
    :param buy: chance of adding to the cart on a product page, before any variant's effect.
    :param likes: hidden preferences, by variant id or ``tag:name``.
    """

    name: str
    weight: float
    devices: Mapping[str, float]
    hours: Sequence[float]
    channels: Mapping[str, float]
    intents: Mapping[str, float]
    languages: Mapping[str, float] = field(default_factory=lambda: {"en": 0.5, "fi": 0.5})
    consent: Mapping[str, float] = field(
        default_factory=lambda: {"yes": 0.8, "no": 0.12, "none": 0.05, "gpc": 0.03})
    returns: float = 0.3
    buy: float = 0.1
    bounce: float = 0.1
    dwell_seconds: float = 40.0
    likes: Mapping[str, Response] = field(default_factory=dict)


@dataclass(frozen=True)
class SimVisitor:
    """One synthetic browser: its persona, headers and the start of each of its visits."""

    number: int
    persona: Persona
    user_agent: str
    device: str
    language: str
    consent: str
    visits: tuple[float, ...]
    channels: tuple[str, ...]
    intents: tuple[str, ...]


@dataclass(frozen=True)
class Population:
    """Personas plus the responses everyone shares, by variant id or ``tag:name``."""

    personas: tuple[Persona, ...]
    responses: Mapping[str, Response]
    timezone: str = "Europe/Helsinki"

    def response(self, persona: Persona, variant: str, tags: frozenset[str] | set[str]
                 ) -> Response:
        """The response model: the persona's own first, then everyone's; id before tag."""
        for table in (persona.likes, self.responses):
            if variant in table:
                return table[variant]
            for tag in sorted(tags):
                if f"tag:{tag}" in table:
                    return table[f"tag:{tag}"]
        return NEUTRAL

    def sample(self, count: int, *, start: float, days: float,
               rng: np.random.Generator) -> list[SimVisitor]:
        """``count`` visitors whose visits fall between ``start`` and ``start + days``."""
        if count < 1 or days <= 0:
            raise ValueError(f"expected at least one visitor over a positive number of days, "
                             f"got {count!r} visitors over {days!r} days")
        weights = np.array([p.weight for p in self.personas], dtype=float)
        chosen = rng.choice(len(self.personas), size=count, p=weights / weights.sum())
        zone = ZoneInfo(self.timezone)
        return [self._visitor(i, self.personas[k], start, days, zone, rng)
                for i, k in enumerate(chosen)]

    def _visitor(self, number: int, persona: Persona, start: float, days: float,
                 zone: ZoneInfo, rng: np.random.Generator) -> SimVisitor:
        device = _pick(persona.devices, rng)
        visits = 1 + int(rng.poisson(persona.returns))
        times = sorted(_arrival(persona.hours, start, days, zone, rng) for _ in range(visits))
        channels = [_pick(persona.channels, rng)]
        channels += [_pick({"direct": 0.6, "email": 0.25, "search": 0.15}, rng)
                     for _ in times[1:]]
        return SimVisitor(
            number=number, persona=persona, device=device,
            user_agent=str(rng.choice(USER_AGENTS[device])),
            language=_pick(persona.languages, rng), consent=_pick(persona.consent, rng),
            visits=tuple(times), channels=tuple(channels),
            intents=tuple(_pick(persona.intents, rng) for _ in times))


def _pick(weights: Mapping[str, float], rng: np.random.Generator) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=float)
    return str(names[int(rng.choice(len(names), p=p / p.sum()))])


def _arrival(hours: Sequence[float], start: float, days: float, zone: ZoneInfo,
             rng: np.random.Generator) -> float:
    """An epoch time in [start, start + days) whose local hour follows ``hours``."""
    p = np.array(hours, dtype=float)
    for _ in range(100):
        day = int(rng.integers(0, max(1, math.ceil(days))))
        hour = int(rng.choice(24, p=p / p.sum()))
        origin = datetime.fromtimestamp(start, zone).replace(hour=0, minute=0, second=0,
                                                             microsecond=0)
        local = origin + timedelta(days=day, hours=hour, seconds=float(rng.uniform(0, 3600)))
        when = local.timestamp()
        if start <= when < start + days * 86400:
            return when
    return start + float(rng.uniform(0, days * 86400))


def hourly(*peaks: tuple[float, float], base: float = 0.2) -> tuple[float, ...]:
    """24 hourly weights: a small base plus bumps around the given hours."""
    return tuple(base + sum(w * math.exp(-0.5 * ((h - at) / 1.5) ** 2) for at, w in peaks)
                 for h in range(24))
