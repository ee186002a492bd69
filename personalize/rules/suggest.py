"""Nearest-name suggestions for typos: ``did you mean 'device.type'?``.

:mod:`difflib` finds close spellings; a bare last part (``daypart``) also finds
its dotted field (``time.daypart``), since marketers often leave out the prefix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def nearest(word: str, candidates: Iterable[str]) -> str | None:
    """The valid name closest to ``word``, or ``None`` when nothing is close.

    :param word: what was written.
    :param candidates: the names that would have been valid there.
    """
    options = sorted(set(candidates))
    if not options:
        return None
    folded = {c.lower(): c for c in options}
    if word.lower() in folded:
        return folded[word.lower()]
    suffixed = [c for c in options if c.endswith("." + word)]
    if len(suffixed) == 1:
        return suffixed[0]
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a close candidate, else ``""``.

    :param word: what was written.
    :param candidates: the names that would have been valid there.
    """
    best = nearest(word, candidates)
    return f"; did you mean {best!r}?" if best is not None and best != word else ""


def quoted_list(values: Iterable[object], limit: int = 8) -> str:
    """``'a', 'b', 'c'`` — the first ``limit`` values, then ``…``.

    :param values: the values to list, in the order to show them.
    :param limit: how many to show before shortening.
    """
    items = list(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    return shown + (", …" if len(items) > limit else "")
