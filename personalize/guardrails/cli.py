"""``personalize guardrails``: see what the guardrails do, and pause or resume by hand.

::

    $ personalize guardrails status --store sqlite:///var/personalize.db --rules rules/
    $ personalize guardrails pause promo promo-countdown --reason "fake scarcity" --by anna \\
          --store sqlite:///var/personalize.db --rules rules/
    paused promo-countdown in slot promo (by anna): fake scarcity
    $ personalize guardrails resume promo promo-countdown --by anna --store … --rules rules/
    resumed promo-countdown in slot promo (by anna); it is judged on new evidence from now on

``status`` prints every guardrail's settings in the order they run, the
experience monitor's rates per variant rebuilt from the store's log (the last
14 days, as a worker does when it starts), and every paused variant with its
evidence. It only reads: the rebuilt monitor never pauses anything itself.
Action counts such as "removed" are kept by each serving process, so they are
zero here; the dashboard shows a live process's.

``pause`` and ``resume`` write the same documents the dashboard and the
experience monitor do (``pause:{slot}:{variant}``, ``resumed:{slot}:{variant}``),
and every worker obeys them within its refresh interval (5 s). ``--store`` and
``--rules`` may come from ``PERSONALIZE_STORE`` and ``PERSONALIZE_RULES``.
Exit codes: 0 done; 1 an unknown slot or variant, a variant that cannot be
paused or was not paused, unusable rules, or a store failure; 2 a usage error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..exceptions import RuleSetError, StoreError
from ..rules import RuleSet, load_rules
from ..store.cli import open_store
from . import build_guardrails
from .experience import RECORD_TYPES, ExperienceMonitor

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["as_text", "guardrails_group", "status"]

T = TypeVar("T")

#: how far back ``status`` reads the log, as a worker does when it starts
REPLAY_SECONDS = 14 * 86400.0
COUNTS_SCOPE = ("action counts (removed, kept, held_out, …) are kept by each serving process "
                "and are zero here; the experience monitor's rates are rebuilt from the log")

_STORE = click.option("--store", "store_url", envvar="PERSONALIZE_STORE", required=True,
                      metavar="URL", help="Store URL, e.g. sqlite:///var/personalize.db "
                      "(default: $PERSONALIZE_STORE).")
_RULES = click.option("--rules", "rules_dir", envvar="PERSONALIZE_RULES", required=True,
                      type=click.Path(file_okay=False), metavar="DIR",
                      help="The rule directory (default: $PERSONALIZE_RULES).")


@click.group("guardrails")
def guardrails_group() -> None:
    """See the guardrails' state; pause or resume a variant by hand."""


@guardrails_group.command("status")
@_STORE
@_RULES
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status_command(store_url: str, rules_dir: str, as_json: bool) -> None:
    """Every guardrail's settings, the monitor's rates, and paused variants with evidence."""
    ruleset = _rules(rules_dir)
    data = _with_store(store_url, lambda store: status(ruleset, store, now=time.time()))
    click.echo(json.dumps(data, sort_keys=True, default=str) if as_json else as_text(data))


@guardrails_group.command("pause")
@click.argument("slot")
@click.argument("variant")
@click.option("--reason", required=True, help="Why, in a sentence; reviewers and visitors read it.")
@click.option("--by", "by", required=True, metavar="NAME", help="Who is pausing it.")
@_STORE
@_RULES
def pause_command(slot: str, variant: str, reason: str, by: str, store_url: str,
                  rules_dir: str) -> None:
    """Pause VARIANT of SLOT until a person resumes it."""
    reason, by = " ".join(reason.split()), by.strip()
    if not reason or not by:
        raise click.BadParameter("expected some text, got only spaces",
                                 param_hint="--reason" if not reason else "--by")
    ruleset = _rules(rules_dir)
    _known(ruleset, slot, variant)
    if variant == ruleset.slots[slot].default:
        raise click.ClickException(f"{variant!r} is the default of slot {slot!r} and cannot be "
                                   "paused; change the slot's default in the rule files instead")

    def act(store: Store) -> None:
        monitor = _monitor(ruleset, store)
        current = store.get_state(f"pause:{slot}:{variant}")
        if current is not None:
            raise click.ClickException(f"{variant!r} in slot {slot!r} is already paused "
                                       f"({_pause_line(current)}); resume it first to re-pause")
        monitor.pause(slot, variant, reason, by)

    _with_store(store_url, act)
    click.echo(f"paused {variant} in slot {slot} (by {by}): {reason}")


@guardrails_group.command("resume")
@click.argument("slot")
@click.argument("variant")
@click.option("--by", "by", required=True, metavar="NAME", help="Who is resuming it.")
@_STORE
@_RULES
def resume_command(slot: str, variant: str, by: str, store_url: str, rules_dir: str) -> None:
    """Lift the pause of VARIANT of SLOT; it is then judged on new evidence only."""
    by = by.strip()
    if not by:
        raise click.BadParameter("expected a name, got only spaces", param_hint="--by")
    ruleset = _rules(rules_dir)
    _known(ruleset, slot, variant)
    if not _with_store(store_url, lambda store: _monitor(ruleset, store).resume(slot, variant,
                                                                                 by)):
        raise click.ClickException(f"{variant!r} in slot {slot!r} is not paused; "
                                   "`personalize guardrails status` lists the paused variants")
    click.echo(f"resumed {variant} in slot {slot} (by {by}); it is judged on new evidence "
               "from now on")


def status(ruleset: RuleSet, store: Store, *, now: float) -> dict[str, Any]:
    """The guardrails' state as ``status --json`` prints it.

    ``guardrails`` is a list of ``{"name", "report"}`` in the order they run;
    ``paused`` has every pause with its evidence, oldest first; ``resumed``
    the lifted pauses, newest first.

    :param ruleset: the rules, for the settings, slots and defaults.
    :param store: the shared store, read for pauses, resumes and the log.
    :param now: epoch seconds; the log is read from ``now`` minus 14 days.
    """
    settings = ruleset.guardrails
    reports: dict[str, dict[str, Any]] = {}
    for guardrail in build_guardrails(settings, store, lambda: now, slots=ruleset.slots):
        if isinstance(guardrail, ExperienceMonitor):
            # counts only: a status query must not pause anything itself
            guardrail = ExperienceMonitor(settings.experience_monitor, store,
                                          slots=ruleset.slots, clock=lambda: now,
                                          pausing=False)
            guardrail.replay(store.read_log(since=now - REPLAY_SECONDS, types=RECORD_TYPES))
            report = guardrail.report()
        else:
            report = guardrail.report()
        reports[guardrail.name] = report
    resumed = sorted(store.list_state("resumed:").values(),
                     key=lambda d: -float(d.get("resumed_at", 0.0)))
    paused = reports["experience_monitor"].pop("paused")
    return {"rules_version": ruleset.version,
            "guardrails": [{"name": name, "report": report} for name, report in reports.items()],
            "paused": paused, "resumed": resumed, "counts_scope": COUNTS_SCOPE}


def as_text(data: Mapping[str, Any]) -> str:
    """``status`` for a terminal: one line per guardrail, then pauses with their evidence."""
    lines = [f"rules version {data['rules_version']}", "guardrails, in the order they run:"]
    reports: dict[str, Mapping[str, Any]] = {g["name"]: g["report"] for g in data["guardrails"]}
    width = max(len(name) for name in reports)
    for name, report in reports.items():
        shown = {k: v for k, v in report.items() if k not in ("rates", "test")}
        lines.append(f"  {name:<{width}}  " + ", ".join(
            f"{k} {json.dumps(v, default=str)}" for k, v in shown.items()))
    rates = reports.get("experience_monitor", {}).get("rates", {})
    if rates:
        lines.append("experience monitor, rates per variant over the last 14 days:")
        for pair, row in rates.items():
            lines.append(f"  {pair}  " + ", ".join(
                f"{k} {v}" if k == "exposures" else f"{k} {_percent(v)}" for k, v in row.items()))
    lines.append("paused variants:" if data["paused"] else "paused variants: none")
    for doc in data["paused"]:
        lines.append(f"  {doc.get('slot')} / {doc.get('variant')}: {doc.get('reason', '')}")
        lines.append(f"    {_pause_line(doc)}")
        evidence = doc.get("evidence")
        if isinstance(evidence, Mapping):
            lines.append(f"    evidence: {evidence.get('events')} of {evidence.get('exposures')} "
                         f"exposures ({_percent(evidence.get('rate'))}) against "
                         f"{evidence.get('default_events')} of "
                         f"{evidence.get('default_exposures')} for the default "
                         f"({_percent(evidence.get('default_rate'))}); p = "
                         f"{float(evidence.get('p_value', 1.0)):.2g} at alpha "
                         f"{float(evidence.get('alpha', 0.0)):.3g}")
    for doc in data["resumed"][:5]:
        lines.append(f"resumed: {doc.get('slot')} / {doc.get('variant')} by {doc.get('by', '?')} "
                     f"at {_when(doc.get('resumed_at'))}")
    lines.append(f"note: {data['counts_scope']}")
    return "\n".join(lines)


def _pause_line(doc: Mapping[str, Any]) -> str:
    how = "automatically" if doc.get("auto") else "by hand"
    review = "; needs review" if doc.get("needs_review") else ""
    return f"paused {how} by {doc.get('by', '?')} at {_when(doc.get('paused_at'))}{review}"


def _when(ts: object) -> str:
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return "an unknown time"
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _percent(value: object) -> str:
    return f"{float(value):.2%}" if isinstance(value, int | float) else "-"


def _rules(rules_dir: str) -> RuleSet:
    try:
        return load_rules(rules_dir)
    except RuleSetError as err:
        raise click.ClickException(f"the rules in {rules_dir} are not usable; "
                                   f"`personalize check {rules_dir}` lists why:\n{err}") from err


def _known(ruleset: RuleSet, slot: str, variant: str) -> None:
    found = ruleset.slots.get(slot)
    if found is None:
        raise click.ClickException(f"no slot named {slot!r} in the rules; known slots: "
                                   f"{', '.join(sorted(ruleset.slots)) or 'none'}")
    if variant not in found.variants:
        raise click.ClickException(f"slot {slot!r} has no variant {variant!r}; its variants: "
                                   f"{', '.join(found.variants)}")


def _monitor(ruleset: RuleSet, store: Store) -> ExperienceMonitor:
    return ExperienceMonitor(ruleset.guardrails.experience_monitor, store, slots=ruleset.slots)


def _with_store(store_url: str, act: Callable[[Store], T]) -> T:
    """Run ``act`` on the opened store, close it, and turn a store failure into exit 1."""
    store = open_store(store_url)
    try:
        result = act(store)
    except StoreError as err:
        raise click.ClickException(f"the store failed: {err}") from err
    finally:
        try:
            store.close()
        except StoreError as err:
            click.echo(f"warning: could not close the store cleanly: {err}", err=True)
    return result
