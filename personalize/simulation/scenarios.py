"""The populations ``personalize simulate --scenario`` offers, tuned for the demo roastery.

``shop``
    The roastery's everyday mix: commuters, night owls, home brewers, gift
    shoppers, people with a problem, and bargain hunters. Each has its own
    hidden taste (the night owl warms to the decaf banner, the home brewer to
    the subscription), so a contextual bandit has something to learn.
``bargains``
    A focused scenario: mostly bargain hunters browsing the coffee pages, where
    the offers are. The fake countdown sells best of all offers here, and its
    complaints and thumbs-down pile up fast enough for the experience monitor
    to pause it within a few hundred of its exposures.

The variant ids are the demo's (``rules/10-slots.yaml``); against other rules
unknown variants get the neutral response, and tags (``tag:promo``) still apply.
"""

from __future__ import annotations

from collections.abc import Callable

from .population import Persona, Population, Response, hourly

#: what everyone shares; persona likes refine it
SHARED: dict[str, Response] = {
    "hero-default": Response(click=0.04),
    "hero-morning": Response(click=0.05),
    "hero-night": Response(click=0.04),
    "hero-brew-guide": Response(click=0.05, convert=0.95),
    "hero-joulu": Response(click=0.06, convert=1.1),
    "promo-shipping": Response(click=0.03, convert=1.1, like=0.03, dislike=0.01,
                               complaint=0.001),
    # honest offers: a few more 👎 than the shipping note, but nowhere near harm
    "promo-bundle": Response(click=0.05, convert=1.15, like=0.03, dislike=0.012,
                             complaint=0.0015),
    "promo-subscription": Response(click=0.04, convert=1.1, like=0.04, dislike=0.011,
                                   complaint=0.0012),
    # the dark pattern: the best seller, and the worst experience
    "promo-countdown": Response(click=0.08, convert=1.6, like=0.01, dislike=0.2,
                                complaint=0.05, bounce=0.08),
    "cta-add": Response(click=0.3),
    "cta-add-fresh": Response(click=0.32, convert=1.1),
    "help-faq": Response(click=0.06, like=0.05),
    "help-chat": Response(click=0.12, like=0.08),
    "help-email": Response(click=0.06, like=0.05),
    "help-brew-guide": Response(click=0.05, like=0.04),
    "closing-thanks": Response(like=0.12),
    "closing-brew-tips": Response(click=0.15, like=0.15),
    "tag:upsell": Response(dislike=0.08, complaint=0.01),
}

DAYTIME = hourly((10, 1.0), (14, 1.0), (19, 0.8))

COMMUTERS = Persona(
    "commuter", 0.22, devices={"mobile": 0.85, "desktop": 0.15},
    hours=hourly((7.5, 3.0), (17, 2.0)), channels={"social": 0.35, "direct": 0.35, "search": 0.3},
    intents={"browse": 0.5, "buy": 0.35, "support": 0.1, "guide": 0.05},
    likes={"hero-morning": Response(click=0.1, convert=1.25),
           "promo-subscription": Response(click=0.06, convert=1.3, like=0.08, dislike=0.01)})
NIGHT_OWLS = Persona(
    "night-owl", 0.14, devices={"mobile": 0.9, "desktop": 0.1},
    hours=hourly((23, 3.0), (0, 3.0), (1, 2.0), base=0.1),
    channels={"search": 0.5, "social": 0.3, "chatbot": 0.2},
    intents={"browse": 0.7, "buy": 0.2, "support": 0.1}, buy=0.08,
    likes={"hero-night": Response(click=0.12, convert=1.4),
           "promo-countdown": Response(click=0.05, convert=1.4, dislike=0.28, complaint=0.06,
                                       bounce=0.1)})
HOME_BREWERS = Persona(
    "home-brewer", 0.22, devices={"desktop": 0.75, "mobile": 0.2, "tablet": 0.05},
    hours=hourly((19.5, 3.0), (9, 0.8)), channels={"direct": 0.4, "search": 0.3, "email": 0.3},
    intents={"browse": 0.3, "buy": 0.35, "guide": 0.3, "support": 0.05}, returns=0.8, buy=0.12,
    dwell_seconds=70.0,
    likes={"hero-brew-guide": Response(click=0.14, convert=1.3),
           "help-brew-guide": Response(click=0.12, like=0.1),
           "promo-subscription": Response(click=0.07, convert=1.4, like=0.1, dislike=0.01),
           "promo-bundle": Response(click=0.06, convert=1.2, like=0.05, dislike=0.012)})
GIFT_SHOPPERS = Persona(
    "gift-shopper", 0.17, devices={"desktop": 0.6, "mobile": 0.3, "tablet": 0.1},
    hours=hourly((12.5, 2.0), (20, 2.0)), channels={"email": 0.35, "paid": 0.35, "search": 0.3},
    intents={"buy": 0.55, "browse": 0.45}, buy=0.12,
    likes={"promo-bundle": Response(click=0.08, convert=1.35, like=0.06, dislike=0.01),
           "promo-countdown": Response(click=0.1, convert=1.8, dislike=0.18, complaint=0.04,
                                       bounce=0.06)})
SUPPORT_SEEKERS = Persona(
    "support-seeker", 0.1, devices={"desktop": 0.5, "mobile": 0.5}, hours=DAYTIME,
    channels={"direct": 0.6, "email": 0.4}, intents={"support": 0.85, "browse": 0.15},
    returns=0.4, buy=0.04, bounce=0.05,
    likes={"help-chat": Response(click=0.2, like=0.15), "help-faq": Response(click=0.1)})
BARGAIN_HUNTERS = Persona(
    "bargain-hunter", 0.15, devices={"mobile": 0.6, "desktop": 0.4}, hours=DAYTIME,
    channels={"paid": 0.6, "social": 0.4}, intents={"browse": 0.6, "buy": 0.4},
    buy=0.08, bounce=0.2, dwell_seconds=25.0,
    likes={"promo-countdown": Response(click=0.1, convert=1.9, dislike=0.2, complaint=0.05,
                                       bounce=0.08),
           "promo-bundle": Response(click=0.07, convert=1.3, like=0.04, dislike=0.012)})


def shop_population() -> Population:
    """The roastery's everyday mix of visitors."""
    return Population((COMMUTERS, NIGHT_OWLS, HOME_BREWERS, GIFT_SHOPPERS, SUPPORT_SEEKERS,
                       BARGAIN_HUNTERS), SHARED)


def bargain_population() -> Population:
    """Mostly bargain hunters on the coffee pages: the countdown's best and worst case."""
    hunters = Persona(
        "bargain-hunter", 1.0, devices={"mobile": 0.6, "desktop": 0.4}, hours=DAYTIME,
        channels={"paid": 0.6, "social": 0.4}, intents={"browse": 0.7, "buy": 0.3},
        consent={"yes": 0.9, "no": 0.1}, returns=0.5, buy=0.08, bounce=0.1, dwell_seconds=25.0,
        likes=BARGAIN_HUNTERS.likes)
    return Population((hunters, GIFT_SHOPPERS), SHARED)


SCENARIOS: dict[str, Callable[[], Population]] = {
    "shop": shop_population,
    "bargains": bargain_population,
}
