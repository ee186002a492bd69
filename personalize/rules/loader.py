"""Loading a rules directory into a :class:`RuleSet`, or refusing it with every problem.

>>> rules = load_rules("rules/")
>>> rules.version, sorted(rules.slots)
('3f2a9c1b7d2e', ['closing', 'cta', 'greeting', 'help', 'hero', 'promo'])

Every ``*.yaml`` file under the directory (hidden files and folders aside) is
read, in file-name order. Loading runs in three passes: YAML syntax, the JSON
Schema per file, then the checks across files. Each pass reports all it finds;
parts with errors are set aside rather than checked further, so one typo does
not bring a cascade of follow-on messages.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path as FsPath

from ..exceptions import RuleError, RuleSetError
from .engine import RuleSet
from .guardrail_settings import build_guardrails, check_guardrails
from .lint import lint_rules
from .parts import merge
from .rulebuild import build_rules
from .semantic import SegmentTable, build_objectives, build_site, build_slots, site_zone
from .source import Document, Path, dotted, parse_document
from .validation import schema_problems


def rule_files(directory: str | FsPath) -> list[FsPath]:
    """The rule files of a directory, in the order they merge in.

    :param directory: the rules directory.
    """
    root = FsPath(directory)
    found = [p for p in root.rglob("*.yaml")
             if p.is_file() and not any(part.startswith(".")
                                        for part in p.relative_to(root).parts)]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def load_rules(directory: str | FsPath) -> RuleSet:
    """Load and check every rule file under ``directory``.

    :param directory: the rules directory.
    :raises RuleSetError: listing every problem (warnings included) when any is an error.
    """
    root = FsPath(directory)
    if not root.is_dir():
        raise RuleSetError([RuleError(str(root), 0, 0, "expected a directory of *.yaml rule "
                                      "files, but there is none here")])
    texts: dict[str, str] = {}
    problems: list[RuleError] = []
    for path in rule_files(root):
        try:
            texts[str(path)] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            problems.append(RuleError(str(path), 1, 1, f"expected UTF-8 text: {err.reason} at "
                                      f"byte {err.start}"))
        except OSError as err:
            problems.append(RuleError(str(path), 0, 0, f"cannot be read: {err.strerror}"))
    for path in sorted(root.rglob("*.yml")):
        problems.append(RuleError(str(path), 0, 0, "ignored: rule files end in .yaml",
                                  severity="warning"))
    if not texts and not problems:
        problems.append(RuleError(str(root), 0, 0, "no *.yaml rule files here"))
    return load_texts(texts, problems=problems)


def load_texts(texts: Mapping[str, str], *, problems: list[RuleError] | None = None,
               now: datetime | None = None) -> RuleSet:
    """Load rule files given as text: file name → contents, in merge order.

    :param texts: the files; the names are only used in messages.
    :param problems: problems already found while reading the files.
    :param now: the load time, to spot schedules already over (now by default).
    :raises RuleSetError: listing every problem when any is an error.
    """
    problems = list(problems or ())
    docs: list[tuple[Document, list[Path]]] = []
    unreadable = False
    for file, text in texts.items():
        doc, syntax = parse_document(file, text)
        problems.extend(syntax)
        if syntax and not doc.values:
            unreadable = True  # its sections are unknown: checking others would mislead
            continue
        shape, paths = schema_problems(doc)
        problems.extend(shape)
        docs.append((doc, paths))
    merged, clashes = merge(docs)
    problems.extend(clashes)
    if unreadable:
        raise RuleSetError(_ordered(problems, texts))

    site = build_site(merged, problems)
    tz = site_zone(site)
    slots = build_slots(merged, tz, problems)
    segments = SegmentTable(merged, problems)
    compiled_segments = segments.compile_all()
    rules = build_rules(merged, slots, segments, tz, problems)
    problems.extend(segments.unused())
    slots = build_objectives(merged, slots, problems)
    written = {k: p for k, p in merged.keyed["guardrails"].items()
               if not merged.is_broken("guardrails", k)}
    guardrails = build_guardrails({k: p.data for k, p in written.items()})
    for path, message, severity, slot in check_guardrails(
            guardrails, {k: p.data for k, p in written.items()}, slots):
        key = str(path[0])
        if key in written:
            problems.append(written[key].error(path[1:], f"guardrails.{dotted(path)}: "
                                               f"{message}", severity=severity))
        elif slot is not None:
            problems.append(merged.keyed["slots"][slot].error(
                (), f"guardrails.{dotted(path)} (default): {message}", key=True,
                severity=severity))
    loaded = now or datetime.now(tz)
    problems.extend(lint_rules(rules, slots, merged, loaded))
    if not slots and not merged.is_broken("slots") and texts:
        problems.append(RuleError(next(iter(texts)), 0, 0, "no slots are defined; rules "
                                  "have nothing to act on", severity="warning"))

    ordered = _ordered(problems, texts)
    if any(p.severity == "error" for p in ordered):
        raise RuleSetError(ordered)
    return RuleSet(site=site, slots=slots, rules=rules, guardrails=guardrails,
                   segments=compiled_segments, version=content_version(texts),
                   loaded_at=time.time(), files=tuple(texts),
                   warnings=tuple(ordered))


def content_version(texts: Mapping[str, str]) -> str:
    """A short hash of the files' names and contents: equal files, equal version."""
    digest = hashlib.sha256()
    for name, text in texts.items():
        digest.update(FsPath(name).name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:12]


def _ordered(problems: list[RuleError], texts: Mapping[str, str]) -> list[RuleError]:
    rank = {name: i for i, name in enumerate(texts)}
    unique = {(p.file, p.line, p.column, p.message, p.severity): p for p in problems}
    return sorted(unique.values(), key=lambda p: (rank.get(p.file, -1), p.line, p.column))
