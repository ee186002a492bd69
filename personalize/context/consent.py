"""Whether the visitor allows a profile and learning.

``DNT: 1``, ``Sec-GPC: 1`` or a consent cookie saying no turn tracking off; a
site that needs opt-in (``consent_required``) also treats a missing cookie as
no. Without tracking no visitor cookie is set and no profile is read or written.
"""

from __future__ import annotations

from dataclasses import dataclass

from .site import SiteSettings

_YES = frozenset({"1", "yes", "true", "granted", "accept", "accepted", "all", "allow"})
_NO = frozenset({"0", "no", "false", "denied", "deny", "reject", "rejected", "none", "necessary"})


@dataclass(frozen=True, slots=True)
class Consent:
    """:param reason: ``dnt | gpc | cookie | no_consent`` when tracking is off, else ``""``."""

    tracking: bool
    reason: str = ""

    @property
    def explanation(self) -> str:
        """A plain sentence on the consent state."""
        return _EXPLANATIONS[self.reason]


_EXPLANATIONS = {
    "": "You allow personalization, so we remember your visits.",
    "dnt": "Your browser sends Do-Not-Track, so we remember nothing about you.",
    "gpc": "Your browser sends Global Privacy Control, so we remember nothing about you.",
    "cookie": "You declined personalization, so we remember nothing about you.",
    "no_consent": "You have not agreed to personalization, so we remember nothing.",
}


TRACKING = Consent(tracking=True)


def read_consent(dnt: str | None, gpc: str | None, cookie: str | None,
                 site: SiteSettings) -> Consent:
    """Consent from the ``DNT`` and ``Sec-GPC`` headers and the consent cookie value."""
    if dnt is not None and dnt.strip() == "1":
        return Consent(False, "dnt")
    if gpc is not None and gpc.strip() == "1":
        return Consent(False, "gpc")
    choice = (cookie or "").strip().lower()
    if choice in _NO:
        return Consent(False, "cookie")
    if site.consent_required and choice not in _YES:
        return Consent(False, "no_consent")
    return TRACKING
