"""A decision — slot → variant — with its provenance and a signed id.

Events quote the decision id; the id is an HMAC-signed, expiring token naming
visitor, slot, variant and time, so a browser cannot invent rewards for a
variant it was never shown.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from .exceptions import TokenError
from .macs import KeyedMac, from_unpadded_b64, unpadded_b64


@dataclass(frozen=True, slots=True)
class Reason:
    """One plain sentence on why a decision came out as it did.

    :param stage: ``context | rule | guardrail | policy | default``.
    :param text: a sentence a person understands.
    :param code: a stable machine name (e.g. ``frequency_cap``) for reports.
    """

    stage: str
    text: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one slot on one request.

    :param source: ``rule | bandit | split | default | holdout | guardrail``.
    :param propensity: probability with which this variant was chosen (1.0 when
        no chance was involved), logged for offline evaluation.
    :param eligible: variant ids that were left to choose among.
    """

    slot: str
    variant: str
    content: str
    source: str
    propensity: float
    reasons: tuple[Reason, ...] = ()
    eligible: tuple[str, ...] = ()
    model_version: str = ""
    id: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for explanations, the log and the dashboard."""
        return {
            "id": self.id,
            "slot": self.slot,
            "variant": self.variant,
            "source": self.source,
            "propensity": round(self.propensity, 6),
            "eligible": list(self.eligible),
            "model_version": self.model_version,
            "tags": sorted(self.tags),
            "reasons": [{"stage": r.stage, "code": r.code, "text": r.text} for r in self.reasons],
        }

    def explain(self) -> str:
        """The reasons as one readable paragraph."""
        return " ".join(r.text for r in self.reasons)


@dataclass(frozen=True, slots=True)
class DecisionClaims:
    """What a verified decision id says."""

    visitor: str
    slot: str
    variant: str
    issued_at: float


class DecisionSigner:
    """Issues and verifies decision ids.

    The token is ``base64(visitor|slot|variant|issued_at).mac``, the MAC being
    keyed BLAKE2b truncated to 128 bits: compact enough for a data attribute,
    and made on every decision, where OpenSSL's HMAC costs several microseconds
    of set-up per call and keyed BLAKE2 (a PRF by design) well under one.

    :param secret: the site's secret key.
    :param max_age: seconds a token is accepted for events.
    :param clock: returns the current epoch time; injectable for tests.
    """

    def __init__(self, secret: str | bytes, *, max_age: float = 86400.0,
                 clock: Any = time.time) -> None:
        self._mac = KeyedMac(secret, "decision", 16)
        self.max_age = max_age
        self.clock = clock

    def sign(self, visitor: str, slot: str, variant: str, issued_at: float | None = None) -> str:
        """A decision id for this visitor, slot and variant."""
        when = self.clock() if issued_at is None else issued_at
        payload = f"{visitor}|{slot}|{variant}|{when:.3f}".encode()
        return f"{unpadded_b64(payload)}.{self._mac.text(payload)}"

    def verify(self, token: str) -> DecisionClaims:
        """The claims of a genuine, unexpired token; :class:`TokenError` otherwise."""
        if not isinstance(token, str) or len(token) > 512 or token.count(".") != 1:
            raise TokenError("decision id is malformed: expected 'payload.signature'")
        body, mac = token.split(".")
        try:
            payload = from_unpadded_b64(body)
        except (ValueError, TypeError) as err:
            raise TokenError("decision id is malformed: payload is not base64") from err
        if not mac.isascii() or not hmac.compare_digest(self._mac.text(payload), mac):
            raise TokenError("decision id has a bad signature")
        try:
            visitor, slot, variant, issued = payload.decode().split("|")
            issued_at = float(issued)
        except ValueError as err:
            raise TokenError("decision id is malformed: wrong number of fields") from err
        age = self.clock() - issued_at
        if age > self.max_age:
            raise TokenError(f"decision id expired {age - self.max_age:.0f} s ago")
        if age < -300:
            raise TokenError("decision id is issued in the future")
        return DecisionClaims(visitor, slot, variant, issued_at)
