"""Several rule files merged into one set of sections, each part still located.

Files merge in file-name order. ``rules`` lists are joined; the entries of
``site``, ``slots``, ``segments``, ``objectives`` and ``guardrails`` are
collected by name, and a name given in two files is an error that points at
both places, since one silently winning over the other is how a reviewer
gets surprised.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import RuleError
from .source import Document, Path, dotted

KEYED = ("site", "slots", "segments", "objectives", "guardrails")


@dataclass(frozen=True)
class Part:
    """One entry of a section, with the file it came from.

    :param doc: the file.
    :param path: where the entry is in that file (``("slots", "hero")``).
    :param data: the entry's value.
    """

    doc: Document
    path: Path
    data: Any

    @property
    def line(self) -> int:
        """The entry's line, for explanations."""
        return self.doc.where(self.path, key=True)[0]

    def error(self, sub: Path, message: str, *, key: bool = False,
              severity: str = "error") -> RuleError:
        """A problem located under this entry (``sub`` is relative to it)."""
        return self.doc.error((*self.path, *sub), message, key=key, severity=severity)

    def warning(self, sub: Path, message: str, *, key: bool = False) -> RuleError:
        """A warning located under this entry."""
        return self.error(sub, message, key=key, severity="warning")


@dataclass
class Merged:
    """All files' sections, merged; :attr:`broken` names entries with schema errors."""

    keyed: dict[str, dict[str, Part]] = field(
        default_factory=lambda: {name: {} for name in KEYED})
    rules: list[Part] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)

    def is_broken(self, section: str, name: str = "") -> bool:
        """Whether an entry (or, with no name, any entry of a section) had schema errors.

        A file that is not a mapping of sections hides what it meant to define,
        so then everything counts as broken, and references go unchecked.
        """
        if any(s == "file" for s, _ in self.broken):
            return True
        if name:
            return (section, name) in self.broken or (section, "") in self.broken
        return any(s == section for s, _ in self.broken)


def rule_key(doc: Document, index: object, key: object = None) -> str:
    """How :attr:`Merged.broken` names a rule (its file and index), or one key of it."""
    return f"{doc.file}#{index}" + (f"/{key}" if key is not None else "")


def merge(docs: Iterable[tuple[Document, list[Path]]]) -> tuple[Merged, list[RuleError]]:
    """Merge parsed files; each comes with the paths its schema errors were found at.

    :param docs: every file in file-name order, with its schema error paths.
    """
    merged, problems = Merged(), list[RuleError]()
    for doc, error_paths in docs:
        if not isinstance(doc.data, dict) or any(not path for path in error_paths):
            merged.broken.add(("file", doc.file))
            continue
        for path in error_paths:
            section = str(path[0])
            if len(path) == 1:
                merged.broken.add((section, ""))
            elif section == "rules":
                merged.broken.add((section, rule_key(doc, *path[1:3])))
            else:
                merged.broken.add((section, str(path[1])))
        for section, value in doc.data.items():
            if section == "rules" and isinstance(value, list):
                merged.rules.extend(Part(doc, ("rules", i), item) for i, item in enumerate(value))
            elif section in KEYED and isinstance(value, dict):
                problems.extend(_collect(merged.keyed[section], doc, section, value))
    return merged, problems


def _collect(into: dict[str, Part], doc: Document, section: str,
             entries: dict[str, Any]) -> Iterable[RuleError]:
    for name, value in entries.items():
        path = (section, name)
        if name in into:
            first = into[name]
            yield doc.error(path, f"{dotted(path)} is already given in {first.doc.file} "
                                  f"on line {first.line}; give it once", key=True)
            continue
        into[name] = Part(doc, path, value)
