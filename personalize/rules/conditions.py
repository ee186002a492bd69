"""The condition language: MongoDB-style operators over dotted context fields.

>>> compiler = ConditionCompiler()
>>> night_phone = compiler.compile({"device.type": {"$in": ["mobile", "tablet"]},
...                                 "time.daypart": "night"})
>>> night_phone.test(context.fields)
True
>>> night_phone.why(other.fields)
(False, "device.type is 'desktop', not one of ['mobile', 'tablet']")

A condition is a mapping; its keys are ANDed. A key is a context field (its
value is compared for equality, or is a mapping of operators, also ANDed),
``$and`` / ``$or`` (a list of conditions), ``$not`` (a condition) or
``segment`` (the name of a reusable condition). An empty mapping always
matches. Conditions compile once, when the rules load, into plain closures;
every problem is collected with its path so the loader can report the file,
line and column.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..context.fields import FIELDS, Field
from . import operators as ops
from .operators import Built, Fields, OperandError, Test, Why
from .source import Path
from .suggest import did_you_mean, quoted_list

LOGIC = ("$and", "$or", "$not")


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition.

    :param test: true when the condition holds for a request's fields.
    :param why: the same answer with a sentence saying why, for explanations.
    :param text: what the condition asks, as a sentence; it is what a decision
        quotes, so that serving a request formats no text.
    :param always: the condition is empty and holds for every request.
    :param equals: ``(field, value)`` when the condition is one plain equality,
        so that several can be fused into one closure.
    """

    test: Test
    why: Why
    text: str
    always: bool = False
    equals: tuple[str, Any] | None = None


def _always(f: Fields) -> bool:
    return True


def _never(f: Fields) -> bool:
    return False


ALWAYS = Condition(_always, lambda f: (True, "always (no conditions)"), "always", always=True)
#: stands in for a part that has errors; the rule set is rejected anyway
BROKEN = Condition(_never, lambda f: (False, "this condition has errors"), "(errors)")


class ConditionProblem(NamedTuple):
    """One problem in a condition.

    :param path: where, relative to the condition's top.
    :param message: what was expected and what was given.
    :param key: the problem is the key itself (an unknown name), not its value.
    """

    path: Path
    message: str
    key: bool = False


SegmentLookup = Callable[[str], Condition | None]


class ConditionCompiler:
    """Compiles conditions, collecting every problem instead of stopping at the first.

    :param segments: returns a named segment's condition, or ``None`` when the
        segment has errors of its own (reported elsewhere).
    :param segment_names: the names ``segment:`` may refer to.
    """

    def __init__(self, segments: SegmentLookup | None = None,
                 segment_names: Collection[str] = ()) -> None:
        self.segments = segments
        self.segment_names = segment_names
        self.problems: list[ConditionProblem] = []

    def compile(self, data: Any, path: Path = ()) -> Condition:
        """Compile one condition; problems go to :attr:`problems`.

        :param data: the condition as read from YAML (a mapping).
        :param path: where it is, prefixed to every problem's path.
        """
        if not isinstance(data, dict):
            return self._fail(path, f"expected a condition (a mapping of fields to values), "
                                    f"got {data!r}")
        parts: list[Condition] = []
        for key, spec in data.items():
            at = (*path, key)
            if key == "segment":
                parts.append(self._segment(spec, at))
            elif key in ("$and", "$or"):
                parts.append(self._logic(key, spec, at))
            elif key == "$not":
                parts.append(_negate(self.compile(spec, at)))
            elif key in FIELDS:
                parts.append(self._field(FIELDS[key], spec, at))
            elif key.startswith("$"):
                self._fail(at, f"unknown operator {key!r} here; a condition takes a field, "
                               f"'segment', $and, $or or $not{did_you_mean(key, LOGIC)}", key=True)
            else:
                self._fail(at, f"unknown context field {key!r}"
                               f"{did_you_mean(key, [*FIELDS, 'segment'])}", key=True)
        return _all(parts) if parts else ALWAYS

    def _fail(self, path: Path, message: str, *, key: bool = False) -> Condition:
        self.problems.append(ConditionProblem(path, message, key))
        return BROKEN

    def _segment(self, name: Any, path: Path) -> Condition:
        if not isinstance(name, str):
            return self._fail(path, f"expected a segment name, got {name!r}")
        if name not in self.segment_names:
            known = sorted(self.segment_names)
            hint = did_you_mean(name, known) or (
                f"; known segments: {quoted_list(known)}" if known else "; no segments are defined")
            return self._fail(path, f"unknown segment {name!r}{hint}")
        inner = self.segments(name) if self.segments is not None else None
        if inner is None:
            return BROKEN
        inner_why = inner.why

        def why(f: Fields) -> tuple[bool, str]:
            ok, text = inner_why(f)
            return ok, (f"in segment {name!r} ({text})" if ok
                        else f"not in segment {name!r}: {text}")
        return Condition(inner.test, why, f"in segment {name!r}", inner.always, inner.equals)

    def _logic(self, op: str, items: Any, path: Path) -> Condition:
        if not isinstance(items, list) or not items:
            return self._fail(path, f"{op} takes a list of one or more conditions, got {items!r}")
        parts = [self.compile(item, (*path, i)) for i, item in enumerate(items)]
        return _all(parts) if op == "$and" else _any(parts)

    def _field(self, field: Field, spec: Any, path: Path) -> Condition:
        if not isinstance(spec, dict):
            if isinstance(spec, list):
                return self._fail(path, f"a list is ambiguous here; to match any of them "
                                        f"write {{$in: {spec!r}}}")
            if field.type == "datetime":
                return self._fail(path, f"{field.name} changes every second; compare it with "
                                        "$gte and $lt instead of an exact value")
            return self._operator(field, "$eq", spec, None, path)
        if not spec:
            return self._fail(path, f"expected a value or operators for {field.name}, got {{}}")
        options = spec.get("$options")
        if "$options" in spec and "$regex" not in spec:
            self._fail((*path, "$options"), "$options only goes with $regex", key=True)
        parts = [self._operator(field, op, arg, options, (*path, op))
                 for op, arg in spec.items() if op != "$options"]
        return _all(parts)

    def _operator(self, field: Field, op: str, arg: Any, options: Any,
                  path: Path) -> Condition:
        allowed = ops.OPERATORS[field.type]
        if op not in allowed:
            if op in ops.ALL_OPERATORS:
                return self._fail(path, f"{op} does not apply to {field.name}, which is "
                                        f"{ops.TYPE_WORDS[field.type]}; it takes "
                                        f"{', '.join(allowed)}", key=True)
            hint = did_you_mean(op, allowed) or f"; {field.name} takes {', '.join(allowed)}"
            return self._fail(path, f"unknown operator {op!r}{hint}", key=True)
        try:
            test, why, text = _build(field, op, arg, options)
        except OperandError as err:
            return self._fail(path, str(err))
        plain = op == "$eq" and field.type != "list"
        return Condition(test, why, text, equals=(field.name, arg) if plain else None)


def _build(field: Field, op: str, arg: Any, options: Any) -> Built:
    if op in ("$eq", "$ne"):
        return ops.equality(field, ops.check_value(field, arg), op == "$ne")
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise OperandError(f"{op} takes a list of values, got {arg!r}")
        values = [ops.check_value(field, v, allow_none=field.type != "list") for v in arg]
        return ops.membership(field, values, op == "$nin")
    if op == "$exists":
        if not isinstance(arg, bool):
            raise OperandError(f"$exists takes true or false, got {arg!r}")
        return ops.existence(field, arg)
    if op in ("$regex", "$glob"):
        if not isinstance(arg, str) or not arg:
            raise OperandError(f"{op} takes a non-empty pattern in quotes, got {arg!r}")
        if op == "$glob":
            return ops.pattern(field, ops.glob_to_regex(arg), repr(arg))
        return ops.pattern(field, ops.regex_with_options(arg, options), f"/{arg}/")
    return ops.comparison(field, op, ops.check_value(field, arg, allow_none=False))


def _all(parts: Sequence[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    live = [p for p in parts if not p.always]
    if not live:
        return ALWAYS
    pairs = tuple(p.equals for p in live if p.equals is not None)
    tests = tuple(p.test for p in live if p.equals is None or len(pairs) < 2)
    if len(pairs) >= 2:
        tests = (_equalities(pairs), *tests)
    test: Test
    if len(tests) == 1:
        test = tests[0]
    elif len(pairs) == 1 and len(tests) == 2:
        # one equality and one other test, the next commonest rule: the equality inline
        ((name, value),) = pairs
        other = next(p.test for p in live if p.equals is None)

        def test(f: Fields) -> Any:
            return f.get(name) == value and other(f)
    elif len(tests) == 2:
        a, b = tests

        def test(f: Fields) -> bool:
            return a(f) and b(f)
    elif len(tests) == 3:
        a, b, c = tests

        def test(f: Fields) -> bool:
            return a(f) and b(f) and c(f)
    else:
        def test(f: Fields) -> bool:
            for t in tests:  # noqa: SIM110 — a plain loop beats all() on a generator here
                if not t(f):
                    return False
            return True
    whys = tuple(p.why for p in live)

    def why(f: Fields) -> tuple[bool, str]:
        texts = []
        for w in whys:
            ok, text = w(f)
            if not ok:
                return False, text
            texts.append(text)
        return True, " and ".join(texts)
    return Condition(test, why, " and ".join(p.text for p in live))


def _equalities(pairs: tuple[tuple[str, Any], ...]) -> Test:
    """One closure for several plain equalities (the commonest rule), to save calls."""
    test: Test
    if len(pairs) == 2:
        (n1, v1), (n2, v2) = pairs

        def test(f: Fields) -> Any:
            return f.get(n1) == v1 and f.get(n2) == v2
    elif len(pairs) == 3:
        (n1, v1), (n2, v2), (n3, v3) = pairs

        def test(f: Fields) -> Any:
            return f.get(n1) == v1 and f.get(n2) == v2 and f.get(n3) == v3
    else:
        def test(f: Fields) -> bool:
            get = f.get
            for name, value in pairs:  # noqa: SIM110 — as above, for speed
                if get(name) != value:
                    return False
            return True
    return test


def _any(parts: Sequence[Condition]) -> Condition:
    if len(parts) == 1:
        return parts[0]
    if any(p.always for p in parts):
        return ALWAYS
    tests = tuple(p.test for p in parts)

    def test(f: Fields) -> bool:
        for t in tests:  # noqa: SIM110 — as above, for speed
            if t(f):
                return True
        return False
    whys = tuple(p.why for p in parts)

    def why(f: Fields) -> tuple[bool, str]:
        texts = []
        for w in whys:
            ok, text = w(f)
            if ok:
                return True, text
            texts.append(text)
        return False, "none of: " + "; ".join(texts)
    return Condition(test, why, "either " + ", or ".join(p.text for p in parts))


def _negate(inner: Condition) -> Condition:
    inner_test, inner_why = inner.test, inner.why

    def test(f: Fields) -> bool:
        return not inner_test(f)

    def why(f: Fields) -> tuple[bool, str]:
        ok, text = inner_why(f)
        return (True, text) if not ok else (False, f"$not excludes it: {text}")
    return Condition(test, why, f"not ({inner.text})")
