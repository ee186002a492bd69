"""Every error personalize raises, under one root.

Catch :class:`PersonalizeError` to handle anything from this package. Each
subclass carries the context a caller needs as attributes, and its message says
what was expected, what was given, and what to do about it.
"""

from __future__ import annotations


class PersonalizeError(Exception):
    """Root of all errors raised by personalize."""


class ConfigError(PersonalizeError, ValueError):
    """A setting passed by the host application is invalid.

    Raised at start-up, never while serving: bad configuration is refused, not
    quietly repaired.

    :param key: the setting's name, e.g. ``PERSONALIZE_SECRET``.
    :param message: what was expected, what was given and what to do.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class RuleError(PersonalizeError):
    """One problem found in a rule file, located precisely.

    :param file: path of the rule file.
    :param line: 1-based line, or 0 when the problem has no single place.
    :param column: 1-based column, or 0.
    :param message: what was expected and what was given, with a suggestion.
    :param key: the dotted key where the problem is, when there is one.
    :param severity: ``"error"`` rejects the rule set, ``"warning"`` does not.
    """

    def __init__(
        self,
        file: str,
        line: int,
        column: int,
        message: str,
        *,
        key: str | None = None,
        severity: str = "error",
    ) -> None:
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.key = key
        self.severity = severity


class RuleSetError(PersonalizeError):
    """A rule set was rejected; :attr:`problems` lists every error found."""

    def __init__(self, problems: list[RuleError]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        lines = "\n".join(str(p) for p in errors)
        super().__init__(f"{len(errors)} error(s) in the rule files:\n{lines}")
        self.problems = problems


class StoreError(PersonalizeError):
    """The store could not be reached or could not complete an operation.

    Callers on the request path treat this as "serve defaults", never as a 500.
    """


class TokenError(PersonalizeError):
    """A decision token is forged, malformed or expired."""


class EventError(PersonalizeError):
    """An event was refused; :attr:`status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_event") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
