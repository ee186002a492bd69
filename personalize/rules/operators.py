"""The comparison operators of the condition language, compiled to closures.

Each operator becomes a pair: a fast ``test(fields) -> bool`` run on every
request, and a ``why(fields) -> (bool, sentence)`` run only to explain a
decision. Operands are checked against the field's type from
:data:`~personalize.context.fields.FIELDS` before anything is compiled, so a
closure never meets a comparison it cannot make: a value of an unexpected type
at run time simply does not match.

``$regex`` and ``$glob`` run on RE2, whose matching time is linear in the
input, so no pattern can stall a request (no ReDoS). Results are cached per
input string, because paths and sources repeat from request to request.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import re2

from ..context.fields import Field
from .suggest import did_you_mean, quoted_list

Fields = Mapping[str, Any]
Test = Callable[[Fields], bool]
Why = Callable[[Fields], tuple[bool, str]]
#: an operator compiled: its test, its explanation, and a sentence saying what it asks
Built = tuple[Test, Why, str]

_SCALARS = frozenset({str, int, float, bool, type(None)})
_NUMBERS = frozenset({int, float})
_LISTS = (list, tuple)

#: Operators each field type takes; the order is the order messages list them.
OPERATORS: dict[str, tuple[str, ...]] = {
    "str": ("$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$glob"),
    "int": ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"),
    "float": ("$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists"),
    "bool": ("$eq", "$ne", "$exists"),
    "list": ("$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$glob"),
    "datetime": ("$gt", "$gte", "$lt", "$lte", "$exists"),
}
ALL_OPERATORS: tuple[str, ...] = (
    "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$regex", "$glob",
)
TYPE_WORDS = {"str": "text", "int": "a whole number", "float": "a number",
              "bool": "true or false", "list": "text (an item of the list)",
              "datetime": "a local date-time such as '2025-12-24T18:00'"}
_COMPARE: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "$gt": ("above", operator.gt), "$gte": ("at least", operator.ge),
    "$lt": ("below", operator.lt), "$lte": ("at most", operator.le)}


class OperandError(ValueError):
    """An operand that does not fit its field; the message says what was expected."""


def _shown(value: Any) -> str:
    return "not set" if value is None or value == "" else repr(value)


def check_value(field: Field, value: Any, *, allow_none: bool = True) -> Any:
    """The operand to compare ``field`` with, or :class:`OperandError`.

    :param field: the context field the condition names.
    :param value: the operand as written in the rule file.
    :param allow_none: ``null`` (the field is not set) is acceptable here.
    """
    if value is None and allow_none:
        return None
    kind = field.type
    ok = {
        "str": isinstance(value, str),
        "list": isinstance(value, str),
        "int": type(value) in _NUMBERS,
        "float": type(value) in _NUMBERS,
        "bool": isinstance(value, bool),
        "datetime": isinstance(value, str),
    }[kind]
    if not ok:
        raise OperandError(f"expected {TYPE_WORDS[kind]} for {field.name}, got {value!r}")
    if kind == "str" and field.values and value not in field.values:
        raise OperandError(f"{value!r} is not a value of {field.name}; expected one of "
                           f"{quoted_list(field.values)}{did_you_mean(value, field.values)}")
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as err:
            raise OperandError(f"expected a local date-time such as '2025-12-24T18:00', "
                               f"got {value!r}") from err
        if moment.tzinfo is not None:
            raise OperandError(f"{field.name} compares the visitor's wall-clock time; "
                               f"leave the offset out of {value!r}")
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return value


def equality(field: Field, value: Any, negate: bool) -> Built:
    """``field: value`` / ``$eq`` / ``$ne``: on a list field, "includes"."""
    name = field.name
    test: Test
    if field.type == "list":
        def test(f: Fields) -> bool:
            x = f.get(name)
            return isinstance(x, _LISTS) and value in x

        def says(x: Any, ok: bool) -> str:
            return f"{name} includes {value!r}" if ok else f"{name} {_shown(x)} lacks {value!r}"
        text = f"{name} {'lacks' if negate else 'includes'} {value!r}"
    else:
        def test(f: Fields) -> Any:  # == on the field's scalar types is always a bool
            return f.get(name) == value

        def says(x: Any, ok: bool) -> str:
            if ok:
                return f"{name} is {_shown(x)}"
            return f"{name} is {_shown(x)}, not {_shown(value)}"
        text = f"{name} is {'not ' if negate else ''}{_shown(value)}"
    return _polar(test, says, name, negate, text)


def membership(field: Field, values: list[Any], negate: bool) -> Built:
    """``$in`` / ``$nin``: one of a list (on a list field: any item is one of it)."""
    name, wanted = field.name, frozenset(values)
    listed = repr(list(values))
    test: Test
    if field.type == "list":
        def test(f: Fields) -> bool:
            x = f.get(name)
            return isinstance(x, _LISTS) and any(type(e) in _SCALARS and e in wanted for e in x)
        text = f"{name} {'has none' if negate else 'has one'} of {listed}"
    else:
        def test(f: Fields) -> bool:
            x = f.get(name)
            return type(x) in _SCALARS and x in wanted
        text = f"{name} is {'not ' if negate else ''}one of {listed}"

    def says(x: Any, ok: bool) -> str:
        return f"{name} is {_shown(x)}" + (f" (one of {listed})" if ok
                                           else f", not one of {listed}")
    return _polar(test, says, name, negate, text)


def _polar(test: Test, says: Callable[[Any, bool], str], name: str, negate: bool,
           text: str) -> Built:
    if not negate:
        def why(f: Fields) -> tuple[bool, str]:
            ok = test(f)
            return ok, says(f.get(name), ok)
        return test, why, text

    def test_not(f: Fields) -> bool:
        return not test(f)

    def why_not(f: Fields) -> tuple[bool, str]:
        inner = test(f)
        return not inner, says(f.get(name), inner)
    return test_not, why_not, text


def comparison(field: Field, op: str, bound: Any) -> Built:
    """``$gt`` / ``$gte`` / ``$lt`` / ``$lte`` on numbers and on local date-times."""
    name = field.name
    words, compare = _COMPARE[op]
    test: Test
    if field.type == "datetime":
        def test(f: Fields) -> bool:
            x = f.get(name)
            return type(x) is str and compare(x[:19], bound)
    else:
        def test(f: Fields) -> bool:
            x = f.get(name)
            return type(x) in _NUMBERS and compare(x, bound)

    def why(f: Fields) -> tuple[bool, str]:
        ok, x = test(f), f.get(name)
        return ok, f"{name} is {_shown(x)}" + (f", {words} {bound!r}" if ok
                                               else f", not {words} {bound!r}")
    return test, why, f"{name} is {words} {bound!r}"


def present(value: Any) -> bool:
    """True unless the value is missing, ``""`` or an empty list."""
    return value is not None and not (isinstance(value, (str, list, tuple)) and len(value) == 0)


def existence(field: Field, wanted: bool) -> Built:
    """``$exists``: the field is set (not missing, empty text or an empty list)."""
    name = field.name

    def test(f: Fields) -> bool:
        return present(f.get(name)) is wanted

    def why(f: Fields) -> tuple[bool, str]:
        x = f.get(name)
        return test(f), (f"{name} is set ({x!r})" if present(x) else f"{name} is not set")
    return test, why, f"{name} is {'set' if wanted else 'not set'}"


def pattern(field: Field, regex: str, shown: str) -> Built:
    """``$regex`` (search) and ``$glob`` (whole value), both already turned into RE2 syntax.

    :param regex: the RE2 pattern; :class:`OperandError` when it does not compile.
    :param shown: how to name the pattern in explanations (``/re/`` or ``'glob'``).
    """
    matcher = compile_re2(regex)
    name = field.name
    test: Test
    if field.type == "list":
        def test(f: Fields) -> bool:
            x = f.get(name)
            return isinstance(x, _LISTS) and any(type(e) is str and matcher(e) for e in x)
    else:
        def test(f: Fields) -> bool:
            x = f.get(name)
            return type(x) is str and matcher(x)

    def why(f: Fields) -> tuple[bool, str]:
        ok = test(f)
        return ok, f"{name} {_shown(f.get(name))} {'matches' if ok else 'does not match'} {shown}"
    return test, why, f"{name} matches {shown}"


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def compile_re2(regex: str) -> Callable[[str], bool]:
    """A cached ``search`` predicate for an RE2 pattern; :class:`OperandError` if invalid."""
    try:
        re2.compile(regex, _RE2_OPTIONS)  # for RE2's own message on a bad pattern
    except re2.error as err:
        detail = err.args[0].decode() if err.args and isinstance(err.args[0], bytes) else str(err)
        raise OperandError(f"invalid regular expression {regex!r}: {detail} "
                           "(RE2 syntax: no look-around or back-references)") from err
    matcher = re2.Set.SearchSet(_RE2_OPTIONS)
    matcher.Add(regex)
    matcher.Compile()
    match = matcher.Match

    @lru_cache(maxsize=512)
    def search(text: str) -> bool:
        return match(text) is not None
    return search


def regex_with_options(regex: str, options: str | None) -> str:
    """``$regex`` with its ``$options`` (``i``, ``m``, ``s``) as RE2 inline flags."""
    if not options:
        return regex
    if not isinstance(options, str) or set(options) - set("ims"):
        raise OperandError(f"$options takes the letters i, m and s; got {options!r}")
    return f"(?{''.join(sorted(set(options)))}){regex}"


def glob_to_regex(glob: str) -> str:
    """An anchored RE2 pattern for a path glob.

    ``*`` and ``?`` stay within one path segment, ``**`` crosses segments
    (``/**/`` also matches a single ``/``), ``[abc]`` and ``[!abc]`` are classes.
    """
    out, i, n = ["^"], 0, len(glob)
    while i < n:
        c = glob[i]
        if glob.startswith("**", i):
            if glob.startswith("/", i + 2) and (i == 0 or glob[i - 1] == "/"):
                out.append("(?:.*/)?")
                i += 3
            else:
                out.append(".*")
                i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and "]" in glob[i + 2:]:
            end = glob.index("]", i + 2)
            body = glob[i + 1:end]
            negated = body.startswith("!")
            body = re.sub(r"([\\\]^])", r"\\\1", body[1:] if negated else body)
            out.append(f"[{'^' if negated else ''}{body}]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return "".join(out)
