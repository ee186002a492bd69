"""The event vocabulary shared by rule objectives, rewards, guardrails and the log."""

from __future__ import annotations

#: Events a visitor's browser or the host app may report about a decision.
EVENT_TYPES: frozenset[str] = frozenset(
    {"click", "conversion", "dwell", "feedback", "complaint", "bounce"}
)

#: Signals an objective may weigh; ``feedback`` splits by its sign.
REWARD_SIGNALS: tuple[str, ...] = (
    "click",
    "conversion",
    "dwell",
    "feedback_positive",
    "feedback_negative",
    "complaint",
    "bounce",
)

#: Signals of a bad experience: every objective should weigh one negative,
#: and the experience monitor watches them per variant.
EXPERIENCE_SIGNALS: frozenset[str] = frozenset({"feedback_negative", "complaint", "bounce"})

#: Where a decision's variant came from.
SOURCES: tuple[str, ...] = ("rule", "bandit", "split", "default", "holdout", "guardrail")
