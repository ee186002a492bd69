"""YAML rule files read safely, with the line and column of every key and value.

>>> doc = parse_document("rules/10-slots.yaml", text)
>>> doc.data["slots"]["hero"]["default"]
'hero-default'
>>> doc.where(("slots", "hero", "default"))
(4, 14)

Only :class:`yaml.SafeLoader` composes the text, so no tag can construct a
Python object. The node tree is turned into plain data here rather than by
PyYAML's constructor, because that is where positions and duplicate keys are
still known. Three YAML 1.1 surprises are switched off, as YAML 1.2 (and the
editors' language servers) do: only ``true``/``false`` are booleans (``no`` is
Norway's language code, not false), ``17:00`` is text rather than the base-60
number 1020, and dates stay text until the loader reads them in the site's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ..exceptions import RuleError

#: A position in a document: mapping keys and list indexes from the top.
Path = tuple[str | int, ...]

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 100_000
MAX_DEPTH = 64

#: libyaml's safe loader when PyYAML has it: the same nodes, ten times faster
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOOL = "tag:yaml.org,2002:bool"
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in (
    "str", "int", "float", "bool", "null", "timestamp", "seq", "map"))
_TEXT_TAGS = frozenset({"tag:yaml.org,2002:timestamp"})
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def dotted(path: Path) -> str:
    """``rules[2].when.device.type`` — a path as people read it."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


@dataclass
class Document:
    """One rule file's data and where each part of it was written.

    :param file: the path shown in messages.
    :param data: plain dicts, lists and scalars.
    :param values: path → (line, column) of each value, 1-based.
    :param keys: path → (line, column) of the key naming each mapping entry.
    """

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Line and column of ``path`` (of its key with ``key=True``), or its nearest parent's."""
        for end in range(len(path), -1, -1):
            part = path[:end]
            if key and part in self.keys:
                return self.keys[part]
            if part in self.values:
                return self.values[part]
        return (1, 1)

    def error(self, path: Path, message: str, *, key: bool = False,
              severity: str = "error") -> RuleError:
        """A :class:`RuleError` located at ``path`` in this file.

        :param path: where the problem is.
        :param message: what was expected, what was given, and a suggestion.
        :param key: point at the key rather than its value (unknown keys).
        :param severity: ``"error"`` or ``"warning"``.
        """
        line, column = self.where(path, key=key)
        return RuleError(self.file, line, column, message, key=dotted(path) or None,
                         severity=severity)


class _Builder:
    """Turns a composed node tree into plain data, recording positions."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.tagged = False
        self.problems: list[RuleError] = []
        self.scalars = SafeConstructor()
        # the tag YAML would give a value written without one (types-PyYAML does not
        # annotate Resolver.resolve, hence the explicit type)
        self.implicit_tag: Callable[[type[Node], str, tuple[bool, bool]], str] = (
            Resolver().resolve)

    def build(self, node: Node, path: Path, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_VALUES or depth > MAX_DEPTH:
            raise _TooBig(node)
        mark = node.start_mark
        self.doc.values[path] = (mark.line + 1, mark.column + 1)
        if node.tag not in _PLAIN_TAGS or self._explicit(node):
            self.tagged = True
            self.problems.append(self._at(self.doc.values[path], path, f"the YAML tag "
                                          f"{node.tag.replace('tag:yaml.org,2002:', '!!')} is "
                                          "not allowed; rule files hold plain data"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node)

    def _explicit(self, node: Node) -> bool:
        """A tag written out (``!!int "x"``), rather than read from the value's look."""
        if isinstance(node, ScalarNode):
            plain = not node.style  # None from PyYAML, "" from libyaml
            implicit = (plain, not plain)
            return bool(node.tag != self.implicit_tag(ScalarNode, node.value, implicit))
        expected = "map" if isinstance(node, MappingNode) else "seq"
        return bool(node.tag != f"tag:yaml.org,2002:{expected}")

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(self._at(where, path, "YAML merge keys (<<) are not "
                                              "supported; write the keys out"))
                continue
            key = self._scalar(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.problems.append(self._at(where, path, f"expected a text key, got {shown!r}; "
                                              "put it in quotes"))
                continue
            child = (*path, key)
            if key in out:
                first = self.doc.keys[child]
                self.problems.append(self._at(where, child, f"duplicate key {key!r} "
                                              f"(first written on line {first[0]})"))
                continue
            self.doc.keys[child] = where
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def _scalar(self, node: ScalarNode) -> Any:
        if not node.style:  # plain scalars only: quoted text is always text
            if node.tag in _TEXT_TAGS:
                return node.value
            if node.tag == _BOOL and node.value.lower() not in ("true", "false"):
                return node.value
            if node.tag in _NUMBER_TAGS and ":" in node.value:
                return node.value
        return self.scalars.construct_object(node)

    def _at(self, where: tuple[int, int], path: Path, message: str) -> RuleError:
        return RuleError(self.doc.file, where[0], where[1], message, key=dotted(path) or None)


class _TooBig(Exception):
    def __init__(self, node: Node) -> None:
        super().__init__()
        self.node = node


def parse_document(file: str, text: str) -> tuple[Document, list[RuleError]]:
    """Parse one rule file; syntax problems come back as located errors.

    :param file: the path shown in messages.
    :param text: the file's contents.
    :returns: the document (empty data on a syntax error) and the problems found.
    """
    doc = Document(file, {})
    if len(text.encode()) > MAX_FILE_BYTES:
        return doc, [RuleError(file, 1, 1, f"file is larger than {MAX_FILE_BYTES} bytes; "
                               "split it into several rule files")]
    try:
        root = yaml.compose(text, Loader=_FAST)
    except yaml.YAMLError:
        root = None  # the pure-Python parser explains syntax errors better; let it
    try:
        if root is None:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        return doc, [_syntax_error(file, err)]
    except yaml.YAMLError as err:  # reader errors (bad characters) carry no mark
        return doc, [RuleError(file, 1, 1, f"YAML syntax: {err}")]
    if root is None:
        return doc, []
    builder = _Builder(doc)
    try:
        doc.data = builder.build(root, ())
    except _TooBig as err:
        mark = err.node.start_mark
        return Document(file, {}), [RuleError(
            file, mark.line + 1, mark.column + 1,
            f"the document nests deeper than {MAX_DEPTH} levels or expands (through "
            f"aliases) to more than {MAX_VALUES} values")]
    if builder.tagged:  # a file that tries to construct objects is refused whole
        return Document(file, {}), builder.problems
    return doc, builder.problems


_HINTS = {
    "\\t": "YAML indents with spaces, not tabs",
    "mapping values are not allowed": "put text that contains ': ' in quotes",
    "found undefined alias": "an *alias needs an &anchor above it",
    "expected <block end>": "check the indentation of this line and the one above",
}


def _syntax_error(file: str, err: yaml.MarkedYAMLError) -> RuleError:
    mark = err.problem_mark or err.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = err.problem or "cannot be read"
    for clue, hint in _HINTS.items():
        if clue in problem:
            problem += f" ({hint})"
    context = f" {err.context}" if err.context else ""
    if err.context_mark is not None and err.context and mark is not err.context_mark:
        context += f" (line {err.context_mark.line + 1})"
    return RuleError(file, line, column, f"YAML syntax:{context}: {problem}"
                     if context else f"YAML syntax: {problem}")
