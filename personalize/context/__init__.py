"""The visitor context: an immutable snapshot of who is in front of the site.

>>> ctx = Context(device=..., time=..., referrer=..., history=..., consent=..., request=...)
>>> ctx.get("device.type")
'mobile'

:meth:`Context.fields` flattens it to dotted names once per request, which is
what rule conditions read; :meth:`Context.to_features` is what the bandit sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..once import Once
from .consent import Consent
from .device import Device
from .history import History
from .referrer import Referrer
from .request import RequestInfo
from .time import LocalTime

T = TypeVar("T")

__all__ = ["Consent", "Context", "Device", "History", "LocalTime", "Referrer", "RequestInfo"]


@dataclass(frozen=True)
class Context:
    """Everything known about one request, and nothing that identifies a person.

    :param visitor_id: the random visitor id, or ``None`` without tracking consent.
    """

    device: Device
    time: LocalTime
    referrer: Referrer
    history: History
    consent: Consent
    request: RequestInfo
    visitor_id: str | None = None

    @Once
    def fields(self) -> dict[str, Any]:
        """Every field in :data:`~personalize.context.fields.FIELDS`, by dotted name."""
        d, t, r, h, c, q = (self.device, self.time, self.referrer, self.history,
                            self.consent, self.request)
        return {
            "device.type": d.type,
            "device.os": d.os,
            "device.browser": d.browser,
            "device.touch": d.touch,
            "time.local": t.local.isoformat(timespec="seconds"),
            "time.hour": t.hour,
            "time.daypart": t.daypart,
            "time.weekday": t.weekday,
            "time.weekend": t.weekend,
            "time.business_hours": t.business_hours,
            "time.timezone": t.timezone,
            "time.source": t.source,
            "referrer.kind": r.kind,
            "referrer.source": r.source,
            "referrer.domain": r.domain,
            "referrer.campaign": r.campaign,
            "referrer.medium": r.medium,
            "referrer.click_id": r.click_id,
            "history.visits": h.visits,
            "history.returning": h.visits > 1,
            "history.pageviews": h.pageviews,
            "history.visit_pageviews": h.visit_pageviews,
            "history.landing_page": h.landing_page,
            "history.sections": list(h.sections),
            "history.conversions": h.conversions,
            "history.days_since_conversion": h.days_since_conversion,
            "history.days_since_first_visit": h.days_since_first_visit,
            "history.feedback_negative": h.feedback_negative,
            "history.feedback_positive": h.feedback_positive,
            "consent.tracking": c.tracking,
            "consent.reason": c.reason,
            "request.path": q.path,
            "request.section": q.section,
            "request.language": q.language,
            "request.secure": q.secure,
            "request.method": q.method,
        }

    def derived(self, key: str, compute: Callable[[], T]) -> T:
        """A value later stages derive from this context alone, computed once per request.

        The context is immutable, so what is computed from it (the bandit's
        feature vector, the plain-language description) holds for every slot
        on the page; without this each slot would compute it again.
        """
        cache: dict[str, Any] = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = compute()
        value: T = cache[key]
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """One field by dotted name (``"device.type"``)."""
        return self.fields.get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """Nested JSON-able form, for explanations and the decision log."""
        nested: dict[str, Any] = {"visitor_id": self.visitor_id}
        for name, value in self.fields.items():
            part, key = name.split(".", 1)
            nested.setdefault(part, {})[key] = value
        return nested

    @Once
    def features(self) -> dict[str, str | float]:
        """Flat features for the bandit: categorical strings and scaled numbers.

        Numbers are squashed to roughly [0, 1] so no feature dominates a linear
        model; the hour is encoded on a circle so 23:00 is next to 00:00.
        """
        d, t, r, h = self.device, self.time, self.referrer, self.history
        angle = 2 * math.pi * (t.hour + t.local.minute / 60) / 24
        return {
            "device": d.type,
            "os": d.os,
            "daypart": t.daypart,
            "weekend": "yes" if t.weekend else "no",
            "business_hours": "yes" if t.business_hours else "no",
            "referrer": r.kind,
            "returning": "yes" if h.visits > 1 else "no",
            "section": self.request.section,
            "language": self.request.language,
            "hour_sin": 0.5 + 0.5 * math.sin(angle),
            "hour_cos": 0.5 + 0.5 * math.cos(angle),
            "visits": min(1.0, math.log1p(h.visits) / math.log(51)),
            "visit_pageviews": min(1.0, math.log1p(h.visit_pageviews) / math.log(51)),
            "conversions": min(1.0, h.conversions / 5),
            "recent_buyer": 1.0 if h.days_since_conversion is not None
            and h.days_since_conversion < 30 else 0.0,
        }

    def to_features(self) -> dict[str, str | float]:
        """See :attr:`features`."""
        return self.features
