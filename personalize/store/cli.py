"""``personalize purge`` and ``personalize forget``: keeping only what may be kept.

::

    $ personalize purge --older-than 90d --store sqlite:///var/personalize.db
    purged sqlite:///var/personalize.db: removed 1532 profiles and log records last
    written before 2026-08-25T09:14:03Z (older than 90d)

    $ personalize forget 3f9a0c4e1b2d4f6a8c0e2a4b6d8f0a1c --store redis://127.0.0.1:6379/0
    forgot visitor 3f9a0c4e1b2d4f6a8c0e2a4b6d8f0a1c in redis://127.0.0.1:6379/0:
    removed 14 records (profile and log)

(each message is one line; they are wrapped here.) ``--store`` may come from
the ``PERSONALIZE_STORE`` environment variable. ``purge`` is the retention
job to run daily from cron; ``forget`` answers one person's erasure request.
Exit codes: 0 done (also when nothing was stored), 1 the store failed, 2 a bad
argument (click's usage error).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

import click

from ..exceptions import ConfigError, StoreError
from . import make_store
from .base import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([0-9]{1,9})\s*([smhdw])")
_VISITOR_ID = re.compile(r"[0-9a-f]{32}")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90d``, ``12h``, ``30m``, ``45s`` or ``2w``.

    :param text: a whole number and one unit: s, m, h, d or w.
    :raises ValueError: with a message saying what was expected and what was given.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"expected a duration like 90d, 12h or 30m (a whole number and one "
                         f"of s, m, h, d, w), got {text!r}")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"expected a duration above zero, got {text!r}; purging everything "
                         "is not a retention policy")
    return float(seconds)


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """Click callback: the option's duration in seconds, or a usage error."""
    try:
        return parse_duration(value)
    except ValueError as err:
        raise click.BadParameter(str(err), ctx, param) from err


def open_store(url: str) -> Store:
    """The store a URL names, refusing to create an SQLite file that is not there.

    :param url: a store URL as in :func:`~personalize.store.make_store`.
    :raises click.BadParameter: the URL is not usable, or names a missing file
        (a typo in the path must not "succeed" on a new, empty database).
    :raises click.ClickException: the store cannot be opened.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        path = rest[1:]
        if not os.path.isfile(path):
            raise click.BadParameter(f"no database file at {path!r} (from {url!r}); expected "
                                     "sqlite:///relative/path.db or sqlite:////absolute/path.db",
                                     param_hint="--store")
    try:
        return make_store(url)
    except ConfigError as err:
        raise click.BadParameter(str(err), param_hint="--store") from err
    except StoreError as err:
        raise click.ClickException(f"cannot open the store: {err}") from err


_STORE_OPTION = click.option(
    "--store", "store_url", envvar="PERSONALIZE_STORE", required=True, metavar="URL",
    help="Store URL, e.g. sqlite:///var/personalize.db or redis://host:6379/0 "
         "(default: $PERSONALIZE_STORE).")


@click.command("purge")
@click.option("--older-than", "older_than", callback=_duration, required=True, metavar="DURATION",
              help="Remove profiles and log records not written for this long: 90d, 12h, 30m.")
@_STORE_OPTION
def purge_command(older_than: float, store_url: str) -> None:
    """Remove profiles and log records older than a retention period."""
    cutoff = time.time() - older_than
    when = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    store = open_store(store_url)
    try:
        removed = store.purge(cutoff)
    except StoreError as err:
        _close(store, quietly=True)
        raise click.ClickException(f"purge failed; run it again: {err}") from err
    _close(store)
    click.echo(f"purged {store_url}: removed {removed} profiles and log records last written "
               f"before {when} (older than {_shown(older_than)})")


@click.command("forget")
@click.argument("visitor_id")
@_STORE_OPTION
def forget_command(visitor_id: str, store_url: str) -> None:
    """Erase everything stored about one visitor: the profile and every log record."""
    visitor = visitor_id.strip().lower()
    if not _VISITOR_ID.fullmatch(visitor):
        raise click.BadParameter(f"expected a visitor id of 32 hex digits (the part of the "
                                 f"pz_vid cookie before the '.'), got {visitor_id!r}",
                                 param_hint="VISITOR_ID")
    store = open_store(store_url)
    try:
        removed = store.forget(visitor)
    except StoreError as err:
        _close(store, quietly=True)
        raise click.ClickException(f"forget failed; run it again: {err}") from err
    _close(store)
    if removed:
        click.echo(f"forgot visitor {visitor} in {store_url}: removed {removed} records "
                   "(profile and log)")
    else:
        click.echo(f"nothing stored for visitor {visitor} in {store_url}; nothing to remove")


def _close(store: Store, *, quietly: bool = False) -> None:
    """Close the store; a failure is an error unless another one is already reported."""
    try:
        store.close()
    except StoreError as err:
        if not quietly:
            raise click.ClickException(f"the store did not close cleanly: {err}") from err


def _shown(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
