"""What Paahtimo sells: eight coffees, in English and Finnish.

>>> from demo_site.catalog import PRODUCTS, by_category
>>> PRODUCTS["aamu"].price_cents
1290
>>> [p.slug for p in by_category("decaf")]
['yo']

Prices are whole cents, so totals never pick up floating-point crumbs.
"""

from __future__ import annotations

from dataclasses import dataclass

#: category slug → (English name, Finnish name); the order is the menu's order
CATEGORIES: dict[str, tuple[str, str]] = {
    "blends": ("Blends", "Sekoitukset"),
    "single-origin": ("Single origin", "Yhden alkuperän kahvit"),
    "decaf": ("Decaf", "Kofeiinittomat"),
}


@dataclass(frozen=True, slots=True)
class Product:
    """One coffee on the shelf.

    :param slug: the URL name, ``/products/<slug>``.
    :param category: a key of :data:`CATEGORIES`.
    :param roast: ``light``, ``medium`` or ``dark`` (drawn as a small scale).
    :param price_cents: the price of one bag in euro cents.
    :param notes: tasting notes by language.
    :param description: a sentence or two by language.
    """

    slug: str
    name: str
    category: str
    origin: str
    roast: str
    grams: int
    price_cents: int
    notes: dict[str, str]
    description: dict[str, str]


_ALL = [
    Product("aamu", "Aamu", "blends", "Brazil · Ethiopia", "medium", 250, 1290,
            {"en": "milk chocolate, red apple, honey", "fi": "maitosuklaa, punainen omena, hunaja"},
            {"en": "Our bright morning blend, made for the first cup of the day.",
             "fi": "Kirkas aamusekoituksemme, tehty päivän ensimmäiseen kuppiin."}),
    Product("ilta", "Ilta", "blends", "Colombia · Guatemala", "dark", 250, 1290,
            {"en": "cocoa, toasted almond, molasses", "fi": "kaakao, paahdettu manteli, siirappi"},
            {"en": "A rounder, darker blend for the afternoon and after dinner.",
             "fi": "Pyöreämpi ja tummempi sekoitus iltapäivään ja illallisen jälkeen."}),
    Product("joulukahvi", "Joulukahvi", "blends", "Guatemala · Sumatra", "dark", 250, 1450,
            {"en": "dark chocolate, cardamom, orange peel",
             "fi": "tumma suklaa, kardemumma, appelsiininkuori"},
            {"en": "Our Christmas blend, roasted in small batches until the end of December.",
             "fi": "Joulusekoituksemme, paahdetaan pienissä erissä joulukuun loppuun asti."}),
    Product("kenia-kiambu", "Kenya Kiambu", "single-origin", "Kiambu, Kenya", "light", 250, 1690,
            {"en": "blackcurrant, grapefruit, brown sugar",
             "fi": "mustaherukka, greippi, fariinisokeri"},
            {"en": "Juicy and bright; at its best as a pour-over.",
             "fi": "Mehukas ja kirkas; parhaimmillaan suodatettuna käsin."}),
    Product("etiopia-guji", "Ethiopia Guji", "single-origin", "Guji, Ethiopia", "light", 250,
            1590,
            {"en": "jasmine, peach, bergamot", "fi": "jasmiini, persikka, bergamotti"},
            {"en": "A floral washed coffee from smallholders in the Guji zone.",
             "fi": "Kukkainen pestty kahvi Gujin pientiloilta."}),
    Product("kolumbia-huila", "Colombia Huila", "single-origin", "Huila, Colombia", "medium",
            250, 1490,
            {"en": "caramel, plum, orange", "fi": "karamelli, luumu, appelsiini"},
            {"en": "Sweet and balanced, forgiving in any brewer.",
             "fi": "Makea ja tasapainoinen, onnistuu millä tahansa keittimellä."}),
    Product("brasilia-cerrado", "Brazil Cerrado", "single-origin", "Cerrado Mineiro, Brazil",
            "dark", 500, 2290,
            {"en": "hazelnut, dark chocolate, low acidity",
             "fi": "hasselpähkinä, tumma suklaa, vähähappoinen"},
            {"en": "A big half-kilo bag for the office and the espresso machine.",
             "fi": "Iso puolen kilon pussi toimistolle ja espressokeittimeen."}),
    Product("yo", "Yö", "decaf", "Colombia, Swiss Water", "medium", 250, 1390,
            {"en": "milk chocolate, cherry, vanilla", "fi": "maitosuklaa, kirsikka, vanilja"},
            {"en": "Swiss-water decaf: all of the flavour, none of the 3 a.m. thoughts.",
             "fi": "Swiss Water -kofeiiniton: kaikki maku, ei unettomia öitä."}),
]

#: every product by slug, in the order the shop lists them
PRODUCTS: dict[str, Product] = {p.slug: p for p in _ALL}


def by_category(category: str | None) -> list[Product]:
    """The products of one category, or all of them for ``None``."""
    return [p for p in PRODUCTS.values() if category is None or p.category == category]


def category_name(category: str, language: str) -> str:
    """A category's display name in ``language`` (``en`` or ``fi``)."""
    english, finnish = CATEGORIES[category]
    return finnish if language == "fi" else english


def format_price(cents: int, language: str) -> str:
    """Euros as people write them: ``€12.90`` in English, ``12,90 €`` in Finnish."""
    euros, rest = divmod(cents, 100)
    if language == "fi":
        return f"{euros},{rest:02d}\u00a0€"
    return f"€{euros}.{rest:02d}"
