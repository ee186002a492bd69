"""JSON Schema validation of one rule file, with errors people can act on.

jsonschema's own messages name schema internals (``'x' is not valid under any
of the given schemas``); here each error becomes "where: expected …, got …",
located at the line and column of the offending key or value, with the
nearest valid name for a typo.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from ..exceptions import RuleError
from .operators import ALL_OPERATORS
from .schema import SCHEMA
from .source import Document, Path, dotted
from .suggest import did_you_mean, quoted_list

_VALIDATOR = Draft7Validator(SCHEMA)
_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list",
               "null": "nothing (null)"}
_BOOLISH = {"yes", "no", "on", "off", "y", "n"}


def schema_problems(doc: Document) -> tuple[list[RuleError], list[Path]]:
    """Every way ``doc`` breaks the schema, ordered by position in the file.

    :param doc: one parsed rule file.
    :returns: the problems, and the paths they were found at (so the loader can
        set those parts aside instead of reporting follow-on errors).
    """
    found: dict[tuple[int, int, str], RuleError] = {}
    paths: list[Path] = []
    for error in _VALIDATOR.iter_errors(doc.data):
        path: Path = tuple(error.absolute_path)
        if "propertyNames" in error.schema_path:
            paths.append((*path, error.instance))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            paths.extend((*path, k) for k in error.instance if k not in allowed)
        else:
            paths.append(path)
        for problem in _explain(doc, error):
            found.setdefault((problem.line, problem.column, problem.message), problem)
    return sorted(found.values(), key=lambda p: (p.line, p.column)), paths


def _got(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _expects(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_expects(s) for s in schema["anyOf"]))
    if "enum" in schema:
        return "one of " + quoted_list(v for v in schema["enum"] if v is not None)
    if "patternErrorMessage" in schema:
        return str(schema["patternErrorMessage"])
    if schema.get("title") == "operators":
        return "operators such as $in"
    given = schema.get("type", "any value")
    types: list[str] = given if isinstance(given, list) else [given]
    return " or ".join(_TYPE_WORDS.get(t, t) for t in types if t != "null")


def _explain(doc: Document, error: ValidationError) -> Iterator[RuleError]:
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    where = dotted(path) or "the file"
    kind, value = error.validator, error.instance

    if "propertyNames" in error.schema_path:
        name = value
        yield doc.error((*path, name), f"{where}: expected {_expects(schema)}, got {name!r}",
                        key=True)
    elif kind in ("anyOf", "oneOf") and all(_only_required(s) for s in error.validator_value):
        yield doc.error(path, _choice(where, kind, error.validator_value, value))
    elif kind == "anyOf":
        branches = error.validator_value
        relevant = [e for e in error.context or ()
                    if _fits_type(value, branches[e.relative_schema_path[0]])]
        if relevant:
            for sub in relevant:
                yield from _explain(doc, sub)
        else:
            yield doc.error(path, f"{where}: expected {_expects(schema)}, got {_got(value)}")
    elif "errorMessage" in schema and kind in ("maxProperties", "minProperties", "not"):
        yield doc.error(path, f"{where}: {schema['errorMessage']}")
    elif kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        for key in value:
            if key not in allowed:
                yield doc.error((*path, key), _unknown_key(where, key, allowed, schema), key=True)
    elif kind == "required":
        for key in error.validator_value:
            if isinstance(value, dict) and key not in value:
                text = schema.get("properties", {}).get(key, {}).get("description", "")
                yield doc.error(path, f"{where}: missing {key!r}" + (f" ({text})" if text else ""))
    elif kind == "not" and "required" in error.validator_value:
        keys = " or ".join(repr(k) for k in error.validator_value["required"])
        yield doc.error(path, f"{where}: give {keys}, not both")
    else:
        yield doc.error(path, f"{where}: {_message(kind, schema, value, error)}")


def _fits_type(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` has a type the branch ``schema`` accepts (then its errors matter)."""
    types = schema.get("type")
    if types is None:
        return True
    return any(_VALIDATOR.is_type(value, t) for t in (types if isinstance(types, list)
                                                       else [types]))


def _only_required(schema: Any) -> bool:
    return isinstance(schema, dict) and list(schema) == ["required"]


def _choice(where: str, kind: str, options: list[dict[str, Any]], value: Any) -> str:
    keys = [o["required"][0] for o in options]
    present = [k for k in keys if isinstance(value, dict) and k in value]
    listed = ", ".join(keys[:-1]) + f" or {keys[-1]}"
    if kind == "oneOf" and len(present) > 1:
        return f"{where}: expected only one of {listed}, got {' and '.join(present)}"
    return f"{where}: expected {'one' if kind == 'oneOf' else 'at least one'} of {listed}"


def _unknown_key(where: str, key: str, allowed: list[str], schema: dict[str, Any]) -> str:
    title = schema.get("title")
    if title == "condition":
        if key.startswith("$"):
            logic = ["$and", "$or", "$not"]
            return (f"{where}: unknown operator {key!r} here; a condition takes a field, "
                    f"'segment', $and, $or or $not{did_you_mean(key, logic)}")
        fields = [k for k in allowed if not k.startswith("$")]
        return f"{where}: unknown context field {key!r}{did_you_mean(key, fields)}"
    if title == "operators" and key.startswith("$"):
        if key in ALL_OPERATORS:
            return (f"{where}: {key} does not apply here; this field takes "
                    f"{', '.join(k for k in allowed if k != '$options')}")
        return f"{where}: unknown operator {key!r}{did_you_mean(key, allowed)}"
    hint = did_you_mean(key, allowed) or f"; expected one of {quoted_list(allowed, 12)}"
    return f"{where}: unknown key {key!r}{hint}"


def _message(kind: str, schema: dict[str, Any], value: Any, error: ValidationError) -> str:
    got = _got(value)
    if kind == "type":
        hint = ""
        if isinstance(value, str) and value.lower() in _BOOLISH and "boolean" in str(
                error.validator_value):
            hint = "; write true or false"
        return f"expected {_expects(schema)}, got {got}{hint}"
    if kind == "enum":
        options = [v for v in error.validator_value if v is not None]
        hint = did_you_mean(value, [str(o) for o in options]) if isinstance(value, str) else ""
        return f"expected one of {quoted_list(options)}, got {got}{hint}"
    if kind == "pattern":
        return f"expected {schema.get('patternErrorMessage', 'text like ' + schema['pattern'])}, " \
               f"got {got}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"expected a number {_bounds(schema)}, got {got}"
    if kind == "minItems":
        return f"expected at least {error.validator_value} item(s), got {len(value)}"
    if kind == "uniqueItems":
        shown = [repr(v) for v in value]
        repeated = sorted({v for v in shown if shown.count(v) > 1})
        return f"expected no repeats, got {', '.join(repeated)} more than once"
    if kind in ("minLength", "minProperties"):
        return f"expected something here, got {got}"
    if kind == "maxLength":
        return f"expected at most {error.validator_value} characters, got {len(value)}"
    return str(error.message)


def _bounds(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    low_word = "above" if "exclusiveMinimum" in schema else "from"
    if low is not None and high is not None:
        return f"{low_word} {low} to {high}"
    if low is not None:
        return f"{'above' if 'exclusiveMinimum' in schema else 'of at least'} {low}"
    return f"of at most {high}"
