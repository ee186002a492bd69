"""The shop's words in English and Finnish, picked by the browser's Accept-Language.

>>> from demo_site.i18n import text
>>> text("fi", "nav.cart", count=2)
'Ostoskori (2)'

A dict per language is all a two-language shop needs. The rule files hold
each variant's English HTML; :data:`VARIANTS_FI` holds the Finnish version of
the same variant, keyed by variant id, so a Finnish visitor sees the variant
the engine chose, in Finnish.
"""

from __future__ import annotations

from flask import g, has_request_context, request

from personalize.context.request import preferred_language

#: the languages the shop speaks, the default first (as in rules/00-site.yaml)
LANGUAGES: tuple[str, ...] = ("en", "fi")

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "site.tagline": "Small-batch coffee roastery in Helsinki",
        "nav.label": "Main",
        "nav.coffee": "Coffee",
        "nav.guides": "Brew guides",
        "nav.support": "Help",
        "nav.cart": "Cart ({count})",
        "skip": "Skip to content",
        "why": "Why am I seeing this?",
        "feedback.offer": "Was this useful?",
        "feedback.help": "Did this help?",
        "home.title": "Paahtimo — coffee roasted this week",
        "home.featured": "Roasted this week",
        "home.all": "See all coffees",
        "home.how.title": "How we work",
        "home.how.text": "We buy green coffee from a handful of farms we know, roast it in "
                         "12-kilo batches in Sörnäinen, and ship it within two days.",
        "coffee.title": "Our coffees",
        "coffee.all": "All coffees",
        "coffee.categories": "Categories",
        "product.roast": "Roast",
        "product.roast.light": "light",
        "product.roast.medium": "medium",
        "product.roast.dark": "dark",
        "product.origin": "Origin",
        "product.notes": "Tastes of",
        "product.size": "{grams} g bag",
        "product.quantity": "Quantity",
        "product.added": "{name} is in your cart.",
        "product.back": "Back to {category}",
        "cta.add_to_cart": "Add to cart",
        "cta.add_to_cart_roasted_this_week": "Add to cart — roasted this week",
        "cart.title": "Your cart",
        "cart.empty": "Your cart is empty.",
        "cart.browse": "Browse our coffees",
        "cart.item": "Coffee",
        "cart.quantity": "Quantity",
        "cart.price": "Price",
        "cart.update": "Update",
        "cart.remove": "Remove",
        "cart.total": "Total",
        "cart.checkout": "Go to checkout",
        "checkout.title": "Checkout",
        "checkout.demo": "This is a demo shop: no payment is taken and nothing is shipped.",
        "checkout.place": "Place order",
        "checkout.empty": "There is nothing to check out yet.",
        "thanks.title": "Thank you!",
        "thanks.number": "Order number {number}",
        "thanks.none": "We could not find a recent order. If you placed one, it is safe.",
        "thanks.back": "Back to the front page",
        "support.title": "How can we help?",
        "support.intro": "Something wrong with an order, or a question about brewing? "
                         "Here is how to reach us.",
        "support.faq": "Frequently asked questions",
        "support.chat": "Chat with us",
        "support.contact": "Write to us",
        "support.hours": "We are in the roastery Monday to Saturday, 8–18.",
        "support.faq.q1": "When is my coffee roasted?",
        "support.faq.a1": "Every Tuesday and Friday. Orders placed by 10:00 go into that "
                          "day's roast.",
        "support.faq.q2": "Can I change or cancel an order?",
        "support.faq.a2": "Yes, until it is roasted. Write to us with your order number.",
        "support.faq.q3": "Whole beans or ground?",
        "support.faq.a3": "We ship whole beans; ground coffee loses its aroma within days.",
        "support.chat.text": "While we are in the roastery, message us on WhatsApp at "
                            "+358 9 000 0000 and a roaster answers. Outside those hours, "
                            "please write to us and we answer first thing.",
        "support.contact.text": "Email hei@paahtimo.example or call +358 9 000 0000. "
                               "We answer every message ourselves.",
        "guides.title": "Brew guides",
        "guides.pour-over.title": "Pour-over in five minutes",
        "guides.pour-over.text": "15 g of coffee, 250 g of water just off the boil. Bloom "
                                 "with 40 g for 30 seconds, then pour slowly in circles. "
                                 "Aim for three minutes in total.",
        "guides.fresh-beans.title": "Getting the most out of fresh beans",
        "guides.fresh-beans.text": "Let freshly roasted beans rest four to seven days, keep "
                                   "them airtight and away from light, and grind just "
                                   "before brewing.",
        "help.brew_guide": "Brewing at home tonight? Our <a href=\"/guides/pour-over\">"
                           "pour-over guide</a> takes five minutes.",
        "consent.title": "Personalization",
        "consent.text": "May we remember your visits to adapt this shop to you? We keep no "
                        "names or emails, only a random id, and you can change your mind "
                        "at any time.",
        "consent.accept": "Yes, personalize",
        "consent.decline": "No, thanks",
        "privacy.on": "We remember your visits to adapt the shop.",
        "privacy.optout": "Stop and erase what you remember",
        "privacy.off": "Personalization is off: we remember nothing about your visits.",
        "privacy.allow": "Allow personalization",
        "privacy.browser": "Your browser asks us not to track you, so we do not.",
        "footer.address": "Paahtimo · Sörnäisten rantatie 1 · Helsinki",
        "error.404.title": "We could not find that page",
        "error.404.text": "The link may be old, or the page has moved. The coffee is "
                          "still here, though.",
        "error.400.title": "That form had gone stale",
        "error.400.text": "For your safety we only accept forms from a page you just "
                          "loaded. Please go back, reload the page and try again.",
        "error.405.title": "That did not work",
        "error.405.text": "This page cannot be used that way. Try going back and using "
                          "the buttons on the page.",
        "error.500.title": "Sorry, something went wrong on our side",
        "error.500.text": "It is not you, it is us. We have been told about it. Please "
                          "try again in a moment; your cart is safe.",
        "error.home": "Go to the front page",
    },
    "fi": {
        "site.tagline": "Pienpaahtimo Helsingissä",
        "nav.label": "Päävalikko",
        "nav.coffee": "Kahvit",
        "nav.guides": "Keitto-oppaat",
        "nav.support": "Apua",
        "nav.cart": "Ostoskori ({count})",
        "skip": "Siirry sisältöön",
        "why": "Miksi näen tämän?",
        "feedback.offer": "Oliko tästä hyötyä?",
        "feedback.help": "Auttoiko tämä?",
        "home.title": "Paahtimo — tällä viikolla paahdettua kahvia",
        "home.featured": "Tällä viikolla paahdettu",
        "home.all": "Katso kaikki kahvit",
        "home.how.title": "Näin teemme",
        "home.how.text": "Ostamme raakakahvin muutamalta tutulta tilalta, paahdamme sen "
                         "12 kilon erissä Sörnäisissä ja lähetämme kahden päivän sisällä.",
        "coffee.title": "Kahvimme",
        "coffee.all": "Kaikki kahvit",
        "coffee.categories": "Kategoriat",
        "product.roast": "Paahtoaste",
        "product.roast.light": "vaalea",
        "product.roast.medium": "keskitumma",
        "product.roast.dark": "tumma",
        "product.origin": "Alkuperä",
        "product.notes": "Maistuu",
        "product.size": "{grams} g pussi",
        "product.quantity": "Määrä",
        "product.added": "{name} on ostoskorissasi.",
        "product.back": "Takaisin: {category}",
        "cta.add_to_cart": "Lisää ostoskoriin",
        "cta.add_to_cart_roasted_this_week": "Lisää ostoskoriin — paahdettu tällä viikolla",
        "cart.title": "Ostoskorisi",
        "cart.empty": "Ostoskorisi on tyhjä.",
        "cart.browse": "Selaa kahveja",
        "cart.item": "Kahvi",
        "cart.quantity": "Määrä",
        "cart.price": "Hinta",
        "cart.update": "Päivitä",
        "cart.remove": "Poista",
        "cart.total": "Yhteensä",
        "cart.checkout": "Siirry kassalle",
        "checkout.title": "Kassa",
        "checkout.demo": "Tämä on esittelykauppa: mitään ei veloiteta eikä lähetetä.",
        "checkout.place": "Tee tilaus",
        "checkout.empty": "Kassalla ei ole vielä mitään.",
        "thanks.title": "Kiitos!",
        "thanks.number": "Tilausnumero {number}",
        "thanks.none": "Emme löytäneet tuoretta tilausta. Jos teit sellaisen, se on tallessa.",
        "thanks.back": "Takaisin etusivulle",
        "support.title": "Miten voimme auttaa?",
        "support.intro": "Onko tilauksessa jotain vialla, tai kysyttävää kahvin keittämisestä? "
                         "Näin tavoitat meidät.",
        "support.faq": "Usein kysytyt kysymykset",
        "support.chat": "Chattaa kanssamme",
        "support.contact": "Kirjoita meille",
        "support.hours": "Olemme paahtimolla maanantaista lauantaihin klo 8–18.",
        "support.faq.q1": "Milloin kahvini paahdetaan?",
        "support.faq.a1": "Joka tiistai ja perjantai. Klo 10 mennessä tehdyt tilaukset "
                          "ehtivät saman päivän paahtoon.",
        "support.faq.q2": "Voinko muuttaa tai perua tilauksen?",
        "support.faq.a2": "Voit, kunnes se on paahdettu. Kirjoita meille ja kerro "
                          "tilausnumerosi.",
        "support.faq.q3": "Kokonaisina papuina vai jauhettuna?",
        "support.faq.a3": "Lähetämme kokonaisia papuja; jauhettu kahvi menettää aromejaan "
                          "muutamassa päivässä.",
        "support.chat.text": "Kun olemme paahtimolla, lähetä viesti WhatsAppiin numeroon "
                            "+358 9 000 0000, niin paahtaja vastaa. Muina aikoina kirjoita "
                            "meille, niin vastaamme heti aamulla.",
        "support.contact.text": "Sähköposti hei@paahtimo.example tai puhelin "
                               "+358 9 000 0000. Vastaamme jokaiseen viestiin itse.",
        "guides.title": "Keitto-oppaat",
        "guides.pour-over.title": "Käsinsuodatus viidessä minuutissa",
        "guides.pour-over.text": "15 g kahvia, 250 g juuri kiehunutta vettä. Anna kukkia "
                                 "40 grammalla 30 sekuntia, kaada sitten hitaasti ympyröinä. "
                                 "Tavoitteena kolme minuuttia kaikkiaan.",
        "guides.fresh-beans.title": "Näin saat tuoreista pavuista kaiken irti",
        "guides.fresh-beans.text": "Anna tuoreiden papujen levätä neljästä seitsemään "
                                   "päivää, säilytä ne ilmatiiviisti valolta suojassa ja "
                                   "jauha juuri ennen keittämistä.",
        "help.brew_guide": "Keitätkö tänään kotona? <a href=\"/guides/pour-over\">"
                           "Käsinsuodatusopas</a> vie viisi minuuttia.",
        "consent.title": "Personointi",
        "consent.text": "Saammeko muistaa käyntisi ja mukauttaa kauppaa sinulle? Emme "
                        "tallenna nimiä emmekä sähköposteja, vain satunnaisen tunnisteen, "
                        "ja voit muuttaa mielesi milloin tahansa.",
        "consent.accept": "Kyllä, personoi",
        "consent.decline": "Ei kiitos",
        "privacy.on": "Muistamme käyntisi ja mukautamme kauppaa.",
        "privacy.optout": "Lopeta ja poista muistamanne",
        "privacy.off": "Personointi on pois päältä: emme muista käynneistäsi mitään.",
        "privacy.allow": "Salli personointi",
        "privacy.browser": "Selaimesi pyytää, ettei sinua seurata, joten emme seuraa.",
        "footer.address": "Paahtimo · Sörnäisten rantatie 1 · Helsinki",
        "error.404.title": "Emme löytäneet sivua",
        "error.404.text": "Linkki voi olla vanha, tai sivu on muuttanut. Kahvi on kuitenkin "
                          "yhä täällä.",
        "error.400.title": "Lomake ehti vanhentua",
        "error.400.text": "Turvallisuutesi vuoksi otamme vastaan vain juuri ladatun sivun "
                          "lomakkeita. Palaa takaisin, lataa sivu uudelleen ja yritä "
                          "uudestaan.",
        "error.405.title": "Tämä ei onnistunut",
        "error.405.text": "Sivua ei voi käyttää näin. Palaa takaisin ja käytä sivun "
                          "painikkeita.",
        "error.500.title": "Anteeksi, jokin meni vikaan meidän päässämme",
        "error.500.text": "Vika ei ole sinussa vaan meissä, ja siitä on jo ilmoitettu. "
                          "Yritä hetken päästä uudelleen; ostoskorisi on tallessa.",
        "error.home": "Etusivulle",
    },
}

#: Finnish HTML of the variants in rules/10-slots.yaml, by variant id
VARIANTS_FI: dict[str, str] = {
    "hero-default": "<h1>Tuoreeksi paahdettua Helsingissä</h1>"
                    "<p>Pienissä erissä, paahdetaan joka tiistai ja perjantai.</p>",
    "hero-morning": "<h1>Huomenta</h1>"
                    "<p>Aamu, kirkas aamusekoituksemme, on tehty päivän ensimmäiseen "
                    "kuppiin.</p>",
    "hero-night": "<h1>Vielä hereillä?</h1>"
                  "<p>Swiss Water -kofeiiniton kahvimme säilyttää maun mutta jättää "
                  "unettomat yöt pois.</p>",
    "hero-brew-guide": "<h1>Keitä omalla tavallasi</h1>"
                       "<p>Käsinsuodatus uutta? Viiden minuutin oppaamme auttaa alkuun.</p>",
    "hero-joulu": "<h1>Joulukahvi on täällä</h1>"
                  "<p>Joulusekoituksemme: tummaa suklaata, kardemummaa ja "
                  "appelsiininkuorta.</p>",
    "greeting-neutral": '<p class="greeting">Tervetuloa Paahtimoon.</p>',
    "greeting-welcome-back": '<p class="greeting">Tervetuloa takaisin. Tuttu kahvisi '
                             "paahdetaan yhä joka tiistai.</p>",
    "greeting-finnish": '<p class="greeting">Tervetuloa Paahtimoon.</p>',
    "greeting-first-visit": '<p class="greeting">Ensimmäistä kertaa täällä? Jokainen pussi '
                            "lähtee kahden päivän sisällä paahdosta.</p>",
    "promo-shipping": '<p class="note">Ilmainen toimitus yli 40 euron tilauksiin.</p>',
    "promo-bundle": '<p class="promo">Lisää tilaukseesi 250 g Aamua ja säästä 15 %.</p>',
    "promo-subscription": '<p class="promo">Kahvi ei lopu kesken — tuore pussi kahden '
                          "viikon välein, tauon voi pitää milloin vain.</p>",
    "promo-countdown": '<p class="promo urgent">Vain 2 jäljellä! Tarjous päättyy '
                       '<span class="timer">09:59</span></p>',
    "help-faq": '<p>Kysyttävää? <a href="/support/faq">Usein kysytyt kysymykset</a> '
                "vastaavat yleisimpiin.</p>",
    "help-chat": '<p>Olemme paahtimolla juuri nyt — <a href="/support/chat">kysy '
                 "chatissa</a>.</p>",
    "help-email": "<p>Olemme jo lopettaneet tältä päivältä. <a href=\"/support/contact\">"
                  "Kirjoita meille</a>, niin vastaamme heti aamulla.</p>",
    "closing-thanks": "<p>Kiitos tilauksestasi. Paahdamme sen tällä viikolla ja lähetämme "
                      "sen heti.</p>",
    "closing-brew-tips": '<p>Odotellessa: <a href="/guides/fresh-beans">näin saat '
                         "tuoreista pavuista kaiken irti</a>.</p>",
    "closing-refer": "<p>Anna ystävällesi 20 % alennus ensimmäisestä pussista.</p>",
}


def language_of(accept_language: str) -> str:
    """The shop language for an ``Accept-Language`` header (English when none fits)."""
    return preferred_language(accept_language, LANGUAGES)


def current_language() -> str:
    """The language of the request being served; English outside a request."""
    if not has_request_context():
        return LANGUAGES[0]
    if "lang" not in g:
        g.lang = language_of(request.headers.get("Accept-Language", ""))
    language: str = g.lang
    return language


def text(language: str, key: str, **values: object) -> str:
    """The string ``key`` in ``language``, its ``{name}`` fields filled from ``values``.

    :raises KeyError: an unknown key, so a typo fails the tests instead of
        showing a raw key to a visitor.
    """
    template = STRINGS.get(language, STRINGS["en"])[key]
    return template.format(**values) if values else template


def t(key: str, **values: object) -> str:
    """:func:`text` in the current request's language (the templates' ``t``)."""
    return text(current_language(), key, **values)
