"""Sticky positions: a uniform number in [0, 1) fixed by a visitor and a purpose.

A/B splits and the ramp-up of new variants place each visitor with a seeded
hash, never ``random()``, so a visitor lands in the same place on every
request and worker, and the probability of what they are shown is exact.
"""

from __future__ import annotations

import hashlib

__all__ = ["position"]


def position(*parts: str) -> float:
    """A uniform number in [0, 1) fixed by ``parts``: a salt or purpose, ..., the visitor id."""
    key = "\x1f".join(parts).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
