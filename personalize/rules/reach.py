"""Static reasoning about conditions: can this ever match? Can these two match together?

Exact answers are out of reach for ``$or``, ``$not`` and patterns, so this
only follows what every matching request must satisfy: the top-level keys,
``$and`` and segments, and on each field equality, ``$in``, ``$ne``, ``$nin``,
comparisons and ``$exists``. When those alone cannot all hold, the answer is
a sentence saying why; otherwise ``None`` (perhaps satisfiable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..context.fields import FIELDS

_NUMBER = (int, float)


@dataclass
class _Domain:
    """What the conditions leave possible for one field."""

    allowed: set[Any] | None = None
    banned: set[Any] = field(default_factory=set)
    low: tuple[float, bool] | None = None  # bound, inclusive
    high: tuple[float, bool] | None = None
    said: list[str] = field(default_factory=list)

    def narrow(self, values: Iterable[Any], text: str) -> None:
        wanted = set(values)
        self.allowed = wanted if self.allowed is None else self.allowed & wanted
        self.said.append(text)

    def bound(self, op: str, value: float) -> None:
        if op in ("$gt", "$gte"):
            new = (value, op == "$gte")
            if self.low is None or new[0] > self.low[0] or (new[0] == self.low[0] and not new[1]):
                self.low = new
            self.said.append(f"{'above' if op == '$gt' else 'at least'} {value!r}")
        else:
            new = (value, op == "$lte")
            if self.high is None or new[0] < self.high[0] or (
                    new[0] == self.high[0] and not new[1]):
                self.high = new
            self.said.append(f"{'below' if op == '$lt' else 'at most'} {value!r}")

    def fits(self, value: Any) -> bool:
        if value in self.banned:
            return False
        if self.low is None and self.high is None:
            return True
        if not isinstance(value, _NUMBER) or isinstance(value, bool):
            return False
        low_ok = self.low is None or value > self.low[0] or (self.low[1] and value == self.low[0])
        high_ok = self.high is None or value < self.high[0] or (
            self.high[1] and value == self.high[0])
        return low_ok and high_ok

    def empty(self) -> bool:
        if self.allowed is not None:
            return not any(self.fits(v) for v in self.allowed)
        if self.low is not None and self.high is not None:
            (lo, lo_in), (hi, hi_in) = self.low, self.high
            return lo > hi or (lo == hi and not (lo_in and hi_in))
        return False


def contradiction(conditions: Iterable[Any], segments: Mapping[str, Any]) -> str | None:
    """Why the conditions can never all hold at once, or ``None``.

    :param conditions: raw conditions (as written in YAML), all of which must hold.
    :param segments: raw segment conditions by name, followed where referred to.
    """
    domains: dict[str, _Domain] = {}
    for condition in conditions:
        _collect(condition, segments, domains, set())
    for name, domain in domains.items():
        if domain.empty():
            return f"{name} cannot be {' and '.join(dict.fromkeys(domain.said))} at once"
    return None


def _collect(condition: Any, segments: Mapping[str, Any], domains: dict[str, _Domain],
             visiting: set[str]) -> None:
    if not isinstance(condition, dict):
        return
    for key, spec in condition.items():
        if key == "$and" and isinstance(spec, list):
            for item in spec:
                _collect(item, segments, domains, visiting)
        elif key == "segment" and spec in segments and spec not in visiting:
            _collect(segments[spec], segments, domains, visiting | {spec})
        elif key in FIELDS and FIELDS[key].type not in ("list", "datetime"):
            domain = domains.setdefault(key, _universe(key))
            ops = spec if isinstance(spec, dict) else {"$eq": spec}
            for op, arg in ops.items():
                _apply(domain, op, arg)


def _universe(name: str) -> _Domain:
    info = FIELDS[name]
    if info.values:
        return _Domain(allowed={*info.values, None})
    if info.type == "bool":
        return _Domain(allowed={True, False, None})
    return _Domain()


def _apply(domain: _Domain, op: str, arg: Any) -> None:
    hashable = isinstance(arg, (str, int, float, bool)) or arg is None
    if op == "$eq" and hashable:
        domain.narrow([arg], repr(arg))
    elif op == "$in" and isinstance(arg, list):
        domain.narrow([a for a in arg if not isinstance(a, (dict, list))],
                      f"one of {arg!r}")
    elif op == "$ne" and hashable:
        domain.banned.add(arg)
        domain.said.append(f"not {arg!r}")
    elif op == "$nin" and isinstance(arg, list):
        domain.banned.update(a for a in arg if not isinstance(a, (dict, list)))
        domain.said.append(f"not one of {arg!r}")
    elif op in ("$gt", "$gte", "$lt", "$lte") and isinstance(arg, _NUMBER) \
            and not isinstance(arg, bool):
        domain.bound(op, arg)
    elif op == "$exists" and arg is False:
        domain.narrow([None, ""], "not set")
    elif op == "$exists" and arg is True:
        domain.banned.update({None, ""})
        domain.said.append("set")
