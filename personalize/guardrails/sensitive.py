"""Sensitive contexts: support, complaints and cancellations get calm content only.

::

    sensitive = Sensitive(settings.sensitive)        # allowed_tags: [calm, help]
    sensitive.before(context, outcome, candidates)   # a rule marked the request sensitive
    # "Shown only calm content, and nothing experimental, because this is a support page."

A person asking for help is not a conversion opportunity. When a rule marks
the request sensitive (``outcome.sensitive``), only variants carrying an
allowed tag stay (the default always stays) and exploration is off: nobody is
experimented on at a bad moment. This is the one place that turns exploration
off for sensitive requests; :mod:`.exploration` reads the flag afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ._tally import Tally
from ._words import titles, was
from .base import Candidates, Guardrail, PerSlot, tagged

if TYPE_CHECKING:
    from ..context import Context
    from ..rules.model import RuleOutcome


class SensitiveSettings(Protocol):
    """The ``guardrails.sensitive`` settings this guardrail reads."""

    @property
    def allowed_tags(self) -> Iterable[str]: ...


class Sensitive(Guardrail):
    """Keep only calm variants, and no exploration, on sensitive requests.

    :param settings: ``settings.sensitive``; ``allowed_tags`` lists the tags
        that mark a variant as fit for a sensitive moment.
    """

    name = "sensitive"

    def __init__(self, settings: SensitiveSettings) -> None:
        self.allowed_tags = frozenset(settings.allowed_tags)
        self._tally = Tally()
        self._calm = PerSlot(lambda slot: tagged(slot, self.allowed_tags))

    def before(self, context: Context, outcome: RuleOutcome, candidates: Candidates) -> None:
        """Restrict a sensitive request to calm variants and forbid exploration.

        :param context: the request; its section names the page in the reason.
        :param outcome: what the rules said; only ``sensitive`` is read.
        :param candidates: the working set, edited in place.
        """
        if not outcome.sensitive or candidates.settled:
            return
        slot = candidates.slot
        page = f"the '{context.request.section}' page is a sensitive one"
        candidates.explore = False
        calm = self._calm(slot)
        unfit = [v for v in candidates.eligible if v != slot.default and v not in calm]
        if unfit:
            candidates.remove(unfit, self.name, f"{titles(slot, unfit)} {was(unfit)} left out "
                                                f"because {page}: only calm content is shown.")
            self._tally.add("removed", len(unfit))
        candidates.note(self.name, f"Nothing experimental is shown here because {page}.")
        self._tally.add("requests")

    def report(self) -> dict[str, Any]:
        """The allowed tags, sensitive slot decisions, and variants left out."""
        counts = self._tally.snapshot()
        return {"enabled": True, "allowed_tags": sorted(self.allowed_tags),
                "decisions": counts.get("requests", 0), "removed": counts.get("removed", 0)}
