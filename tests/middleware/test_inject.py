"""Byte-level injection into ``data-personalize-slot`` markers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize.inject import find_markers, inject


def content(slot: str) -> tuple[str, str]:
    return (f"id-{slot}", f"<b>{slot}!</b>")


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        pytest.param(b'<div data-personalize-slot="hero">old</div>',
                     b'<div data-personalize-slot="hero" data-personalize-decision="id-hero">'
                     b"<b>hero!</b></div>", id="simple"),
        pytest.param(b"<section class='x' data-personalize-slot='promo' id=p><div>a</div>"
                     b"<div>b</div></section><p>after</p>",
                     b"<section class='x' data-personalize-slot='promo' id=p "
                     b'data-personalize-decision="id-promo"><b>promo!</b></section><p>after</p>',
                     id="nested-same-tag"),
        pytest.param(b'<DIV data-personalize-slot="hero">x</Div>',
                     b'<DIV data-personalize-slot="hero" data-personalize-decision="id-hero">'
                     b"<b>hero!</b></Div>", id="case-insensitive-close"),
        pytest.param(b'<div data-personalize-slot="hero" data-personalize-decision="t">x</div>',
                     b'<div data-personalize-slot="hero" data-personalize-decision="t">x</div>',
                     id="template-rendered-left-alone"),
        pytest.param(b'<div data-personalize-slot="hero">never closed',
                     b'<div data-personalize-slot="hero">never closed', id="unclosed"),
        pytest.param(b'<img data-personalize-slot="hero">', b'<img data-personalize-slot="hero">',
                     id="void-element"),
        pytest.param(b'<div data-personalize-slot="bad name">x</div>',
                     b'<div data-personalize-slot="bad name">x</div>', id="invalid-slot-name"),
        pytest.param(b"<p>no markers</p>", b"<p>no markers</p>", id="no-markers"),
    ],
)
def test_inject(page: bytes, expected: bytes) -> None:
    assert inject(page, content) == expected


def test_a_slot_the_callback_declines_keeps_its_content() -> None:
    page = b'<div data-personalize-slot="a">1</div><div data-personalize-slot="b">2</div>'
    result = inject(page, lambda s: None if s == "a" else content(s))
    assert result.startswith(b'<div data-personalize-slot="a">1</div>')
    assert b"<b>b!</b>" in result


def test_markers_are_found_in_document_order() -> None:
    page = b"".join(b'<p data-personalize-slot="s%d">x</p>' % i for i in range(5))
    assert [m.slot for m in find_markers(page)] == [f"s{i}" for i in range(5)]


@settings(max_examples=300)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_body_is_handled_without_raising(body: bytes) -> None:
    marked = b'<div data-personalize-slot="hero">' + body
    assert isinstance(inject(marked, content), bytes)
    if b"data-personalize-slot" not in body:
        assert inject(body, content) == body
