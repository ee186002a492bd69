"""Hypothesis strategies for the fuzz targets: rule files, conditions, requests, HTML.

Each strategy mixes pure noise (random bytes and text, which exercise the
outermost refusals) with inputs built from the vocabulary the code expects
(rule keys, context fields, cookie names, event types, slot markers), which
get past the first check and reach the code behind it.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from personalize.context.fields import FIELDS, Field
from personalize.rules.operators import OPERATORS
from personalize.signals import EVENT_TYPES

# -- rule files ------------------------------------------------------------------

SECTIONS = ("site", "slots", "rules", "segments", "guardrails", "objectives")
RULE_WORDS = (
    *SECTIONS, "timezone", "languages", "consent_cookie", "consent_required", "default",
    "variants", "id", "html", "tags", "title", "template", "key", "description", "policy",
    "weights", "name", "when", "then", "show", "allow", "exclude", "priority", "slot",
    "slots", "schedule", "start", "end", "enabled", "sensitive", "stage", "segment",
    "holdout", "share", "salt", "exploration", "floor", "cap", "frequency_caps", "variant",
    "tag", "max", "per", "annoyance_budget", "max_per_visit", "experience_monitor",
    "stickiness", "scope", "transparency", "visitor_link", "bots", "consent",
    "$and", "$or", "$not", "$in", "$nin", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte",
    "$exists", "$regex", "$glob", "$options", *FIELDS,
)
RULE_VALUES = (
    "hero", "hero-default", "promo", "calm", "upsell", "tag:promo", "tag:promo*", "night",
    "mobile", "Europe/Helsinki", "Mars/Olympus", "day", "week", "visit", "split", "bandit",
    "2026-12-01", "2026-13-45", "08:00", "25:99", "(a+)+$", "[", "^/checkout", "/**/x",
    "<script>alert(1)</script>", "", " ", "\t", "\u0000", "ä", "😀", "end", "true", "null",
)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=24),
    st.sampled_from(RULE_VALUES),
)
_KEYS = st.one_of(st.sampled_from(RULE_WORDS), st.text(max_size=12))
YAML_VALUES: st.SearchStrategy[Any] = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=30,
)
#: a document shaped like a rule file: mostly known sections holding anything
RULE_DOCUMENTS = st.one_of(
    st.dictionaries(st.sampled_from(SECTIONS), YAML_VALUES, max_size=4),
    YAML_VALUES,
)
_YAML_TOKENS = (
    "key: value", "- item", "slots:", "  hero:", "    default: a", "rules:", "  - name: x",
    "    when: {device.type: mobile}", "    then: {show: a}", "&anchor", "*anchor",
    "<<: *anchor", "!!python/object/apply:os.system ['true']", "!!binary AAAA", "---", "...",
    "[", "]", "{", "}", "'", '"', ": ", "\t", "#", "|", ">", "%YAML 1.2", "? complex", "\ufeff",
)
#: YAML-looking text with syntax errors, tags, anchors and tabs
YAML_TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.tuples(st.integers(0, 6), st.sampled_from(_YAML_TOKENS)), max_size=25).map(
        lambda lines: "\n".join(" " * indent + token for indent, token in lines)),
)
#: one edit to a demo rule file, applied by line: (kind, line, column, text)
MUTATIONS = st.tuples(
    st.sampled_from(("delete", "duplicate", "swap", "insert", "replace_word", "truncate",
                     "indent", "dedent", "char")),
    st.integers(0, 10_000), st.integers(0, 200),
    st.one_of(st.sampled_from(RULE_WORDS), st.sampled_from(RULE_VALUES), st.text(max_size=8)),
)

# -- conditions ------------------------------------------------------------------

_REGEX_PIECES = ("a", "b", ".", ".*", ".+", "[a-z]+", "[^/]*", "(a|b)", "(a+)+", "(a*)*",
                 "^", "$", "\\d", "\\w+", "x{2,5}", "/", "-", "(?:ab)?", "\\.")


def _operand(field: Field, op: str) -> st.SearchStrategy[Any]:
    """A valid operand for ``op`` on ``field``, as a rule file would spell it."""
    if op == "$exists":
        return st.booleans()
    if op in ("$regex", "$glob"):
        if op == "$glob":
            return st.text(alphabet="/*?ab-.", min_size=1, max_size=12)
        return st.lists(st.sampled_from(_REGEX_PIECES), min_size=1, max_size=6).map("".join)
    value = _value(field)
    if op in ("$in", "$nin"):
        return st.lists(value if field.type == "list" else st.one_of(st.none(), value),
                        max_size=4)
    return value


def _value(field: Field) -> st.SearchStrategy[Any]:
    if field.type == "str":
        return st.sampled_from(field.values) if field.values else st.text(max_size=12)
    if field.type == "list":
        return st.text(max_size=8)
    if field.type in ("int", "float"):
        return st.one_of(st.integers(-1000, 1000),
                         st.floats(-1e6, 1e6) if field.type == "float" else st.integers(0, 50))
    if field.type == "bool":
        return st.booleans()
    return st.datetimes().map(lambda d: d.isoformat(timespec="minutes"))


@st.composite
def _field_condition(draw: st.DrawFn) -> dict[str, Any]:
    field = FIELDS[draw(st.sampled_from(sorted(FIELDS)))]
    chosen = draw(st.lists(st.sampled_from(OPERATORS[field.type]), min_size=1, max_size=2,
                           unique=True))
    if chosen == ["$eq"] and draw(st.booleans()):
        return {field.name: draw(_operand(field, "$eq"))}
    spec = {op: draw(_operand(field, op)) for op in chosen}
    if "$regex" in spec and draw(st.booleans()):
        spec["$options"] = draw(st.sampled_from(("i", "m", "s", "is", "ims")))
    return {field.name: spec}


CONDITIONS: st.SearchStrategy[dict[str, Any]] = st.recursive(
    _field_condition(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda pair: {**pair[0], **pair[1]}),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"$and": items}),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"$or": items}),
        inner.map(lambda item: {"$not": item}),
    ),
    max_leaves=8,
)
# -- requests ---------------------------------------------------------------------

#: what a WSGI server puts in environ: one header line's bytes decoded as latin-1 (PEP 3333)
HEADER_TEXT = st.one_of(
    st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=120),
    st.text(st.characters(max_codepoint=127, exclude_characters="\r\n"), max_size=40))
COOKIE_NAMES = ("pz_vid", "pz_consent", "pz_tz", "paahtimo_consent", "session", "")
_COOKIE_PAIRS = st.lists(
    st.tuples(st.one_of(st.sampled_from(COOKIE_NAMES),
                        st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"),
                                max_size=6)),
              st.one_of(HEADER_TEXT, st.sampled_from(("yes", "no", "1", "Europe/Helsinki",
                                                       "Etc/GMT+99", "../../etc/passwd")))),
    max_size=5)
COOKIE_HEADERS = st.one_of(
    HEADER_TEXT,
    _COOKIE_PAIRS.map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs)),
)
USER_AGENTS = st.one_of(HEADER_TEXT, st.sampled_from((
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15",
    "Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0", "",
)))
def _json_value() -> st.SearchStrategy[Any]:
    return st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                  st.text(max_size=20)),
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=8), inner, max_size=4)),
        max_leaves=15)


EVENT_FIELDS = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.sampled_from(sorted(EVENT_TYPES)), st.text(max_size=10)),
    "decision": st.sampled_from(("valid", "expired", "forged", "other_visitor", "junk")),
    "value": st.one_of(st.integers(-5, 5), st.floats(), st.sampled_from((1, -1, 86401)),
                       st.text(max_size=5), st.none()),
    "reason": st.one_of(st.text(max_size=30), st.text(min_size=190, max_size=240)),
    "extra": st.text(max_size=5),
})
CONTENT_TYPES = st.one_of(
    st.none(), st.sampled_from(("application/json", "text/plain;charset=UTF-8",
                                "application/x-www-form-urlencoded", "multipart/form-data",
                                "APPLICATION/JSON", "")), HEADER_TEXT)
CONTENT_LENGTHS = st.one_of(st.none(), st.sampled_from(("-1", "abc", "1e3", "99999999", "0",
                                                        " 12", "4097")))
RAW_JSON = _json_value().map(lambda v: json.dumps(v).encode())
REQUEST_HEADERS = st.fixed_dictionaries({
    "HTTP_COOKIE": COOKIE_HEADERS, "HTTP_USER_AGENT": USER_AGENTS,
    "HTTP_REFERER": st.one_of(st.none(), HEADER_TEXT),
    "HTTP_ACCEPT_LANGUAGE": st.one_of(st.none(), HEADER_TEXT),
    "HTTP_DNT": st.one_of(st.none(), st.just("1"), HEADER_TEXT),
    "HTTP_SEC_GPC": st.one_of(st.none(), st.just("1"), HEADER_TEXT),
    "HTTP_SEC_CH_UA_MOBILE": st.one_of(st.none(), HEADER_TEXT),
    "HTTP_SEC_CH_UA_PLATFORM": st.one_of(st.none(), HEADER_TEXT),
    "HTTP_HOST": st.one_of(st.none(), HEADER_TEXT),
    "path": st.one_of(st.none(), HEADER_TEXT), "query": st.one_of(st.none(), HEADER_TEXT)})
ENDPOINT_REQUESTS = st.fixed_dictionaries({
    "method": st.sampled_from(("POST", "POST", "POST", "GET", "PUT", "HEAD", "DELETE")),
    "path": st.sampled_from(("/_personalize/events",) * 4 + (
        "/_personalize/why", "/_personalize/optout", "/_personalize/static/beacon.js",
        "/_personalize/x")),
    "query": st.one_of(st.just(""), HEADER_TEXT, st.text(max_size=20).map(lambda t: "d=" + t)),
    "body": st.one_of(st.binary(max_size=300), RAW_JSON,
                      st.lists(EVENT_FIELDS, min_size=1, max_size=22)),
    "content_type": CONTENT_TYPES,
    "cookie": st.one_of(st.none(), st.just("own"), COOKIE_HEADERS),
    "length": CONTENT_LENGTHS, "chunked": st.booleans()})


# -- HTML -------------------------------------------------------------------------

HTML_TOKENS = (
    b"<div", b"<section", b"<DIV", b"<p>", b"</p>", b"<span", b" data-personalize-slot=",
    b'"hero"', b"'promo'", b'"help"', b'"bad slot"', b">", b"/>", b"</div>", b"</section>",
    b"</DIV >", b"<br/>", b"<img ", b'data-personalize-decision="x"', b" ", b"text", b"<",
    b"\xff\xfe", b"<!--", b"-->", b"<script>", b"</script>", b'"', b"'", b"=", b"\n",
    b"data-personalize-slot", b"<div data-personalize-slot=\"hero\">",
)
_ELEMENTS = st.builds(
    lambda tag, quote, slot, before, after, inner, close: (
        b"<" + tag + before + b" data-personalize-slot=" + quote + slot + quote + after + b">"
        + inner + (b"</" + tag + b">" if close else b"")),
    st.sampled_from((b"div", b"section", b"p", b"DIV", b"aside", b"img", b"span")),
    st.sampled_from((b'"', b"'")), st.sampled_from((b"hero", b"promo", b"help", b"x y")),
    st.sampled_from((b"", b' class="a"', b" id=x", b" data-personalize-decision=\"d\"")),
    st.sampled_from((b"", b" hidden", b" /", b' title="<>"')),
    st.lists(st.sampled_from(HTML_TOKENS), max_size=6).map(b"".join), st.booleans())
HTML_BODIES = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.sampled_from(HTML_TOKENS), _ELEMENTS), max_size=30).map(b"".join),
)
#: what the page's decisions say per slot: (decision id, html), or None to leave it
SLOT_ANSWERS = st.dictionaries(
    st.sampled_from(("hero", "promo", "help")),
    st.one_of(st.none(), st.tuples(st.text("abcdefXYZ0123456789._-", min_size=1, max_size=30),
                                   st.text(max_size=60))),
    max_size=3)
