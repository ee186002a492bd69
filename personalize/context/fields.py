"""The context fields that rule conditions may name, with their types.

This table is the contract between the classifier and the rule language: the
rule loader rejects a condition on any other field (suggesting the nearest
name), and ``docs/rules.md`` documents exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One context field: its dotted name, value type and meaning."""

    name: str
    type: str  # "str" | "int" | "float" | "bool" | "list" | "datetime"
    description: str
    values: tuple[str, ...] = ()


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("device.type", "str", "device class",
              ("mobile", "tablet", "desktop", "tv", "bot", "other")),
        Field("device.os", "str", "operating system family, e.g. iOS, Android, Windows, Mac OS X"),
        Field("device.browser", "str", "browser family, e.g. Chrome, Safari, Firefox"),
        Field("device.touch", "bool", "the device has a touch screen"),
        Field("time.local", "datetime", "the visitor's local date and time (ISO 8601)"),
        Field("time.hour", "int", "local hour, 0-23"),
        Field("time.daypart", "str", "part of the day",
              ("night", "morning", "afternoon", "evening")),
        Field("time.weekday", "str", "local weekday",
              ("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
        Field("time.weekend", "bool", "local day is Saturday or Sunday"),
        Field("time.business_hours", "bool", "the site's business hours are open now"),
        Field("time.timezone", "str", "IANA time zone used, e.g. Europe/Helsinki"),
        Field("time.source", "str", "where the time zone came from", ("cookie", "site")),
        Field("referrer.kind", "str", "acquisition channel of this visit",
              ("direct", "internal", "search", "social", "email", "paid", "chatbot", "referral")),
        Field("referrer.source", "str", "named source, e.g. google, facebook, chatgpt, newsletter"),
        Field("referrer.domain", "str", "referring domain, e.g. www.google.com"),
        Field("referrer.campaign", "str", "utm_campaign of the visit"),
        Field("referrer.medium", "str", "utm_medium of the visit"),
        Field("referrer.click_id", "str",
              "click-id parameter present, e.g. gclid, fbclid, msclkid"),
        Field("history.visits", "int", "visits so far, this one included"),
        Field("history.returning", "bool", "this is not the visitor's first visit"),
        Field("history.pageviews", "int", "pageviews so far, this one included"),
        Field("history.visit_pageviews", "int", "pageviews in this visit, this one included"),
        Field("history.landing_page", "str", "path of this visit's first page"),
        Field("history.sections", "list", "recently visited site sections, newest first"),
        Field("history.conversions", "int", "conversions so far"),
        Field("history.days_since_conversion", "float", "days since the last conversion"),
        Field("history.days_since_first_visit", "float", "days since the first visit"),
        Field("history.feedback_negative", "int", "negative feedback the visitor has given"),
        Field("history.feedback_positive", "int", "positive feedback the visitor has given"),
        Field("consent.tracking", "bool", "the visitor allows a profile and learning"),
        Field("consent.reason", "str", "why tracking is off",
              ("dnt", "gpc", "cookie", "no_consent")),
        Field("request.path", "str", "URL path, e.g. /products/espresso"),
        Field("request.section", "str", "first path segment, 'home' for /"),
        Field("request.language", "str", "preferred language among the site's languages"),
        Field("request.secure", "bool", "the request came over https"),
        Field("request.method", "str", "HTTP method"),
    )
}
