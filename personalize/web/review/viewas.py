""""View as": what would a given visitor see right now, and why — without a trace.

>>> form, problems = ViewAsForm.parse(request.args, site)
>>> result = view_as(engine, form, base_url="https://shop.example/")
>>> [(d.slot, d.variant, d.explain()) for d in result.decisions]

The form becomes a real WSGI environ (werkzeug's ``EnvironBuilder``: the User-Agent,
referrer, language, consent and time-zone cookies), which runs through
:meth:`Personalizer.visit` and :meth:`Personalizer.decide` for every slot,
exactly as a page would. Nothing is committed: ``visit`` only reads, no
exposure is logged and no profile saved; the context carries no visitor id, so
the bandit neither learns from it nor puts it in the holdout. The chosen local
time and the visitor's history (visits, past orders) replace what a brand-new
visitor at this moment would have. Only in-memory operator counts notice a
preview: ``engine.counters`` and the guardrails' report tallies count its
decisions like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from werkzeug.test import EnvironBuilder

from ...context import Context
from ...context.builder import TIMEZONE_COOKIE
from ...context.history import Exposure
from ...context.site import SiteSettings
from ...context.time import classify_time, valid_timezone, zone
from ...decision import Decision
from ...rules.model import Variant

if TYPE_CHECKING:
    from ...engine import Personalizer

__all__ = ["BOUGHT", "DEVICES", "REFERRERS", "SlotView", "ViewAs", "ViewAsForm", "preview",
           "view_as"]

#: preset devices: key → (label, User-Agent)
DEVICES: dict[str, tuple[str, str]] = {
    "desktop": ("Desktop — Windows, Chrome",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/124.0.0.0 Safari/537.36"),
    "mac": ("Desktop — macOS, Safari",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.4 Safari/605.1.15"),
    "iphone": ("Phone — iPhone, Safari",
               "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
               "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    "android": ("Phone — Android, Chrome",
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
                "Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"),
    "ipad": ("Tablet — iPad, Safari",
             "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
             "Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    "bot": ("Search engine crawler",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
}
#: suggested referrers for the form's list
REFERRERS: tuple[tuple[str, str], ...] = (
    ("", "None (typed the address)"),
    ("https://www.google.com/", "Google search"),
    ("https://www.bing.com/", "Bing search"),
    ("https://www.facebook.com/", "Facebook"),
    ("https://www.instagram.com/", "Instagram"),
    ("https://chatgpt.com/", "ChatGPT"),
)
#: past orders: key → (label, conversions, days since the last one)
BOUGHT: dict[str, tuple[str, int, float | None]] = {
    "never": ("Never ordered", 0, None),
    "days": ("Ordered yesterday", 1, 1.0),
    "weeks": ("Ordered two weeks ago", 1, 14.0),
    "months": ("Ordered several times, last three months ago", 3, 90.0),
}
CONSENT = ("yes", "no", "dnt")
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
MAX_UA = 512


@dataclass(frozen=True)
class ViewAsForm:
    """The visitor to imitate; every field has a sensible default.

    :param user_agent: a pasted User-Agent, used instead of ``device`` when given.
    :param local_time: ``YYYY-MM-DDTHH:MM`` in ``timezone``; empty means now.
    :param consent: ``yes``, ``no`` (declined in the consent cookie) or ``dnt``.
    """

    device: str = "desktop"
    user_agent: str = ""
    local_time: str = ""
    timezone: str = ""
    referrer: str = ""
    path: str = "/"
    language: str = "en"
    visits: int = 1
    bought: str = "never"
    consent: str = "yes"

    @property
    def ua(self) -> str:
        """The User-Agent to send."""
        return self.user_agent or DEVICES[self.device][1]

    @classmethod
    def parse(cls, args: Mapping[str, str], site: SiteSettings) -> tuple[ViewAsForm, list[str]]:
        """A form from query arguments, and what was wrong with them (as sentences).

        A wrong value falls back to its default so the page still renders, and
        the problem is shown next to the form.
        """
        problems: list[str] = []
        device = args.get("device", "desktop")
        if device not in DEVICES:
            problems.append(f"Unknown device {device!r}; showing a desktop browser.")
            device = "desktop"
        ua = " ".join(args.get("ua", "").split())
        if len(ua) > MAX_UA:
            problems.append(f"The pasted User-Agent is longer than {MAX_UA} characters; "
                            "it was cut.")
            ua = ua[:MAX_UA]
        local = args.get("time", "").strip()
        if local and not _valid_local(local):
            problems.append(f"Expected a local time like 2026-12-01T23:30, got {local!r}; "
                            "showing now.")
            local = ""
        tz = args.get("tz", "").strip() or site.timezone
        if not valid_timezone(tz):
            problems.append(f"Unknown time zone {tz!r}; using the site's ({site.timezone}).")
            tz = site.timezone
        path = args.get("path", "").strip() or "/"
        if not path.startswith("/") or len(path) > 2048:
            problems.append(f"A page path starts with '/', got {path!r}; showing the home page.")
            path = "/"
        language = args.get("lang", "").strip() or site.languages[0]
        visits_text = args.get("visits", "1").strip() or "1"
        try:
            visits = int(visits_text)
            if not 1 <= visits <= 1000:
                raise ValueError(visits_text)
        except ValueError:
            problems.append(f"Visits must be a whole number from 1 to 1000, got "
                            f"{visits_text!r}; showing a first visit.")
            visits = 1
        bought = args.get("bought", "never")
        if bought not in BOUGHT:
            problems.append(f"Unknown order history {bought!r}; showing no orders.")
            bought = "never"
        consent = args.get("consent", "yes")
        if consent not in CONSENT:
            problems.append(f"Unknown consent choice {consent!r}; showing consent given.")
            consent = "yes"
        referrer = args.get("referrer", "").strip()[:2048]
        return cls(device, ua, local, tz, referrer, path, language, visits, bought,
                   consent), problems

    def environ(self, site: SiteSettings, base_url: str) -> dict[str, object]:
        """The WSGI environ of this visitor's request, built by werkzeug."""
        cookies = {TIMEZONE_COOKIE: self.timezone}
        if self.consent in ("yes", "no"):
            cookies[site.consent_cookie] = self.consent
        headers = {"User-Agent": self.ua, "Accept-Language": self.language,
                   "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if self.referrer:
            headers["Referer"] = self.referrer
        if self.consent == "dnt":
            headers["DNT"] = "1"
        builder = EnvironBuilder(path=self.path, base_url=base_url,
                                 headers=list(headers.items()))
        try:
            return dict(builder.get_environ())
        finally:
            builder.close()


@dataclass(frozen=True)
class SlotView:
    """One slot's decision for the imitated visitor, or why it could not be made."""

    slot: str
    decision: Decision | None
    error: str = ""


@dataclass(frozen=True)
class ViewAs:
    """The imitated visitor's context and every slot's decision."""

    context: Context
    slots: list[SlotView]


def view_as(engine: Personalizer, form: ViewAsForm, *, base_url: str) -> ViewAs:
    """Decide every slot for the visitor ``form`` describes, committing nothing.

    :param base_url: the host site's root URL, so its own links count as internal.
    """
    site = engine.ruleset.site
    visit = engine.visit(form.environ(site, base_url))
    context = visit.context
    _label, conversions, days = BOUGHT[form.bought]
    history = replace(context.history, visits=form.visits,
                      pageviews=max(form.visits, context.history.pageviews),
                      conversions=conversions, days_since_conversion=days,
                      last_conversion=None if days is None else engine.clock() - days * 86400)
    changes: dict[str, object] = {"history": history, "visitor_id": None}
    if form.local_time:
        at = datetime.fromisoformat(form.local_time).replace(tzinfo=zone(form.timezone))
        changes["time"] = classify_time(at, site, form.timezone)
    context = replace(context, **changes)  # type: ignore[arg-type]
    views: list[SlotView] = []
    shown: list[Exposure] = []
    for name in engine.ruleset.slots:
        try:
            decision = engine.decide(context, name, shown)
        except Exception as err:  # noqa: BLE001 - a preview reports what the site would hide
            views.append(SlotView(name, None, f"{type(err).__name__}: {err}"))
            continue
        shown.append(Exposure(name, decision.variant, tuple(sorted(decision.tags)),
                              engine.clock()))
        views.append(SlotView(name, decision))
    return ViewAs(context, views)


def _valid_local(text: str) -> bool:
    if not _LOCAL.match(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def preview(engine: Personalizer, variant: Variant) -> tuple[str | None, str]:
    """A variant's HTML for a sandboxed preview, or ``None`` and why it cannot be shown."""
    try:
        return engine.render(variant), ""
    except Exception as err:  # noqa: BLE001 - one broken variant must not hide the others
        return None, f"{type(err).__name__}: {err}"
