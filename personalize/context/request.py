"""Request facts: path, site section, preferred language, https."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """:param section: the first path segment (``"home"`` for ``/``)."""

    path: str
    section: str
    language: str
    secure: bool
    method: str = "GET"


def section_of(path: str) -> str:
    """The site section a path belongs to: its first segment, ``home`` for ``/``."""
    first = path.lstrip("/").split("/", 1)[0]
    return first.lower()[:40] or "home"


@lru_cache(maxsize=1024)
def preferred_language(accept_language: str, languages: tuple[str, ...]) -> str:
    """The best of the site's ``languages`` for an ``Accept-Language`` header.

    Honours q-values and matches a regional tag (``fi-FI``) to its base
    language (``fi``); the site's first language when nothing matches.
    """
    best, best_q = languages[0], 0.0
    for position, item in enumerate(accept_language[:512].split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        base = tag.strip().lower().split("-", 1)[0]
        # earlier entries win ties, as browsers list them in preference order
        q -= position * 1e-6
        if base in languages and q > best_q:
            best, best_q = base, q
    return best
