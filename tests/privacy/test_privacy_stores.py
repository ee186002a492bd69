"""No IP address or e-mail address is stored, and visitor ids carry no information.

Requests carry personal data the way real traffic does — the client address,
proxy headers, an e-mail address in a newsletter link's query string and in
the referring URL — and afterwards every table of the SQLite file and every
key of Redis is dumped and searched.
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from personalize.context.visitor import VisitorIds
from tests.badinput.demo_kit import Demo, make_demo, visitor_id
from tests.privacy.dump import dump_redis, dump_sqlite

EMAIL = "jane.doe+shop@example.com"
IPS = ("198.51.100.23", "203.0.113.7", "192.0.2.44", "2001:db8::1", "203.0.113.8")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"\b2001:db8:[0-9a-f:]*", re.IGNORECASE)
PERSONAL = {
    "REMOTE_ADDR": "198.51.100.23",
    "HTTP_X_FORWARDED_FOR": "203.0.113.7, 192.0.2.44",
    "HTTP_X_REAL_IP": "203.0.113.8",
    "HTTP_FORWARDED": 'for="[2001:db8::1]";proto=https',
    "HTTP_REFERER": f"https://mail.example.com/read?to={EMAIL}&ip=203.0.113.7",
}
QUERIES = [
    f"?email={EMAIL}",
    f"?utm_source=newsletter&utm_medium=email&utm_campaign=joulu-2026&utm_content={EMAIL}",
    f"?utm_source=newsletter&utm_medium=email&utm_campaign={EMAIL}",
    f"?utm_source={EMAIL}&utm_medium=email&utm_term={EMAIL}&gclid={EMAIL}",
]


def drive(demo: Demo) -> str:
    """Pages and events full of personal data, for two visitors; the first one's cookie."""
    cookies = []
    for query in QUERIES:
        page = demo.get(f"/{query}", environ=PERSONAL)
        assert page.status == 200 and page.visitor_cookie
        cookies.append(page.visitor_cookie)
        again = demo.get(f"/{query}", cookie=page.visitor_cookie, environ=PERSONAL)
        assert again.status == 200
        for kind, extra in (("click", {}), ("dwell", {"value": 12})):
            event = {"type": kind, "decision": again.decisions["hero"], **extra}
            answered = demo.post("/_personalize/events", json.dumps(event),
                                 cookie=page.visitor_cookie, environ=PERSONAL)
            assert answered.status == 202
    demo.engine.sync()
    demo.engine.store.flush()
    return cookies[0]


def personal_data(dump: dict[str, str]) -> list[str]:
    """Each place in the dump where an IP or e-mail address shows."""
    found = []
    for where, text in dump.items():
        for pattern in (IPV4, IPV6, re.compile(re.escape(EMAIL)), re.compile(r"[\w.+-]+@")):
            found.extend(f"{where}: {m.group(0)!r} in …{text[max(0, m.start() - 80):m.end()]}"
                         for m in pattern.finditer(text))
    return found


def _check(demo: Demo, dump: Callable[[], dict[str, str]]) -> None:
    try:
        cookie = drive(demo)
        dumped = dump()
    finally:
        demo.engine.store.close()
    assert visitor_id(cookie) in "".join(dumped.values())  # the dump does see the data
    assert personal_data(dumped) == []


def test_sqlite_stores_no_ip_or_email_address(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    _check(make_demo(f"sqlite:///{path}"), lambda: dump_sqlite(path))


@pytest.mark.integration
def test_redis_stores_no_ip_or_email_address(redis_url: str) -> None:
    _check(make_demo(redis_url), lambda: dump_redis(redis_url))


def _entropy_bits(symbols: str) -> float:
    counts = collections.Counter(symbols)
    return -sum(c / len(symbols) * math.log2(c / len(symbols)) for c in counts.values())


def test_visitor_ids_are_random_128_bit_values() -> None:
    ids = [VisitorIds.new() for _ in range(4000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    # every position is uniform over 16 digits: chi-square per position, df = 15;
    # 60 is beyond the 1e-7 tail, so a correct generator fails with negligible odds
    for position in range(32):
        column = collections.Counter(i[position] for i in ids)
        expected = len(ids) / 16
        chi2 = sum((column.get(d, 0) - expected) ** 2 / expected for d in "0123456789abcdef")
        assert chi2 < 60, (position, column)
    assert _entropy_bits("".join(ids)) > 3.995
    bits = "".join(f"{int(i, 16):0128b}" for i in ids)
    assert abs(bits.count("1") / len(bits) - 0.5) < 0.005
    # consecutive ids share no more than chance: no counter, no clock in them
    same = sum(a[k] == b[k] for a, b in itertools.pairwise(ids) for k in range(32))
    assert abs(same / ((len(ids) - 1) * 32) - 1 / 16) < 0.01


def test_visitors_arriving_at_the_same_instant_get_unrelated_ids(demo: Demo) -> None:
    """Ids come from the CSPRNG, not the clock or the request: same time, same headers."""
    ids = []
    for _ in range(200):
        page = demo.get("/", environ=PERSONAL)
        assert page.visitor_cookie
        ids.append(visitor_id(page.visitor_cookie))
    assert len(set(ids)) == 200
    assert _entropy_bits("".join(ids)) > 3.95
    prefixes = collections.Counter(i[:4] for i in ids)
    assert prefixes.most_common(1)[0][1] <= 3
