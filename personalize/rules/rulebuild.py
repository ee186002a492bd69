"""Rules compiled: conditions to closures, ``then`` to per-slot effects on variant ids.

Which slots a rule acts on: those named by ``slot:`` / ``slots:``; without
them, the slots of the variants its ``show``, ``allow`` and ``exclude`` name
(variant ids are unique across slots); and when it names only tags, every
slot. ``sensitive`` and ``stage`` always apply to the whole request. Tag globs
(``tag:promo*``) are resolved to variant ids here, once, so evaluating a rule
is set arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import tzinfo
from fnmatch import fnmatchcase
from typing import Any

from ..exceptions import RuleError
from .conditions import ALWAYS, ConditionCompiler
from .engine import CompiledRule, Effect
from .model import Schedule, Slot
from .parts import Merged, Part, rule_key
from .semantic import SegmentTable, build_schedule, located
from .source import dotted
from .suggest import did_you_mean


def build_rules(merged: Merged, slots: dict[str, Slot], segments: SegmentTable, tz: tzinfo,
                problems: list[RuleError]) -> tuple[CompiledRule, ...]:
    """Every rule without schema errors, compiled, in evaluation order."""
    compiled: list[CompiledRule] = []
    names: dict[str, Part] = {}
    for order, part in enumerate(merged.rules):
        index = part.path[1]
        if merged.is_broken("rules", rule_key(part.doc, index)):
            continue
        broken = {k for k in part.data
                  if merged.is_broken("rules", rule_key(part.doc, index, k))}
        data = part.data
        name = data["name"]
        if "name" not in broken:
            if name in names:
                first = names[name]
                problems.append(part.error(("name",), f"rule name {name!r} is already used "
                                           f"in {first.doc.file} on line {first.line}; names "
                                           "are unique"))
                continue
            names[name] = part
        compiler = ConditionCompiler(segments.get, segments.names)
        condition = ALWAYS
        if "when" in data and "when" not in broken:
            condition = compiler.compile(data["when"], ())
            problems.extend(located(part, compiler.problems, ("when",)))
        schedule: Schedule | None = None
        if "schedule" in data and "schedule" not in broken:
            schedule = build_schedule(part, ("schedule",), data["schedule"], tz, problems)
        if "then" in broken:
            continue
        resolver = _Targets(part, slots, merged, problems)
        effects = resolver.effects(data["then"])
        if broken or compiler.problems:
            continue  # the rule set is rejected; what could be checked has been
        compiled.append(CompiledRule(
            name=name, file=part.doc.file, line=part.line, order=order, condition=condition,
            priority=data.get("priority", 0), enabled=data.get("enabled", True),
            schedule=schedule, effects=effects, sensitive=data["then"].get("sensitive", False),
            stage=data["then"].get("stage"), description=data.get("description", "")))
    return tuple(sorted(compiled, key=lambda r: (-r.priority, r.order)))


def _ids_in(data: Any) -> Iterator[str]:
    """Every ``id:`` text in raw data, however malformed around it."""
    if isinstance(data, dict):
        if isinstance(data.get("id"), str):
            yield data["id"]
        for value in data.values():
            yield from _ids_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from _ids_in(item)


def _items(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or ())


class _Targets:
    """Resolves one rule's ``then`` against the slots."""

    def __init__(self, part: Part, slots: dict[str, Slot], merged: Merged,
                 problems: list[RuleError]) -> None:
        self.part, self.slots, self.problems, self.merged = part, slots, problems, merged
        # ids written in slots that have errors: a reference to one is not "unknown"
        self.unsure = {i for name, p in merged.keyed["slots"].items()
                       if merged.is_broken("slots", name) for i in _ids_in(p.data)}
        self.quiet = merged.is_broken("slots", "\0")  # the whole section is unreadable
        self.owner = {vid: s.name for s in slots.values() for vid in s.variants}

    def _error(self, sub: tuple[str | int, ...], message: str, *,
               severity: str = "error") -> None:
        path = ("then", *sub)
        self.problems.append(self.part.error(path, f"{dotted((*self.part.path, *path))}: "
                                             f"{message}", severity=severity))

    def effects(self, then: dict[str, Any]) -> dict[str, Effect]:
        named = _items(then.get("slot")) or _items(then.get("slots"))
        where = "slot" if "slot" in then else "slots"
        for i, slot in enumerate(named):
            if slot not in self.slots and not self.merged.is_broken("slots", slot):
                self._error((where,) if where == "slot" else (where, i),
                            f"unknown slot {slot!r}{did_you_mean(slot, self.slots)}")
        named = [s for s in named if s in self.slots]
        show = then.get("show")
        if show is not None and len(named) > 1:
            self._error(("slots",), "show pins one variant, so give a single slot")
        if show is not None and not self._known(show, ("show",), named):
            show = None
        lists = {k: list(self._resolve(k, then, named)) for k in ("allow", "exclude")}
        ids = [show] if show else []
        ids += [vid for items in lists.values() for vid, _ in items if vid is not None]
        globs = [(k, g) for k, items in lists.items() for _, g in items if g is not None]
        acting = named or list(dict.fromkeys(self.owner[v] for v in ids))
        if not acting and globs:
            acting = list(self.slots)
        out = {}
        for name in acting:
            effect = self._effect(self.slots[name], show, lists)
            if effect != Effect():
                out[name] = effect
        for key, glob in globs:
            if not any(self._tagged(self.slots[s], glob) for s in acting):
                tags = {t for s in acting for v in self.slots[s].variants.values()
                        for t in v.tags}
                where = f" of slot {' or '.join(map(repr, named))}" if named else ""
                self._error((key,), f"tag:{glob} matches no variant{where}"
                            f"{did_you_mean(glob, tags)}", severity="warning")
        return out

    def _resolve(self, key: str, then: dict[str, Any],
                 named: list[str]) -> Iterator[tuple[str | None, str | None]]:
        """``(id, None)`` or ``(None, glob)`` for each known item of allow/exclude."""
        raw = then.get(key)
        for i, item in enumerate(_items(raw)):
            sub = (key,) if isinstance(raw, str) else (key, i)
            if item.startswith("tag:"):
                yield None, item[4:]
            elif self._known(item, sub, named):
                yield item, None

    def _known(self, vid: str, sub: tuple[str | int, ...], named: list[str]) -> bool:
        if vid not in self.owner:
            if not self.quiet and vid not in self.unsure:
                pool = [v for v, s in self.owner.items() if not named or s in named]
                self._error(sub, f"unknown variant {vid!r}{did_you_mean(vid, pool)}")
            return False
        if named and self.owner[vid] not in named:
            self._error(sub, f"{vid!r} is a variant of slot {self.owner[vid]!r}, not of "
                        f"{' or '.join(repr(n) for n in named)}")
            return False
        return True

    @staticmethod
    def _tagged(slot: Slot, glob: str) -> set[str]:
        return {v.id for v in slot.variants.values()
                if any(fnmatchcase(tag, glob) for tag in v.tags)}

    def _effect(self, slot: Slot, show: str | None,
                lists: dict[str, list[tuple[str | None, str | None]]]) -> Effect:
        chosen: dict[str, set[str] | None] = {}
        for key, items in lists.items():
            if not items:
                chosen[key] = None
                continue
            picked = {i for i, _ in items if i is not None and i in slot.variants}
            for _, glob in items:
                if glob is not None:
                    tagged = self._tagged(slot, glob)
                    # tags never take the default out; only its id does
                    picked |= tagged - {slot.default} if key == "exclude" else tagged
            chosen[key] = picked
        allow = chosen["allow"]
        return Effect(
            allow=None if allow is None else frozenset(allow | {slot.default}),
            exclude=frozenset(chosen["exclude"] or ()),
            show=show if show is not None and show in slot.variants else None,
        )
