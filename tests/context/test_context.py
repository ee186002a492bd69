"""The context's two views: computed on first read, then kept for the request."""

from __future__ import annotations

import dataclasses

from werkzeug.test import EnvironBuilder

from personalize.context import Context
from personalize.context.builder import ContextBuilder
from personalize.context.site import SiteSettings


def _context() -> Context:
    environ = EnvironBuilder(path="/products/espresso", headers={
        "Referer": "https://www.google.com/", "Accept-Language": "fi"}).get_environ()
    builder = ContextBuilder(store=None, secret="a-secret-for-tests-only", clock=lambda: 1.8e9)
    return builder.build(environ, SiteSettings(languages=("en", "fi"))).context


def test_views_are_computed_once_and_kept() -> None:
    context = _context()
    fields, features = context.fields, context.features
    assert context.fields is fields and context.features is features
    assert fields["referrer.source"] == "google" and features["section"] == "products"


def test_a_copy_computes_its_own_views_equal_to_the_original() -> None:
    context = _context()
    copy = dataclasses.replace(context)
    assert copy.fields == context.fields and copy.fields is not context.fields
    assert copy.to_features() == context.to_features()


def test_the_views_are_documented_on_the_class() -> None:
    assert Context.fields.__doc__ and "dotted name" in Context.fields.__doc__
    assert Context.features.__doc__ and "bandit" in Context.features.__doc__
