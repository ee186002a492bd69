"""The interface every guardrail implements, and the working set it edits.

Guardrails act between the rules and the policy. Each gets the request's
context, what the rules said, and a :class:`Candidates` working set for one
slot; it may remove variants, forbid exploration, or force a variant — always
with a plain-sentence reason. After the decision, monitors observe events.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ..decision import Reason

if TYPE_CHECKING:
    from ..context import Context
    from ..context.history import Exposure
    from ..rules.model import RuleOutcome, Slot

T = TypeVar("T")


@dataclass(slots=True)
class Candidates:
    """The variants still in play for one slot on one request.

    :param eligible: variant ids the policy may choose among, in slot order.
    :param forced: a variant a guardrail insists on; the policy is skipped.
    :param forced_source: the decision source to report for ``forced``.
    :param explore: false forbids exploration (the policy must exploit).
    :param learn: false keeps this request out of the model's statistics.
    :param shown_this_request: exposures already decided for other slots on this
        same request; they are not in ``context.history`` yet, and frequency
        caps and the annoyance budget must count them.
    :param floor: the smallest share the policy must give each eligible variant
        (set by the exploration guardrail; 0 when exploration is off).
    :param cap: the largest share the policy may give any one variant.
    """

    slot: Slot
    eligible: list[str]
    forced: str | None = None
    forced_source: str = "guardrail"
    explore: bool = True
    learn: bool = True
    reasons: list[Reason] = field(default_factory=list)
    acted: list[str] = field(default_factory=list)
    shown_this_request: list[Exposure] = field(default_factory=list)
    floor: float = 0.0
    cap: float = 1.0

    @property
    def settled(self) -> bool:
        """True once the default is forced: no later restriction can change the outcome."""
        return self.forced is not None and self.forced == self.slot.default

    def note(self, guardrail: str, text: str) -> None:
        """Record that a guardrail acted without removing or forcing (e.g. no exploration)."""
        self.reasons.append(_reason(guardrail, text))
        self.acted.append(guardrail)

    def remove(self, variant_ids: Iterable[str], guardrail: str, text: str) -> None:
        """Make variants ineligible, recording why (the default is never removed).

        A removed variant cannot stay forced: if an earlier guardrail forced it
        (consent keeping a rule's pin), the force falls back to the default.
        """
        default = self.slot.default
        gone = [v for v in variant_ids
                if v != default and (v in self.eligible or v == self.forced)]
        if gone:
            self.eligible = [v for v in self.eligible if v not in gone]
            if self.forced in gone:
                self.forced, self.forced_source = default, "default"
            self.reasons.append(_reason(guardrail, text))
            self.acted.append(guardrail)

    def force(
        self, variant_id: str, guardrail: str, text: str, *, source: str = "guardrail"
    ) -> None:
        """Insist on one variant (the first guardrail to force wins)."""
        if self.forced is None:
            self.forced = variant_id
            self.forced_source = source
            self.reasons.append(_reason(guardrail, text))
            self.acted.append(guardrail)


@lru_cache(maxsize=4096)
def _reason(guardrail: str, text: str) -> Reason:
    """A guardrail's reason; equal ones are one shared object.

    A reason is immutable and few distinct sentences occur, so finding one
    costs less than building it (a frozen dataclass sets each field slowly).
    """
    return Reason("guardrail", text, guardrail)


class Guardrail(ABC):
    """One guardrail: configured from the rule files' ``guardrails:`` section.

    Subclasses override whichever hooks they need; the defaults do nothing.
    :attr:`name` is the key under ``guardrails:`` in the rule files.
    """

    name: ClassVar[str]

    def applies_to(self, slot: Slot) -> bool:
        """False when :meth:`before` can never act on ``slot`` with these settings.

        It depends only on the settings and the slot's variants, so a caller
        may ask once per slot and rule set, and skip the guardrail for that
        slot on every request. By default a guardrail applies everywhere.
        """
        return True

    def before(  # noqa: B027 - every hook is optional
        self, context: Context, outcome: RuleOutcome, candidates: Candidates
    ) -> None:
        """Edit the working set before the policy chooses."""

    def observe(self, record: Mapping[str, Any]) -> None:  # noqa: B027 - optional hook
        """See one logged exposure or event (monitors count here)."""

    def report(self) -> dict[str, Any]:
        """Current state and counts, for the dashboard and ``guardrails status``."""
        return {}


class PerSlot(Generic[T]):
    """What a guardrail derives from a slot's variants, derived once per slot.

    A slot belongs to an immutable rule set, so what follows from its variants
    (which carry a tag, the sentences naming them) holds for every request.
    A reloaded rule set brings new slot objects, which are derived afresh.

    :param derive: computes the value for one slot.
    """

    def __init__(self, derive: Callable[[Slot], T]) -> None:
        self._derive = derive
        self._kept: dict[str, tuple[Slot, T]] = {}

    def __call__(self, slot: Slot) -> T:
        """The value for ``slot``, derived on first use."""
        kept = self._kept.get(slot.name)
        if kept is not None and kept[0] is slot:
            return kept[1]
        value = self._derive(slot)
        self._kept[slot.name] = (slot, value)
        return value


def tagged(slot: Slot, tags: frozenset[str]) -> frozenset[str]:
    """The slot's variants, other than its default, that carry any of ``tags``."""
    return frozenset(vid for vid, variant in slot.variants.items()
                     if vid != slot.default and not tags.isdisjoint(variant.tags))
