"""What a request carries never becomes markup: escaped where shown, never variant content.

Headers, query strings and cookies are the attacker's: a ``<script>`` in any of
them must not reach a page, the "why am I seeing this?" page or the text of
``personalize explain`` as markup, and nothing in a request can make a slot
show HTML that is not in the rule files.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from personalize.cli import main
from personalize.engine import Personalizer
from personalize.middleware import PersonalizeMiddleware
from personalize.store.memory import MemoryStore
from tests.badinput.demo_kit import Demo

SCRIPT = "<script>alert('pz')</script>"
RAW = re.compile(r"<script>alert\('pz'\)", re.IGNORECASE)
PWNED = "<b id=pwned>PWNED</b>"

HOSTILE = [
    pytest.param({"User-Agent": f"Mozilla/5.0 {SCRIPT}"}, "", id="user-agent"),
    pytest.param({"Referer": f"https://evil.example/{SCRIPT}?q={SCRIPT}"}, "", id="referrer"),
    pytest.param({"Referer": f"https://{SCRIPT}.example/"}, "", id="referrer-host"),
    pytest.param({}, f"utm_campaign={quote(SCRIPT)}&utm_source={quote(SCRIPT)}"
                     f"&utm_medium={quote(SCRIPT)}", id="campaign-parameters"),
    pytest.param({"Accept-Language": f"{SCRIPT};q=1"}, "", id="accept-language"),
    pytest.param({"Cookie": f"pz_tz={quote(SCRIPT)}"}, "", id="timezone-cookie"),
    pytest.param({"Sec-CH-UA-Platform": f'"{SCRIPT}"', "Sec-CH-UA-Mobile": SCRIPT}, "",
                 id="client-hints"),
]


def _visit(demo: Demo, headers: dict[str, str], query: str) -> tuple[str, str, dict[str, str]]:
    extra = dict(headers)
    cookie = extra.pop("Cookie", "")
    page = demo.get(f"/?{query}" if query else "/", cookie=cookie, headers=extra)
    assert page.status == 200
    assert page.visitor_cookie and page.decisions
    return page.body, page.visitor_cookie, page.decisions


@pytest.mark.parametrize(("headers", "query"), HOSTILE)
def test_request_values_never_reach_a_page_or_why_page_as_markup(
        demo: Demo, headers: dict[str, str], query: str) -> None:
    body, cookie, decisions = _visit(demo, headers, query)
    assert not RAW.search(body)
    for decision in decisions.values():
        why = demo.get(f"/_personalize/why?d={decision}", cookie=cookie)
        assert why.status == 200
        assert "<li>" in why.body  # the reasons are listed
        assert not RAW.search(why.body)


def test_the_why_page_escapes_whatever_a_logged_reason_says(demo: Demo) -> None:
    """Reasons quote the request (where the visitor came from); the page escapes them."""
    _, cookie, decisions = _visit(demo, {}, "")
    claims = demo.engine.signer.verify(decisions["hero"])
    token = demo.engine.signer.sign(claims.visitor, "hero", "hero-default",
                                    issued_at=demo.clock() - 5)
    demo.engine.store.append([{
        "ts": demo.clock(), "type": "exposure", "visitor": claims.visitor, "decision": token,
        "slot": "hero", "variant": "hero-default", "reasons": [f"coming from {SCRIPT}"]}])
    demo.engine.store.flush()
    why = demo.get(f"/_personalize/why?d={token}", cookie=cookie)
    assert why.status == 200
    assert "coming from &lt;script&gt;alert(&#x27;pz&#x27;)" in why.body
    assert not RAW.search(why.body)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_personalize_explain_never_prints_markup_from_the_request(as_json: bool) -> None:
    args = ["explain", "--ua", f"Mozilla/5.0 {SCRIPT}",
            "--referrer", f"https://evil.example/{SCRIPT}?utm_campaign={quote(SCRIPT)}",
            "--header", f"Accept-Language: {SCRIPT}", "--rules", "rules"]
    result = CliRunner().invoke(main, [*args, "--json"] if as_json else args)
    assert result.exit_code == 0, result.output
    assert "slot hero" in result.output or '"hero"' in result.output
    assert not RAW.search(result.output)


INJECTION = [
    pytest.param({}, f"variant=hero-night&html={quote(PWNED)}&slot=hero&content={quote(PWNED)}",
                 id="query-parameters"),
    pytest.param({"X-Personalize-Variant": "hero-night", "X-Personalize-Content": PWNED}, "",
                 id="headers"),
    pytest.param({"Cookie": f"pz_variant={quote(PWNED)}; hero={quote(PWNED)}"}, "",
                 id="cookies"),
    pytest.param({"Referer": f"https://evil.example/?html={quote(PWNED)}"}, "", id="referrer"),
]


def _slot_contents(demo: Demo, body: str) -> list[tuple[str, str, str]]:
    """(slot, variant, what follows the container's opening tag) for each filled slot."""
    found = []
    for match in re.finditer(r'data-personalize-slot="([^"]+)" '
                             r'data-personalize-decision="([^"]+)"[^>]*>', body):
        claims = demo.engine.signer.verify(match.group(2))
        assert claims.slot == match.group(1)
        found.append((claims.slot, claims.variant, body[match.end():]))
    return found


@pytest.mark.parametrize(("headers", "query"), INJECTION)
def test_slots_show_only_variants_from_the_rule_files(demo: Demo, headers: dict[str, str],
                                                      query: str) -> None:
    body, cookie, decisions = _visit(demo, headers, query)
    event = (f'{{"type": "feedback", "decision": "{decisions["hero"]}", "value": -1, '
             f'"reason": "{PWNED}"}}')
    assert demo.post("/_personalize/events", event, cookie=cookie).status == 202
    again = demo.get("/", cookie=cookie, headers={k: v for k, v in headers.items()
                                                  if k != "Cookie"})
    slots = demo.engine.ruleset.slots
    for page in (body, again.body):
        assert "PWNED" not in page
        contents = _slot_contents(demo, page)
        assert contents
        for slot, variant, rest in contents:
            assert variant in slots[slot].variants
            assert rest.startswith(demo.engine.render(slots[slot].variants[variant]))


def _host_page(body: bytes) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    return app


@pytest.mark.timeout(10)
@pytest.mark.parametrize("body", [
    pytest.param(b'<div data-personalize-slot="hero">old</div ', id="close-tag-cut-off"),
    pytest.param(b'<div data-personalize-slot="hero">old</div', id="close-tag-at-end"),
    pytest.param(b'<div data-personalize-slot="hero">old', id="never-closed"),
    pytest.param(b'<div data-personalize-slot="hero"', id="opening-cut-off"),
])
def test_a_host_page_with_broken_markup_is_served(body: bytes) -> None:
    """Found by the fuzzer: a marker whose closing tag has no ``>`` looped forever."""
    engine = Personalizer(rules="rules", store=MemoryStore(), secret="s" * 32)
    client = Client(PersonalizeMiddleware(_host_page(body), engine=engine), use_cookies=False)
    response = client.get("/")
    served = response.get_data()
    response.close()
    assert response.status_code == 200
    assert served.startswith(b"<div data-personalize-slot=\"hero\"")
