"""Builders for the rule tests: request contexts, and rule sets from YAML text."""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

from personalize.context import Consent, Context, Device, History, Referrer, RequestInfo
from personalize.context.request import section_of
from personalize.context.site import SiteSettings
from personalize.context.time import classify_time, zone
from personalize.rules import RuleSet, load_texts

REPO = Path(__file__).resolve().parents[2]
DEMO_RULES = REPO / "rules"
HELSINKI = SiteSettings(timezone="Europe/Helsinki", languages=("en", "fi"))


def build_context(when: str = "2026-11-23T14:00", *, device: str = "desktop",
                  os: str = "Windows", path: str = "/", language: str = "en",
                  referrer: str = "direct", source: str = "", campaign: str = "",
                  visits: int = 1, conversions: int = 0,
                  days_since_conversion: float | None = None,
                  sections: tuple[str, ...] = (), feedback_negative: int = 0,
                  site: SiteSettings = HELSINKI) -> Context:
    """A context as the classifier would make it, for a local time in the site's zone."""
    local = datetime.fromisoformat(when).replace(tzinfo=zone(site.timezone))
    return Context(
        device=Device(device, os, "Chrome", device in ("mobile", "tablet")),
        time=classify_time(local, site),
        referrer=Referrer(referrer, source=source, campaign=campaign),
        history=History(visits=visits, conversions=conversions,
                        days_since_conversion=days_since_conversion, sections=sections,
                        feedback_negative=feedback_negative),
        consent=Consent(True),
        request=RequestInfo(path, section_of(path), language, True),
        visitor_id="v-1",
    )


def rules_from(*texts: str, **kwargs: Any) -> RuleSet:
    """A rule set from YAML texts (dedented), named 00.yaml, 01.yaml… in order."""
    return load_texts({f"{i:02d}.yaml": textwrap.dedent(t) for i, t in enumerate(texts)},
                      **kwargs)
