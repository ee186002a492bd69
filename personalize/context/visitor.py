"""Visitor ids: random 128-bit values in a signed first-party cookie.

A visitor id identifies a browser, never a person: it is random, carries no
personal data, and a cookie whose signature does not verify simply makes a
new visitor — tampering is never an error.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, cast

from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie

from ..macs import KeyedMac, from_unpadded_b64

VISITOR_COOKIE = "pz_vid"
_VISITOR_ID = re.compile(r"[0-9a-f]{32}")


class VisitorIds:
    """Issues and reads signed visitor-id cookie values.

    :param secret: the site's secret key (the same one signs decision ids, with
        a different salt, so one cannot be passed off as the other).
    """

    def __init__(self, secret: str | bytes) -> None:
        self._mac = KeyedMac(secret, "visitor", 32)

    @staticmethod
    def new() -> str:
        """A fresh random visitor id (32 hex digits)."""
        return secrets.token_hex(16)

    def sign(self, visitor_id: str) -> str:
        """The cookie value for ``visitor_id``."""
        return f"{visitor_id}.{self._mac.text(visitor_id.encode())}"

    def read(self, cookie_value: str | None) -> str | None:
        """The visitor id in a cookie value, or ``None`` if missing or tampered."""
        if not cookie_value or len(cookie_value) > 128:
            return None
        visitor_id, _dot, signature = cookie_value.rpartition(".")
        if not _VISITOR_ID.fullmatch(visitor_id):
            return None
        try:  # the MAC's bytes are compared, whatever their base64 spelling
            given = from_unpadded_b64(signature)
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            return None
        expected = self._mac.digest(visitor_id.encode())
        return visitor_id if hmac.compare_digest(expected, given) else None


def request_cookies(environ: Mapping[str, Any]) -> dict[str, str]:
    """The request's cookies; bytes that are not UTF-8 are dropped, never an error.

    Header bytes arrive as latin-1 text (PEP 3333), and werkzeug refuses a
    cookie header that is not valid UTF-8 underneath; any client can send one.
    """
    header = environ.get("HTTP_COOKIE", "")
    try:
        return parse_cookie(header, cls=_FIRST_VALUES)
    except UnicodeError:
        utf8 = header.encode("latin-1", "ignore").decode("utf-8", "ignore")
        return parse_cookie(utf8.encode("utf-8").decode("latin-1"), cls=_FIRST_VALUES)


def _first_values(pairs: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Each cookie's first value, as ``dict(MultiDict(pairs))`` gives, without the MultiDict.

    werkzeug builds its result with ``cls(pairs)``, or ``cls()`` when there are
    no cookies; its default MultiDict, then a dict, cost half of the parse.
    """
    cookies: dict[str, str] = {}
    for name, value in pairs:
        cookies.setdefault(name, value)
    return cookies


# werkzeug types ``cls`` as a MultiDict class, but only calls it on the pairs
_FIRST_VALUES = cast("type[MultiDict[str, str]]", _first_values)
