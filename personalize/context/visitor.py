"""Visitor ids: random 128-bit values in a signed first-party cookie.

A visitor id identifies a browser, never a person: it is random, carries no
personal data, and a cookie whose signature does not verify simply makes a
new visitor — tampering is never an error.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any, cast

from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie

VISITOR_COOKIE = "pz_vid"
_VISITOR_ID = re.compile(r"[0-9a-f]{32}")


class VisitorIds:
    """Issues and reads signed visitor-id cookie values.

    :param secret: the site's secret key (the same one signs decision ids, with
        a different salt, so one cannot be passed off as the other).
    """

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        key = hashlib.sha256(b"personalize.visitor|" + raw).digest()
        # keyed BLAKE2b, a MAC by design: every request verifies a cookie, and
        # OpenSSL's HMAC measured ~8x slower here on average, with long tails.
        # Copying the keyed state costs half of keying a new one.
        self._keyed = hashlib.blake2b(key=key, digest_size=32)

    @staticmethod
    def new() -> str:
        """A fresh random visitor id (32 hex digits)."""
        return secrets.token_hex(16)

    def sign(self, visitor_id: str) -> str:
        """The cookie value for ``visitor_id``."""
        signature = base64.urlsafe_b64encode(self._mac(visitor_id)).rstrip(b"=").decode()
        return f"{visitor_id}.{signature}"

    def read(self, cookie_value: str | None) -> str | None:
        """The visitor id in a cookie value, or ``None`` if missing or tampered."""
        if not cookie_value or len(cookie_value) > 128:
            return None
        visitor_id, _dot, signature = cookie_value.rpartition(".")
        if not _VISITOR_ID.fullmatch(visitor_id):
            return None
        try:  # the MAC's bytes are compared, whatever their base64 spelling
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (ValueError, TypeError):  # binascii.Error is a ValueError
            return None
        return visitor_id if hmac.compare_digest(self._mac(visitor_id), given) else None

    def _mac(self, visitor_id: str) -> bytes:
        mac = self._keyed.copy()
        mac.update(visitor_id.encode())
        return mac.digest()


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
