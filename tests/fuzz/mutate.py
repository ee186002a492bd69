"""Cheap random inputs and mutations, from a generator Hypothesis seeded.

Drawing every byte through Hypothesis costs about a tenth of a millisecond a
draw; these helpers make the bulk of each input with :class:`random.Random`
instead, so an example Hypothesis chose fans out into several inputs that
stay reproducible from the run's seed.
"""

from __future__ import annotations

import random
from typing import Any

from personalize.context.fields import FIELDS

LATIN1 = "".join(chr(c) for c in range(256) if chr(c) not in "\r\n")
_ODD_VALUES: tuple[Any, ...] = (None, True, 0, -1, 2**63, 1e308, float("nan"), "", "ä",
                                "<script>", [], ["a"], [None], {"a": 1})


def mutate_bytes(data: bytes, r: random.Random, tokens: tuple[bytes, ...] = ()) -> bytes:
    """``data`` after one to four random edits: flips, inserts, deletions, splices."""
    out = bytearray(data)
    for _ in range(r.randint(1, 4)):
        at = r.randint(0, len(out))
        kind = r.randrange(6)
        if kind == 0 and out:
            i = at % len(out)
            out[i] ^= 1 << r.randrange(8)
        elif kind == 1:
            out[at:at] = bytes([r.randrange(256)])
        elif kind == 2 and out:
            del out[at:at + r.randint(1, 16)]
        elif kind == 3 and out:
            start = r.randrange(len(out))
            out[at:at] = out[start:start + r.randint(1, 32)]
        elif kind == 4 and tokens:
            out[at:at] = r.choice(tokens)
        else:
            del out[at:]
    return bytes(out)


def mutate_text(text: str, r: random.Random, alphabet: str = LATIN1) -> str:
    """``text`` after one to three random character edits."""
    chars = list(text)
    for _ in range(r.randint(1, 3)):
        at = r.randint(0, len(chars))
        kind = r.randrange(4)
        if kind == 0 and chars:
            chars[at % len(chars)] = r.choice(alphabet)
        elif kind == 1:
            chars[at:at] = r.choices(alphabet, k=r.randint(1, 8))
        elif kind == 2:
            del chars[at:at + r.randint(1, 8)]
        else:
            chars[at:at] = chars[:r.randint(0, 16)]
    return "".join(chars)


def random_fields(r: random.Random) -> dict[str, Any]:
    """Context fields as ``Context.fields`` gives them, some unset or of a stranger type."""
    fields: dict[str, Any] = {}
    for name, field in FIELDS.items():
        roll = r.randrange(12)
        if roll == 0:
            continue
        if roll == 1:
            fields[name] = r.choice(_ODD_VALUES)
        elif field.values and roll < 8:
            fields[name] = r.choice(field.values)
        elif field.type in ("str", "datetime"):
            fields[name] = _text(r) if field.type == "str" else _moment(r)
        elif field.type == "list":
            fields[name] = [_text(r) for _ in range(r.randrange(4))]
        elif field.type == "int":
            fields[name] = r.choice((0, 1, 2, 5, 23, 50, -1, r.randint(-10**6, 10**6)))
        elif field.type == "float":
            fields[name] = r.choice((0.0, 0.5, 2.9, 3.0, 365.25, -1.0, r.uniform(-1e6, 1e6)))
        else:
            fields[name] = r.random() < 0.5
    return fields


def _text(r: random.Random) -> str:
    if r.random() < 0.5:
        return r.choice(("/", "/checkout/thank-you", "/campaign/joulu", "google", "joulu-2026",
                         "JOULU-2026", "guides", "support", "aaaaaaaaaaaaaaaaaaaa!", "iOS"))
    return "".join(r.choices(LATIN1, k=r.randint(0, 24)))


def _moment(r: random.Random) -> str:
    return (f"{r.randint(1, 9999):04d}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
            f"T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}")
