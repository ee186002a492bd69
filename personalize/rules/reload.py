"""Hot reload: notice edited rule files and swap the new rules in, atomically.

>>> reloader = RuleReloader("rules/", interval=2.0)
>>> outcome = reloader.current.evaluate(context, "hero")   # on every request

:attr:`RuleReloader.current` costs a clock read on most requests. At most every
``interval`` seconds one request (never more, and never waiting on another)
compares the files' names, sizes and modification times with the last scan;
only a change makes it load the files. A new rule set replaces the old one by a
single attribute assignment, so a request sees either the old rules or the new
ones, never a mix. A broken edit is logged and kept in :attr:`last_error`, and
the last good rules go on serving.

Editors and ``git`` do not write files atomically: for a moment a file may be
empty or half written, and a half-written file can still be valid YAML (and
not every file system moves the modification time when a file is truncated).
So a change is read only once the scan has seen the same names, sizes and
times for ``settle`` seconds, and a load during which the files changed again
is thrown away. :meth:`RuleReloader.reload_now` (for ``SIGHUP``) skips the
interval, not that wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..exceptions import RuleSetError
from .engine import RuleSet
from .loader import load_rules, rule_files

logger = logging.getLogger("personalize.rules")

Signature = tuple[tuple[str, int, int], ...]


def scan(directory: Path) -> Signature:
    """Names, sizes and modification times of the rule files: cheap, no reading."""
    found = []
    for path in rule_files(directory):
        try:
            stat = path.stat()
        except OSError:  # removed between listing and stat: the next scan sees it gone
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class RuleReloader:
    """Serves the current rules of a directory, reloading them when files change.

    The first load happens here, so broken rules fail at start-up.

    :param directory: the rules directory.
    :param interval: least seconds between two scans of the files.
    :param clock: a monotonic clock in seconds; injectable for tests.
    :param on_error: called with the :class:`RuleSetError` of a rejected edit.
    :param settle: seconds a change must stay unchanged before it is read.
    :raises RuleSetError: when the rules are broken at start-up.
    """

    def __init__(self, directory: str | Path, *, interval: float = 2.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[RuleSetError], None] | None = None,
                 settle: float = 0.25) -> None:
        self.directory = Path(directory)
        self.interval = interval
        self.settle = settle
        self.clock = clock
        self.on_error = on_error
        self.last_error: RuleSetError | None = None
        self._lock = threading.Lock()
        self._signature = scan(self.directory)
        self._pending: tuple[Signature, float] | None = None
        self._forced = False
        self._current = load_rules(self.directory)
        self._due = clock() + interval

    @property
    def current(self) -> RuleSet:
        """The rules to use for this request; may first reload them (see the module doc)."""
        if self.clock() >= self._due and self._lock.acquire(blocking=False):
            try:
                if self.clock() >= self._due:
                    self._check(force=self._forced)
            finally:
                self._lock.release()
        return self._current

    @property
    def version(self) -> str:
        """The serving rules' version."""
        return self._current.version

    @property
    def loaded_at(self) -> float:
        """When the serving rules were loaded (epoch seconds)."""
        return self._current.loaded_at

    def reload_now(self) -> bool:
        """Reload the files now, changed or not (for SIGHUP); true if new rules now serve.

        Safe to call from a signal handler: it never waits. When a reload is
        already under way, or a change has not settled yet, it returns false
        and the next request after that reloads.
        """
        if not self._lock.acquire(blocking=False):
            self._forced = True  # the reload under way may have read the files too early
            self._due = float("-inf")
            return False
        try:
            return self._check(force=True)
        finally:
            self._lock.release()

    def _check(self, *, force: bool) -> bool:
        self._due = self.clock() + self.interval
        self._forced = False
        signature = scan(self.directory)
        if signature == self._signature and not force:
            return False
        if signature != self._signature and not self._settled(signature):
            self._forced = force  # keep a forced reload owed until the change settles
            return False
        try:
            rules = load_rules(self.directory)
        except RuleSetError as err:
            return self._reject(err, signature)
        if scan(self.directory) != signature:
            self._due = self.clock()  # changed while loading: load again next time
            return False
        self._signature = signature
        self.last_error = None
        changed = rules.version != self._current.version
        self._current = rules
        if changed:
            logger.info("rules version %s loaded from %d file(s)", rules.version,
                        len(rules.files))
            for warning in rules.warnings:
                logger.warning("%s", warning)
        return changed

    def _settled(self, signature: Signature) -> bool:
        """Whether ``signature`` has been seen unchanged for :attr:`settle` seconds."""
        now = self.clock()
        if self._pending is None or self._pending[0] != signature:
            self._pending = (signature, now)
        waited = now - self._pending[1]
        if waited < self.settle:
            self._due = min(self._due, now + self.settle - waited)  # look again soon
            return False
        return True

    def _reject(self, err: RuleSetError, signature: Signature) -> bool:
        if scan(self.directory) != signature:  # a save in progress, not a broken edit
            self._due = self.clock()
            return False
        self._signature = signature
        self.last_error = err
        logger.error("rule files rejected; version %s keeps serving.\n%s",
                     self._current.version, err)
        if self.on_error is not None:
            self.on_error(err)
        return False
