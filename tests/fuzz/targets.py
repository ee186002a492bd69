"""The fuzz targets: what each feeds to the code, and what must hold for every input.

Hypothesis generates each example; a target's ``expand`` may turn one example
into several inputs (random mutations drawn from a generator that Hypothesis
seeded), because drawing every byte through Hypothesis costs far more than the
code under test. Each input is counted and checked on its own.

A target's ``check`` takes one input. It raises :class:`Violation` when a
promised property fails (a 500, a changed body, a tampered cookie accepted);
any other exception escaping it is an *unhandled exception* of the code under
test. It returns a short word ("loaded", "rejected"…) that the runner tallies,
so a report shows which paths the inputs reached.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import shutil
import string
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from werkzeug.test import Client

from personalize.context.builder import ContextBuilder
from personalize.context.site import SiteSettings
from personalize.context.visitor import VISITOR_COOKIE, VisitorIds
from personalize.engine import Personalizer
from personalize.exceptions import RuleSetError
from personalize.inject import MARKER, find_markers, inject
from personalize.middleware import PersonalizeMiddleware
from personalize.rules import RuleSet, load_rules
from personalize.rules.conditions import Condition, ConditionCompiler
from personalize.store.memory import MemoryStore
from tests.fuzz import mutate as m
from tests.fuzz import strategies as s

ROOT = Path(__file__).resolve().parents[2]
DEMO_RULES = ROOT / "rules"
SECRET = "fuzz-secret-" + "f" * 32
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"
#: statuses the /_personalize/ endpoints may answer a client with
CLIENT_STATUSES = frozenset({200, 202, 400, 403, 404, 405, 409, 413, 415, 429})


class Violation(AssertionError):
    """A property the code promises did not hold for one input."""


def _single(example: Any) -> Iterator[Any]:
    yield example


@dataclass(frozen=True)
class Target:
    """One thing to fuzz: a strategy of examples, how each becomes inputs, the check."""

    name: str
    description: str
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], str]
    expand: Callable[[Any], Iterator[Any]] = _single
    #: inputs ``expand`` makes of each example
    fanout: int = 1


# -- rule loader -----------------------------------------------------------------

class RuleDir:
    """A temporary rules directory rewritten for every input."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.demo = {p.name: p.read_text(encoding="utf-8")
                     for p in sorted(DEMO_RULES.glob("*.yaml"))}

    def load(self, files: dict[str, str]) -> str:
        """Write ``files`` (and nothing else) and load them: "loaded" or "rejected"."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        for name, text in files.items():
            (self.root / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            loaded = load_rules(self.root)
        except RuleSetError as err:
            if not err.problems or any(p.severity not in ("error", "warning")
                                       for p in err.problems):
                raise Violation(f"RuleSetError without located problems: {err}") from err
            return "rejected"
        if not isinstance(loaded, RuleSet):
            raise Violation(f"load_rules returned {type(loaded).__name__}")
        return "loaded"

    def random_documents(self, docs: tuple[Any, Any, str]) -> str:
        first, second, text = docs
        return self.load({"00-a.yaml": _dump(first), "10-b.yaml": _dump(second),
                          "20-c.yaml": text})

    def mutated_demo(self, edit: tuple[str, list[tuple[str, int, int, str]]]) -> str:
        name, mutations = edit
        files = dict(self.demo)
        lines = files[name].split("\n")
        for mutation in mutations:
            lines = _mutate(lines, *mutation)
        files[name] = "\n".join(lines)
        return self.load(files)


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)


def _mutate(lines: list[str], kind: str, line: int, column: int, text: str) -> list[str]:
    if not lines:
        return [text]
    i = line % len(lines)
    j = (line // 7) % len(lines)
    current = lines[i]
    if kind == "delete":
        return lines[:i] + lines[i + 1:]
    if kind == "duplicate":
        return [*lines[:i + 1], current, *lines[i + 1:]]
    if kind == "swap":
        out = list(lines)
        out[i], out[j] = out[j], out[i]
        return out
    if kind == "insert":
        return [*lines[:i], " " * (column % 9) + text, *lines[i:]]
    if kind == "replace_word":
        words = current.split(" ")
        words[column % len(words)] = text
        replaced = " ".join(words)
    elif kind == "truncate":
        replaced = current[:column % (len(current) + 1)]
    elif kind == "indent":
        replaced = " " * (column % 5 + 1) + current
    elif kind == "dedent":
        replaced = current.lstrip()
    else:
        at = column % (len(current) + 1)
        replaced = current[:at] + text[:1] + current[at + 1:]
    return [*lines[:i], replaced, *lines[i + 1:]]


# -- condition evaluator ----------------------------------------------------------

class Conditions:
    """Valid conditions, each evaluated on several random contexts."""

    CONTEXTS = 16

    def __init__(self) -> None:
        self._compiled: tuple[object, Condition | None] = (None, None)

    def expand(self, example: tuple[dict[str, Any], random.Random]) -> Iterator[Any]:
        data, r = example
        for _ in range(self.CONTEXTS):
            yield data, m.random_fields(r)

    def check(self, case: tuple[dict[str, Any], dict[str, Any]]) -> str:
        """Compile (once per condition); test and why agree on the context."""
        data, fields = case
        known, condition = self._compiled
        if known is not data:
            compiler = ConditionCompiler()
            condition = compiler.compile(data)
            if compiler.problems:
                condition = None
            self._compiled = (data, condition)
        if condition is None:
            return "refused"
        ok = bool(condition.test(fields))
        explained, text = condition.why(fields)
        if explained != ok or not isinstance(text, str) or not text:
            raise Violation(f"test says {ok}, why says {explained} {text!r} for {data!r}")
        return "matched" if ok else "not_matched"


# -- cookies and request headers ---------------------------------------------------

class Cookies:
    """Random request headers through :class:`ContextBuilder`, and tampered visitor cookies."""

    VARIANTS = 16

    def __init__(self) -> None:
        self.builder = ContextBuilder(store=MemoryStore(), secret=SECRET)
        self.ids = VisitorIds(SECRET)
        self.other = VisitorIds("another-secret-" + "o" * 32)
        self.site = SiteSettings(timezone="Europe/Helsinki", languages=("en", "fi"))

    def header_variants(self, example: tuple[dict[str, str | None], random.Random]
                        ) -> Iterator[dict[str, str | None]]:
        """The example's headers, then variants with some values mutated."""
        headers, r = example
        yield dict(headers)
        for _ in range(self.VARIANTS - 1):
            yield {k: (m.mutate_text(v or "", r) if r.random() < 0.4 else v)
                   for k, v in headers.items()}

    def random_headers(self, headers: dict[str, str | None]) -> str:
        """Any headers: the build never raises and makes no malformed visitor id."""
        headers = dict(headers)
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": headers.pop("path") or "/",
                   "QUERY_STRING": headers.pop("query") or "", "wsgi.url_scheme": "http"}
        environ.update({k: v for k, v in headers.items() if v is not None})
        visit = self.builder.build(environ, self.site)
        visitor = visit.context.visitor_id
        if visitor is not None and len(visitor) != 32:
            raise Violation(f"visitor id {visitor!r} is not 32 hex digits")
        return "tracked" if visitor else "anonymous"

    def tamperings(self, example: tuple[int, random.Random]) -> Iterator[tuple[str, str]]:
        """A genuine cookie for a visitor id, then tampered copies of it."""
        seed, r = example
        original = f"{seed:032x}"
        genuine = self.ids.sign(original)
        for _ in range(self.VARIANTS):
            kind = r.choice(TAMPERINGS)
            yield original, _tamper(genuine, kind, r.randrange(200),
                                    r.choice(string.ascii_letters + "-_.=+/"), self.other)

    def tampered(self, case: tuple[str, str]) -> str:
        """A tampered cookie makes a new visitor, unless it is the same bytes signed."""
        original, forged = case
        genuine = self.ids.sign(original)
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_USER_AGENT": BROWSER,
                   "HTTP_COOKIE": f"{VISITOR_COOKIE}={forged}"}
        visit = self.builder.build(environ, self.site)
        got = visit.context.visitor_id
        if _equivalent(genuine, forged):
            if got != original:
                raise Violation(f"an equivalent cookie {forged!r} lost the visitor")
            return "equivalent"
        if got == original or visit.new_visitor_cookie is None:
            raise Violation(f"tampered cookie {forged!r} was accepted as visitor {got!r}")
        return "new_visitor"


TAMPERINGS = ("flip", "delete", "insert", "truncate", "append", "swap_id", "other_secret",
              "upper")


def _tamper(value: str, kind: str, position: int, char: str, other: VisitorIds) -> str:
    at = position % len(value)
    if kind == "flip":
        return value[:at] + (char if value[at] != char else "~") + value[at + 1:]
    if kind == "delete":
        return value[:at] + value[at + 1:]
    if kind == "insert":
        return value[:at] + char + value[at:]
    if kind == "truncate":
        return value[:at]
    if kind == "append":
        return value + char
    if kind == "swap_id":
        return f"{(position * 7919) % 16**32:032x}" + value[32:]
    if kind == "other_secret":
        return other.sign(value[:32])
    return value.upper()


def _equivalent(genuine: str, forged: str) -> bool:
    """True when ``forged`` carries the same id and the same signature bytes."""
    if forged == genuine:
        return True
    id_a, _, sig_a = genuine.rpartition(".")
    id_b, _, sig_b = forged.rpartition(".")
    if id_a != id_b:
        return False
    try:
        return _b64(sig_a) == _b64(sig_b)
    except (binascii.Error, ValueError):
        return False


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- the event endpoint and the other /_personalize/ pages -------------------------

class Endpoints:
    """Random requests to ``/_personalize/…`` through the full middleware."""

    def __init__(self, store: MemoryStore) -> None:
        self.engine = Personalizer(rules=DEMO_RULES, store=store, secret=SECRET)
        app = PersonalizeMiddleware(_page, engine=self.engine)
        self.client = Client(app, use_cookies=False)
        self.visitor = "0123456789abcdef0123456789abcdef"
        self.cookie = f"{VISITOR_COOKIE}={self.engine.contexts.visitor_ids.sign(self.visitor)}"

    def token(self, kind: str) -> str:
        signer = self.engine.signer
        if kind == "valid":
            return signer.sign(self.visitor, "hero", "hero-default")
        if kind == "expired":
            return signer.sign(self.visitor, "hero", "hero-default",
                               issued_at=signer.clock() - signer.max_age - 60)
        if kind == "other_visitor":
            return signer.sign("f" * 32, "hero", "hero-night")
        if kind == "forged":
            return signer.sign(self.visitor, "hero", "hero-night")[:-3] + "AAA"
        return "junk.token"

    def variants(self, example: tuple[dict[str, Any], random.Random]
                 ) -> Iterator[dict[str, Any]]:
        """The example's request, then one whose body bytes are mutated."""
        case, r = example
        yield case
        yield {**case, "body": m.mutate_bytes(self._body(case["body"]), r, _EVENT_TOKENS)}

    def _body(self, body: Any) -> bytes:
        if isinstance(body, bytes):
            return body
        events = [{k: (self.token(v) if k == "decision" else v) for k, v in e.items()}
                  for e in body]
        return json.dumps(events[0] if len(events) == 1 else {"events": events},
                          allow_nan=True).encode()

    def request(self, case: dict[str, Any]) -> str:
        """Any request under /_personalize/: answered, and never with a 5xx."""
        data = self._body(case["body"])
        headers = {"Content-Type": case["content_type"]} if case["content_type"] else {}
        if case["cookie"] == "own":
            headers["Cookie"] = self.cookie
        elif case["cookie"]:
            headers["Cookie"] = case["cookie"]
        overrides: dict[str, Any] = {}
        if case["length"] is not None:
            overrides["CONTENT_LENGTH"] = case["length"]
        if case["chunked"]:
            overrides.update({"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"})
        response = self.client.open(case["path"], method=case["method"], data=data,
                                    headers=headers, query_string=case["query"],
                                    environ_overrides=overrides)
        status = response.status_code
        response.close()
        if status not in CLIENT_STATUSES:
            raise Violation(f"{case['method']} {case['path']} answered {status}")
        return str(status)


_EVENT_TOKENS = (b'"type"', b'"decision"', b'"value"', b'"reason"', b'"events"', b"[", b"{",
                 b"}", b"]", b'"click"', b'"conversion"', b"1e999", b"NaN", b"\\u0000", b"\xff")


def _page(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"host page"]


# -- HTML injection ----------------------------------------------------------------

INJECT_VARIANTS = 16


def inject_variants(example: tuple[bytes, dict[str, tuple[str, str] | None], random.Random]
                    ) -> Iterator[tuple[bytes, dict[str, tuple[str, str] | None]]]:
    """The example's body, then mutated copies (markers spliced in, bytes flipped)."""
    body, answers, r = example
    yield body, answers
    for _ in range(INJECT_VARIANTS - 1):
        body = m.mutate_bytes(body, r, s.HTML_TOKENS)
        yield body, answers


def check_inject(case: tuple[bytes, dict[str, tuple[str, str] | None]]) -> str:
    """Injection never raises; bodies without a filled marker come back unchanged."""
    body, answers = case
    markers = find_markers(body)
    out = inject(body, lambda slot: answers.get(slot))
    if not isinstance(out, bytes):
        raise Violation(f"inject returned {type(out).__name__}")
    filled = [m for m in markers if answers.get(m.slot) is not None]
    if not filled:
        if out != body:
            raise Violation(f"a body with nothing to fill changed: {body[:80]!r}")
        return "unmarked" if MARKER not in body else "unfilled"
    first = filled[0]
    if out[:first.open_start] != body[:first.open_start]:
        raise Violation("bytes before the first marker changed")
    for marker in filled:
        decision_id, html = answers[marker.slot] or ("", "")
        if html.encode() not in out or f'="{decision_id}"'.encode() not in out:
            raise Violation(f"slot {marker.slot!r} was not filled")
    return "filled"


# -- the catalogue -----------------------------------------------------------------

NAMES = ("rules_random", "rules_mutated", "conditions", "request_headers", "visitor_cookies",
         "endpoints", "inject")
_SEEDED = st.randoms(use_true_random=True)


@contextmanager
def target(name: str, workdir: Path) -> Iterator[Target]:
    """One target by name, with the resources it needs, released afterwards.

    :param workdir: an empty directory the target may write to.
    """
    if name.startswith("rules_"):
        rules = RuleDir(workdir / "rules")
        if name == "rules_random":
            yield Target(name, "random YAML documents and YAML-like text → load_rules",
                         st.tuples(s.RULE_DOCUMENTS, s.RULE_DOCUMENTS, s.YAML_TEXTS),
                         rules.random_documents)
        else:
            yield Target(name, "the demo's rules/*.yaml with random edits → load_rules",
                         st.tuples(st.sampled_from(sorted(rules.demo)),
                                   st.lists(s.MUTATIONS, min_size=1, max_size=4)),
                         rules.mutated_demo)
    elif name == "conditions":
        conditions = Conditions()
        yield Target(name, "valid conditions × random contexts: test and why agree",
                     st.tuples(s.CONDITIONS, _SEEDED), conditions.check, conditions.expand,
                     Conditions.CONTEXTS)
    elif name in ("request_headers", "visitor_cookies"):
        cookies = Cookies()
        if name == "request_headers":
            yield Target(name, "random Cookie and other headers → ContextBuilder.build",
                         st.tuples(s.REQUEST_HEADERS, _SEEDED), cookies.random_headers,
                         cookies.header_variants, Cookies.VARIANTS)
        else:
            yield Target(name, "tampered signed visitor cookies → a new visitor",
                         st.tuples(st.integers(0, 16**32 - 1), _SEEDED), cookies.tampered,
                         cookies.tamperings, Cookies.VARIANTS)
    elif name == "endpoints":
        store = MemoryStore()
        try:
            endpoints = Endpoints(store)
            yield Target(name, "random requests to /_personalize/* → never a 5xx",
                         st.tuples(s.ENDPOINT_REQUESTS, _SEEDED), endpoints.request,
                         endpoints.variants, 2)
        finally:
            store.close()
    elif name == "inject":
        yield Target(name, "random bytes and HTML → inject: never raises, unmarked unchanged",
                     st.tuples(s.HTML_BODIES, s.SLOT_ANSWERS, _SEEDED), check_inject,
                     inject_variants, INJECT_VARIANTS)
    else:
        raise ValueError(f"unknown fuzz target {name!r}; expected one of {', '.join(NAMES)}")
