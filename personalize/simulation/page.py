"""Reading a served page the way the beacon and a visitor do.

>>> page = parse_page(html)
>>> [(s.name, s.variant) for s in page.slots]     # what was shown, from the markup
>>> page.form("/cart/add")                        # the add-to-cart form, to submit

The markup contract is the beacon's: a container with ``data-personalize-slot``
and ``data-personalize-decision``, an optional ``[data-personalize-feedback]``
box inside it, and ``<html data-personalize-tracking="off">`` when the visitor
does not allow tracking (the beacon then sends nothing, and neither do we).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from ..macs import from_unpadded_b64


@dataclass(frozen=True, slots=True)
class SlotSeen:
    """One personalized slot on a page.

    :param variant: read from the decision id's payload, which is signed but
        not secret; a visitor sees the same thing as content.
    :param feedback: the slot offers the 👍/👎 widget.
    """

    name: str
    decision: str
    variant: str
    feedback: bool


@dataclass
class Form:
    """A form's target and the values a browser would submit without typing."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    """What a visitor can act on in one response."""

    tracking: bool = True
    slots: list[SlotSeen] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)

    def form(self, action: str) -> Form | None:
        """The first form posting to ``action``."""
        return next((f for f in self.forms if f.action == action), None)

    def links_under(self, prefix: str) -> list[str]:
        """Distinct local links starting with ``prefix``, in page order."""
        return list(dict.fromkeys(link for link in self.links if link.startswith(prefix)))


def variant_of(decision_id: str) -> str | None:
    """The variant a decision id names, or ``None`` if it is not one."""
    body = decision_id.split(".", 1)[0]
    try:
        payload = from_unpadded_b64(body).decode()
    except ValueError:  # not base64 (binascii.Error), or not UTF-8
        return None
    parts = payload.split("|")
    return parts[2] if len(parts) == 4 else None


_SLOT_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*?\bdata-personalize-slot\s*=[^<>]*)>")
_ATTR = re.compile(r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)"""
                   r"""(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
_HREF = re.compile(r"""<a\s[^<>]*?\bhref\s*=\s*["'](/[^"'#]*)""")
_FORM = re.compile(r"<form(\s[^<>]*)?>(.*?)</form\s*>", re.DOTALL | re.IGNORECASE)
_INPUT = re.compile(r"<input(\s[^<>]*)>", re.IGNORECASE)
_SELECT = re.compile(r"<select(\s[^<>]*)>(.*?)</select\s*>", re.DOTALL | re.IGNORECASE)
_OPTION = re.compile(r"<option(\s[^<>]*)?>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<html(\s[^<>]*)?>", re.IGNORECASE)


def _attrs(text: str | None) -> dict[str, str]:
    return {m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _ATTR.finditer(text or "")}


def _inner_end(body: str, tag: str, start: int) -> int:
    """Where the element opened just before ``start`` closes (its inner HTML's end)."""
    pattern = re.compile(r"<(/?)" + re.escape(tag) + r"(?=[\s>/])", re.IGNORECASE)
    depth = 1
    for match in pattern.finditer(body, start):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return match.start()
    return len(body)


def parse_page(body: str) -> Page:
    """The slots, links and forms of an HTML page.

    Regular expressions over the markup the site itself emits; enough for
    well-formed pages, and several times faster than a full HTML parser, which
    matters when a simulation reads tens of thousands of pages.
    """
    page = Page()
    opening = _HTML_TAG.search(body)
    if opening and _attrs(opening.group(1)).get("data-personalize-tracking") == "off":
        page.tracking = False
    for match in _SLOT_TAG.finditer(body):
        attrs = _attrs(match.group(2))
        decision = attrs.get("data-personalize-decision", "")
        variant = variant_of(decision) if decision else None
        if variant is None:
            continue
        inner = body[match.end():_inner_end(body, match.group(1), match.end())]
        page.slots.append(SlotSeen(attrs.get("data-personalize-slot", ""), decision, variant,
                                   "data-personalize-feedback" in inner))
    page.links = [html.unescape(href) for href in _HREF.findall(body)]
    for form_match in _FORM.finditer(body):
        attrs = _attrs(form_match.group(1))
        form = Form(attrs.get("action", ""), attrs.get("method", "get").lower())
        inner = form_match.group(2)
        for raw, options in _SELECT.findall(inner):
            name = _attrs(raw).get("name")
            choices = [_attrs(o) for o in _OPTION.findall(options)]
            chosen = next((c for c in choices if "selected" in c), choices[0] if choices else {})
            if name:
                form.fields.setdefault(name, chosen.get("value", ""))
        for raw in _INPUT.findall(inner):
            field_attrs = _attrs(raw)
            name = field_attrs.get("name")
            if name and field_attrs.get("type", "text") in ("hidden", "text", "number"):
                form.fields.setdefault(name, field_attrs.get("value", ""))
        page.forms.append(form)
    return page
