"""``personalize evaluate``: what would other policies have earned on the logged traffic?

::

    $ personalize evaluate --store sqlite:///var/personalize.db --rules rules/
    slot promo: 48,210 logged decisions (12 skipped), mean reward 0.412; bandit: stored
      policy    IPS                     SNIPS                   DR
      default   0.281 [0.262, 0.301]    0.283 [0.264, 0.302]    0.285 [0.271, 0.299]
      …

The log is read from the store and joined by the learner's rule
(:mod:`personalize.logjoin`): only events within ``--reward-window`` seconds
of their exposure count. Each exposure's reward is the slot's objective
applied to its signals (:func:`personalize.rewards.reward`, in the objective's
own units).

The candidate policies, and how each treats pins and guardrails, are those of
:mod:`personalize.policy.counterfactuals` (shared with the review dashboard),
scored per slot with IPS, SNIPS and doubly robust estimates and
percentile-bootstrap intervals (:func:`personalize.policy.evaluation.evaluate`):
``default`` (always the slot's default), ``uniform`` (a fair draw among the
eligible variants), ``rules`` (a rule's pin where one decided, else the
default) and ``bandit`` — the model as the store holds it (the additive
statistics under ``model:{slot}:{arm}``), or with ``--bandit refit`` a fresh
LinUCB fitted on the logged bandit decisions' bounded rewards, as the learner
would. An A/B split slot with configured weights gets a ``split`` row (those
weights over the eligible variants) instead of ``bandit``. A bandit or split
never overrides a rule's pin, so those policies keep pins too; ``default`` and
``uniform`` ignore them. Decisions a guardrail forced (holdout, stickiness, …)
keep their logged variant under every policy: guardrails bind whatever policy
runs. Where the logging was deterministic (a pin, propensity 1) a policy that
would show something else has no support and IPS counts those rows as earning
nothing; DR's reward model fills them in.

The bandit is scored on traffic it partly learned from, so its estimate is
optimistic. Exit codes: 0 done; 1 no usable log, unusable rules or a store
failure; 2 a usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from ..exceptions import ConfigError, RuleSetError, StoreError
from ..logjoin import LoggedExposure, join
from ..rewards import bounded_reward
from ..rules import RuleSet, Slot, load_rules
from ..store.cli import open_store
from . import counterfactuals
from .evaluation import Estimate
from .features import Featurizer
from .linucb import LinUCB

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["evaluate_command"]

METHODS = counterfactuals.METHODS


def evaluate_slot(rows: Sequence[LoggedExposure], slot: Slot, bandit: LinUCB | None, *,
                  featurizer: Featurizer, n_bootstrap: int, seed: int) -> dict[str, Any]:
    """The candidate policies' estimates for one slot, as ``--json`` prints them.

    The policies and their semantics are :mod:`personalize.policy.counterfactuals`'; this
    only turns its :class:`~personalize.policy.counterfactuals.Evaluation` into JSON.

    :param rows: the slot's joined exposures, their rewards computed by the join.
    :param bandit: the slot's current model; ``None`` leaves the bandit out.
    """
    evaluation = counterfactuals.evaluate_slot(
        rows, slot, featurizer.transform_one, bandit, methods=METHODS, n_bootstrap=n_bootstrap,
        random_state=seed)
    result: dict[str, Any] = {"rows": evaluation.rows, "skipped": evaluation.skipped,
                              "logged_mean_reward": evaluation.logged_mean}
    if evaluation.problem is not None:
        result["problem"] = evaluation.problem
        return result
    result["policies"] = {p.name: {m: _estimate(e) for m, e in p.estimates.items()}
                          for p in evaluation.policies}
    return result


def _estimate(e: Estimate) -> dict[str, float]:
    return {"value": e.value, "low": e.low, "high": e.high, "std_error": e.std_error,
            "effective_size": e.effective_size}


def current_bandit(store: Store, ruleset: RuleSet, slot: Slot, rows: Sequence[LoggedExposure],
                   *, how: str, featurizer: Featurizer, seed: int) -> tuple[LinUCB | None, str]:
    """The slot's bandit from the store's statistics (or refitted on the log), and how.

    :param how: ``stored`` (refit when the store holds no statistics) or ``refit``.
    """
    if slot.policy != "bandit":
        return None, f"none: the slot is an A/B {slot.policy}"
    bounds = ruleset.guardrails.exploration
    policy = LinUCB(floor=bounds.floor, cap=bounds.cap, random_state=seed)
    if how == "stored":
        arms = (store.get_state(f"arms:{slot.name}") or {}).get("arms", [])
        totals = {arm: stats for arm in arms
                  if (stats := store.get_stats(f"model:{slot.name}:{arm}"))}
        if totals:
            try:
                policy.load_totals(totals)
            except ValueError as err:
                raise ConfigError("bandit", f"the stored model of slot {slot.name!r} does not "
                                  f"fit today's features ({err}); use --bandit refit") from err
            seen = sum(int(s.get("n", 0)) for s in totals.values())
            return policy, f"stored statistics ({seen} observations)"
    learned = [r for r in rows if r.source in ("bandit", "split") and r.variant in r.eligible]
    if not learned:
        return None, "none: no stored statistics and no logged bandit decisions to fit"
    policy.fit(featurizer.transform([r.features for r in learned]),
               [r.variant for r in learned],
               [bounded_reward(slot.objective, r.signals) for r in learned])
    prefix = "refit" if how == "refit" else "refit (the store holds no statistics)"
    return policy, f"{prefix} on {len(learned)} logged bandit decisions"


@click.command("evaluate")
@click.option("--store", "store_url", envvar="PERSONALIZE_STORE", required=True, metavar="URL",
              help="Store URL, e.g. sqlite:///var/personalize.db (default: $PERSONALIZE_STORE).")
@click.option("--rules", "rules_dir", envvar="PERSONALIZE_RULES", required=True, metavar="DIR",
              type=click.Path(file_okay=False), help="The rule directory "
              "(default: $PERSONALIZE_RULES).")
@click.option("--bootstrap", "n_bootstrap", default=200, show_default=True,
              type=click.IntRange(1, 100_000), help="Bootstrap resamples for the intervals.")
@click.option("--reward-window", default=1800.0, show_default=True,
              type=click.FloatRange(0.0, min_open=True), metavar="SECONDS",
              help="Events count within this many seconds of their exposure.")
@click.option("--bandit", "how", type=click.Choice(["stored", "refit"]), default="stored",
              show_default=True, help="Score the stored model, or one refitted on the log.")
@click.option("--slot", "slots", multiple=True, help="Only this slot (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Seed of folds and resamples.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_command(store_url: str, rules_dir: str, n_bootstrap: int, reward_window: float,
                     how: str, slots: tuple[str, ...], seed: int, as_json: bool) -> None:
    """Estimate what default, uniform, rules-only and the bandit earn on the logged traffic."""
    try:
        ruleset = load_rules(rules_dir)
    except RuleSetError as err:
        raise click.ClickException(f"the rules in {rules_dir} are not usable:\n{err}") from err
    unknown = sorted(set(slots) - set(ruleset.slots))
    if unknown:
        raise click.BadParameter(f"no slot named {', '.join(map(repr, unknown))}; known slots: "
                                 f"{', '.join(sorted(ruleset.slots))}", param_hint="--slot")
    store = open_store(store_url)
    try:
        records = tqdm(store.read_log(), desc="reading the log", unit=" records",
                       disable=not sys.stderr.isatty())
        joined = join(records, reward_window=reward_window, objectives={
            name: s.objective for name, s in ruleset.slots.items()})
        if not joined.exposures:
            raise click.ClickException(f"no logged exposures in {store_url}: nothing to evaluate")
        featurizer = Featurizer().fit()
        report: dict[str, Any] = {"reward_window": reward_window, "bootstrap": n_bootstrap,
                                  "events": joined.events, "unattributed": joined.unattributed,
                                  "malformed": joined.malformed, "slots": {}}
        for name in slots or sorted(ruleset.slots):
            slot = ruleset.slots[name]
            rows = [e for e in joined.exposures if e.slot == name]
            bandit, model = current_bandit(store, ruleset, slot, rows, how=how,
                                           featurizer=featurizer, seed=seed)
            report["slots"][name] = {"bandit_model": model, **evaluate_slot(
                rows, slot, bandit, featurizer=featurizer, n_bootstrap=n_bootstrap, seed=seed)}
    except (StoreError, ConfigError) as err:
        raise click.ClickException(str(err)) from err
    finally:
        store.close()
    click.echo(json.dumps(report, sort_keys=True) if as_json else as_text(report))


def as_text(report: Mapping[str, Any]) -> str:
    """The report for a terminal: a table of estimates per slot."""
    lines = [f"{report['events']} events joined within {report['reward_window']:g} s "
             f"({report['unattributed']} unattributed, {report['malformed']} malformed); "
             f"{report['bootstrap']} bootstrap resamples, 95 % intervals"]
    for name, data in report["slots"].items():
        mean = data["logged_mean_reward"]
        lines.append(f"slot {name}: {data['rows']} logged decisions ({data['skipped']} "
                     f"skipped), mean reward {'-' if mean is None else f'{mean:.4g}'}; "
                     f"bandit: {data['bandit_model']}")
        if "problem" in data:
            lines.append(f"  no estimate: {data['problem']}")
            continue
        lines.append((f"  {'policy':<8}" + "".join(f"  {m.upper():<28}" for m in METHODS))
                     .rstrip())
        for policy, estimates in data["policies"].items():
            lines.append((f"  {policy:<8}" + "".join(
                f"  {_cell(estimates[m]):<28}" for m in METHODS)).rstrip())
    return "\n".join(lines)


def _cell(e: Mapping[str, float]) -> str:
    return f"{e['value']:.4g} [{e['low']:.4g}, {e['high']:.4g}]"
