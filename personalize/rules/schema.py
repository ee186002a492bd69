"""The published JSON Schema of a rule file.

``personalize schema`` writes it; an editor with a YAML language server then
completes keys, context fields and operators and underlines mistakes as one
types, given this first line in a rule file::

    # yaml-language-server: $schema=./personalize.schema.json

It is draft-07, which every editor understands, and uses the editors'
``patternErrorMessage`` / ``errorMessage`` keywords so that they show the same
words ``personalize check`` does. The schema checks the shape of one file;
what needs the whole rule set (does this variant exist?) is
:mod:`personalize.rules.semantic`'s work.
"""

from __future__ import annotations

from typing import Any

from ..context.fields import FIELDS, Field
from ..context.site import WEEKDAYS
from ..signals import REWARD_SIGNALS
from .guardrail_settings import GUARDRAILS_SCHEMA
from .operators import OPERATORS

NAME = "^[a-z][a-z0-9_-]{0,63}$"
ID = "^[a-z0-9][a-z0-9_-]{0,63}$"
TARGET = r"^(tag:[a-z0-9_*?\[\]!-]+|[a-z0-9][a-z0-9_-]{0,63})$"
CLOCK = "^([01]?[0-9]|2[0-3]):[0-5][0-9]$"
MOMENT = (r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _text(pattern: str, means: str, description: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string", "pattern": pattern, "patternErrorMessage": means}
    if description:
        node["description"] = description
    return node


def _object(properties: dict[str, Any], description: str = "",
            required: list[str] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "additionalProperties": False,
                            "properties": properties}
    if description:
        node["description"] = description
    if required:
        node["required"] = required
    return node


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/definitions/{name}"}


_NAME_TEXT = "a name of lower-case letters, digits, '-' and '_', starting with a letter"
_ID_TEXT = "an id of lower-case letters, digits, '-' and '_'"
_MOMENT_TEXT = ("a date such as '2025-12-01' or a date-time such as '2025-12-01T08:00' "
                "(in the site's time zone unless it ends in Z or an offset)")


def _scalar(field: Field) -> dict[str, Any]:
    kind = field.type
    if kind == "list":
        return {"type": "string", "description": "an item the list includes"}
    json_type = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}[kind]
    node: dict[str, Any] = {"type": [json_type, "null"]}
    if field.values:
        node["enum"] = [*field.values, None]
    return node


def _operand(field: Field, op: str) -> dict[str, Any]:
    if op in ("$eq", "$ne"):
        return _scalar(field)
    if op in ("$in", "$nin"):
        return {"type": "array", "items": _scalar(field)}
    if op == "$exists":
        return {"type": "boolean"}
    if op in ("$regex", "$glob"):
        return {"type": "string", "minLength": 1}
    if field.type == "datetime":
        return _text(MOMENT, "a local date-time such as '2025-12-24T18:00'")
    return {"type": "number"}


def _field_definition(field: Field) -> dict[str, Any]:
    allowed = OPERATORS[field.type]
    operands = {op: _operand(field, op) for op in allowed}
    if "$regex" in allowed:
        operands["$options"] = _text("^[ims]+$", "the letters i, m and s")
    operators = {**_object(operands), "title": "operators", "minProperties": 1}
    description = field.description + (f" ({', '.join(field.values)})" if field.values else "")
    if field.type == "datetime":
        return {**operators, "description": description}
    return {"description": description, "anyOf": [_scalar(field), operators]}


def _definitions() -> dict[str, Any]:
    conditions = {"type": "array", "minItems": 1, "items": _ref("condition")}
    condition = {
        **_object({
            "$and": {**conditions, "description": "all of these conditions"},
            "$or": {**conditions, "description": "at least one of these conditions"},
            "$not": {**_ref("condition")},
            "segment": _text(NAME, _NAME_TEXT, "a segment defined under segments:"),
            **{name: _ref(f"field:{name}") for name in FIELDS},
        }, "Context fields and their values; every key must hold."),
        "title": "condition",
    }
    targets = {
        "type": ["string", "array"], "minItems": 1,
        "pattern": TARGET, "patternErrorMessage": "a variant id or tag:GLOB such as tag:promo*",
        "items": _text(TARGET, "a variant id or tag:GLOB such as tag:promo*"),
        "description": "variant ids and tag globs (tag:upsell, tag:promo*)",
    }
    then = {
        **_object({
            "slot": _text(NAME, _NAME_TEXT, "the slot the actions act on"),
            "slots": {"type": "array", "minItems": 1, "uniqueItems": True,
                      "items": _text(NAME, _NAME_TEXT), "description": "the slots acted on"},
            "show": _text(ID, _ID_TEXT, "pin this variant"),
            "allow": {**targets, "description": "only these variants (and the default)"},
            "exclude": {**targets, "description": "never these variants"},
            "sensitive": {"enum": [True], "description": "only calm variants, no exploration"},
            "stage": {"enum": ["end"], "description": "the end of the journey: no upsell"},
        }, "What a matching rule does."),
        "anyOf": [{"required": [a]} for a in ("show", "allow", "exclude", "sensitive", "stage")],
        "not": {"required": ["slot", "slots"]},
    }
    variant = {
        **_object({
            "id": _text(ID, _ID_TEXT, "unique across all slots"),
            "title": {"type": "string", "description": "a human name for reports"},
            "html": {"type": "string", "description": "inline HTML content"},
            "template": {"type": "string", "description": "a template the host app renders"},
            "key": {"type": "string", "description": "a content key the host app maps"},
            "tags": {"type": "array", "uniqueItems": True,
                     "items": _text(ID, "a tag of lower-case letters, digits, '-' and '_'")},
            "schedule": _ref("schedule"),
        }, "One alternative content for a slot.", ["id"]),
        "oneOf": [{"required": [k]} for k in ("html", "template", "key")],
    }
    return {
        "condition": condition,
        "schedule": {**_object({"start": _text(MOMENT, _MOMENT_TEXT, "inclusive"),
                                "end": _text(MOMENT, _MOMENT_TEXT, "exclusive")},
                               "When this is live; either end may be left open."),
                     "minProperties": 1},
        "variant": variant,
        "then": then,
        **{f"field:{name}": _field_definition(field) for name, field in FIELDS.items()},
    }


def _site() -> dict[str, Any]:
    clock = _text(CLOCK, "a time of day such as '09:00'")
    return _object({
        "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Helsinki"},
        "languages": {"type": "array", "minItems": 1, "uniqueItems": True,
                      "items": _text("^[a-z]{2,3}$", "a language code such as 'en' or 'fi'"),
                      "description": "languages the site speaks, preferred first"},
        "business_hours": _object({
            "days": {"type": "array", "uniqueItems": True, "items": {"enum": list(WEEKDAYS)}},
            "opens": clock, "closes": clock}, "when the business is open, in the site's zone"),
        "dayparts": _object({p: clock for p in ("morning", "afternoon", "evening", "night")},
                            "local start time of each part of the day"),
        "consent_cookie": _text("^[A-Za-z0-9_.-]{1,64}$", "a cookie name"),
        "consent_required": {"type": "boolean",
                             "description": "tracking needs an explicit yes (opt-in)"},
        "visit_timeout_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
        "internal_hosts": {"type": "array", "items": {"type": "string"},
                           "description": "other host names that belong to this site"},
    }, "Site-wide settings: time zone, languages, business hours, consent.")


def build_schema() -> dict[str, Any]:
    """The JSON Schema of one rule file (every section is optional in each file)."""
    slot = _object({
        "description": {"type": "string"},
        "default": _text(ID, _ID_TEXT, "the variant shown when nothing else may be"),
        "policy": {"enum": ["bandit", "split"], "description": "learn (bandit) or A/B (split)"},
        "weights": {"type": "object", "propertyNames": _text(ID, _ID_TEXT),
                    "additionalProperties": {"type": "number", "minimum": 0},
                    "description": "for policy split: variant id → weight"},
        "variants": {"type": "array", "minItems": 1, "items": _ref("variant")},
    }, "A named place on a page.", ["default", "variants"])
    rule = _object({
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "description": {"type": "string"},
        "when": _ref("condition"),
        "then": _ref("then"),
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000,
                     "description": "higher first; 0 unless given"},
        "schedule": _ref("schedule"),
        "enabled": {"type": "boolean"},
    }, "When a condition holds, do something.", ["name", "then"])
    objective = {**_object({s: {"type": "number"} for s in REWARD_SIGNALS},
                           "reward weight per signal; harmful signals weigh negative"),
                 "minProperties": 1}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://personalize.dev/schema/rules.json",
        "title": "personalize rule file",
        "description": "Every *.yaml file under rules/ has this shape; the files are merged "
                       "in file-name order.",
        **_object({
            "site": _site(),
            "slots": {"type": "object", "propertyNames": _text(NAME, _NAME_TEXT),
                      "additionalProperties": slot, "description": "slot name → slot"},
            "segments": {"type": "object", "propertyNames": _text(NAME, _NAME_TEXT),
                         "additionalProperties": _ref("condition"),
                         "description": "named, reusable conditions"},
            "rules": {"type": "array", "items": rule},
            "objectives": {"type": "object", "propertyNames": _text(NAME, _NAME_TEXT),
                           "additionalProperties": objective,
                           "description": "slot name → reward weights"},
            "guardrails": GUARDRAILS_SCHEMA,
        }),
        "definitions": _definitions(),
    }


#: The schema, built once.
SCHEMA: dict[str, Any] = build_schema()
