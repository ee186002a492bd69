"""Small phrasing helpers shared by the guardrails' reasons."""

from __future__ import annotations

from collections.abc import Sequence

from ..rules.model import Slot

#: How a frequency-cap period reads in a sentence ("you saw it 3 times today").
PERIOD_PHRASES: dict[str, str] = {
    "visit": "during this visit",
    "day": "today",
    "week": "this week",
}


def title(slot: Slot, variant_id: str) -> str:
    """A variant's quoted title, or its id when it has none: ``'Big sale'``."""
    variant = slot.variants.get(variant_id)
    return f"'{variant.title if variant is not None and variant.title else variant_id}'"


def titles(slot: Slot, variant_ids: Sequence[str]) -> str:
    """Quoted titles joined the way a person lists them: ``'A', 'B' and 'C'``."""
    names = [title(slot, v) for v in variant_ids]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def was(variant_ids: Sequence[str]) -> str:
    """``was`` or ``were``, to agree with a list of variants."""
    return "was" if len(variant_ids) == 1 else "were"


def times(count: int) -> str:
    """``once``, ``twice`` or ``3 times``."""
    return {1: "once", 2: "twice"}.get(count, f"{count} times")
