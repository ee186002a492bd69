"""``{% slot %}`` and ``{% personalize_why %}``.

::

    {% load personalize %}
    {% slot "hero" %}<h1>Welcome</h1>{% endslot %}
    {% personalize_why "hero" %}

``{% slot %}`` renders the decision for the slot inside its
``data-personalize-slot`` container, so the beacon can report on it. The
content between the tags is the fallback: it is rendered only when there is
no decision at all (the middleware is not installed, the page is rendered
without a request, or the slot is unknown to the rule files), so a page never
breaks because personalization did.

Both tags find the request as ``request`` in the template context, which the
``django.template.context_processors.request`` context processor (on in every
new project) puts there.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import get_script_prefix
from markupsafe import Markup

from ....middleware import PersonalizeRequest

register = template.Library()


def _handle(context: Any) -> PersonalizeRequest | None:
    request = context.get("request")
    handle = getattr(request, "personalize", None)
    return handle if isinstance(handle, PersonalizeRequest) else None


class SlotNode(template.Node):  # type: ignore[misc]  # Django ships no type hints
    """A ``{% slot %}`` in a parsed template."""

    def __init__(self, name: Any, nodelist: Any) -> None:
        self.name = name
        self.nodelist = nodelist

    def render(self, context: Any) -> str:
        handle = _handle(context)
        if handle is not None:
            name = str(self.name.resolve(context))
            if handle.decision(name) is not None:
                return str(handle.slot(name))
        return str(self.nodelist.render(context))


def slot(parser: Any, token: Any) -> SlotNode:
    """``{% slot "hero" %}fallback{% endslot %}``: the slot's personalized content.

    The name may be a string literal or a variable.
    """
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError(
            f"{bits[0]!r} takes one argument, the slot's name, as in "
            f'{{% slot "hero" %}}fallback{{% endslot %}}; got {token.contents!r}')
    nodelist = parser.parse(("endslot",))
    parser.delete_first_token()
    return SlotNode(parser.compile_filter(bits[1]), nodelist)


def personalize_why(context: Any, name: str, text: str = "Why am I seeing this?") -> Markup:
    """A "why am I seeing this?" link for the slot's decision; empty when there is none.

    :param name: the slot.
    :param text: the link text.
    """
    handle = _handle(context)
    decision = handle.decision(name) if handle is not None else None
    if decision is None or not decision.id:
        return Markup("")
    return Markup('<a class="pz-why" data-personalize-why href="{}_personalize/why?d={}">{}</a>'
                  ).format(get_script_prefix(), decision.id, text)


# Registered by call rather than by decorator: Django's decorators are untyped.
register.tag("slot", slot)
register.simple_tag(personalize_why, takes_context=True)
