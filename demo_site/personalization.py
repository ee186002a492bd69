"""How the shop's pages use personalize: slots in the visitor's language, and orders.

Templates call ``shop.slot("hero")`` rather than ``personalize.slot("hero")``
for one reason: the rule files hold each variant's English HTML, and a
Finnish visitor should see the same variant in Finnish. The markup is the
same contract the beacon reads — a container with ``data-personalize-slot``
and ``data-personalize-decision`` — and the decision itself still comes from
the middleware's per-request handle, so failing open works as everywhere else.

:func:`record_conversion` reports an order server-side: the browser never
gets to claim a purchase.
"""

from __future__ import annotations

import logging
from typing import Any

from markupsafe import Markup, escape

from personalize.context.history import record_outcome
from personalize.decision import Decision
from personalize.engine import Personalizer
from personalize.exceptions import StoreError
from personalize.integrations.flask import current_request

from .i18n import STRINGS, VARIANTS_FI, current_language, t

log = logging.getLogger("demo_site")

#: decision sources in which a variant was chosen, so an order can be credited to them
CHOSEN = frozenset({"bandit", "split", "holdout"})


class ShopHelper:
    """``shop`` in templates: localized slots, the why-link and the consent state."""

    def decision(self, name: str) -> Decision | None:
        """The slot's decision on this request (``None`` if personalization failed)."""
        handle = current_request()
        return handle.decision(name) if handle is not None else None

    @property
    def consent_reason(self) -> str:
        """Why tracking is off (``no_consent``, ``cookie``, ``dnt``, ``gpc``), or ``""``."""
        handle = current_request()
        visit = handle.visit if handle is not None else None
        return "unknown" if visit is None else visit.context.consent.reason

    @property
    def tracking(self) -> bool:
        """True when this visitor allows personalization and it is working."""
        handle = current_request()
        visit = handle.visit if handle is not None else None
        return visit is not None and visit.context.visitor_id is not None

    def slot(self, name: str, *, feedback: str = "", css: str = "") -> Markup:
        """The slot's chosen variant in its container, in the visitor's language.

        :param feedback: the i18n key of a 👍/👎 question to add inside the
            slot (the beacon renders it), or ``""`` for none.
        :param css: extra class names for the container.
        """
        decision = self.decision(name)
        if decision is None:
            return Markup("")
        content = Markup(_localized(decision))
        if feedback and decision.id and self.tracking:
            question = escape(t(feedback))
            content += Markup(f'<div class="feedback" data-personalize-feedback="{question}">'
                              "</div>")
        return _container(name, decision, content, css)

    def button(self, name: str, *, css: str = "button") -> Markup:
        """A slot whose variants are message keys, as a submit button (the cta test)."""
        decision = self.decision(name)
        key = decision.content if decision is not None else ""
        label = t(key) if key in STRINGS["en"] else t("cta.add_to_cart")
        button = Markup(f'<button type="submit" class="{escape(css)}">{escape(label)}</button>')
        if decision is None:
            return button
        return _container(name, decision, button, "")

    def why(self, name: str) -> Markup:
        """The "why am I seeing this?" link for a slot, for visitors who allow tracking.

        Without consent nothing is logged, so there would be nothing to explain.
        """
        decision = self.decision(name)
        if decision is None or not decision.id or not self.tracking:
            return Markup("")
        return Markup(f'<a class="why" data-personalize-why href="/_personalize/why?d='
                      f'{escape(decision.id)}">{escape(t("why"))}</a>')


def _localized(decision: Decision) -> str:
    if current_language() == "fi" and decision.variant in VARIANTS_FI:
        return VARIANTS_FI[decision.variant]
    return decision.content


def _container(name: str, decision: Decision, content: Markup, css: str) -> Markup:
    # The decision attribute is always there, empty for a fail-open default, so
    # the middleware does not take the container for an HTML marker to fill.
    # f-strings with escape(): Markup.format runs a Python-level formatter,
    # several times slower, and slots are rendered on every page.
    classes = escape(" ".join(filter(None, ["slot", f"slot-{name}", css])))
    return Markup(f'<div class="{classes}" data-personalize-slot="{escape(name)}" '
                  f'data-personalize-decision="{escape(decision.id)}">{content}</div>')


def record_conversion(engine: Personalizer, value: float) -> int:
    """Log the current visitor's order as a conversion of the decisions of this visit.

    Credited are the decisions in which a variant was chosen — by the bandit,
    the A/B split or the holdout — each quoted by id, so the learner and the
    dashboard credit the same decisions: the offer that caught the visitor's
    eye on the coffee page, not only the calm shipping note every buyer sees
    last in the cart. A split repeats its assignment on every page, so each
    slot and variant is credited once, through its latest decision. The
    profile counts one conversion, so the "recent buyer" rules see the order.

    :param value: the order's value in euros.
    :returns: the number of records logged: 0 without consent or on a store
        failure, which must never cost the visitor their order.
    """
    handle = current_request()
    visit = handle.visit if handle is not None else None
    if visit is None or visit.context.visitor_id is None:
        return 0
    visitor = visit.context.visitor_id
    history = visit.context.history
    now = engine.clock()
    started = history.visit_started if history.visit_started is not None else now
    try:
        engine.store.flush()  # the pages just shown are in the log before we read it
        latest: dict[tuple[str, str], str] = {}
        for record in engine.store.read_log(since=started, types=["exposure"]):
            if record.get("visitor") == visitor and record.get("source") in CHOSEN:
                latest[(str(record["slot"]), str(record["variant"]))] = str(record["decision"])
        records: list[dict[str, Any]] = [
            {"ts": now, "type": "conversion", "visitor": visitor, "decision": decision,
             "slot": slot, "variant": variant, "value": value, "signal": "conversion",
             "amount": value}
            for (slot, variant), decision in sorted(latest.items())]
        if not records:  # nothing was chosen this visit; the profile still counts the order
            records.append({"ts": now, "type": "conversion", "visitor": visitor,
                            "decision": None, "slot": None, "variant": None, "value": value,
                            "signal": "conversion", "amount": value})
        engine.store.append(records)
        profile = engine.store.get_profile(visitor)
        if profile is not None:
            engine.store.put_profile(visitor, record_outcome(profile, "conversion", now=now,
                                                             value=value))
    except StoreError as err:
        engine.count("conversion_errors")
        log.warning("could not record an order's conversion: %s", err)
        return 0
    return len(records)
