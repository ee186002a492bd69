"""How the shop's pages use personalize: slots in the visitor's language, and orders.

Templates call ``shop.slot("hero")`` rather than ``personalize.slot("hero")``
for one reason: the rule files hold each variant's English HTML, and a
Finnish visitor should see the same variant in Finnish. The markup is the
same contract the beacon reads — a container with ``data-personalize-slot``
and ``data-personalize-decision`` — and the decision itself still comes from
the middleware's per-request handle, so failing open works as everywhere else.

Orders are reported server-side (``views.place_order`` calls
:func:`personalize.integrations.flask.record`): the browser never gets to
claim a purchase.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from personalize.decision import Decision
from personalize.integrations.flask import current_request

from .i18n import STRINGS, VARIANTS_FI, current_language, t


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
