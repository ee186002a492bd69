"""``personalize report``: the dashboard's overview in a terminal, or as JSON.

::

    personalize report --store sqlite:///var/personalize.db --rules rules/
    personalize report --store redis://localhost:6379/0 --rules rules/ --days 30 --json

It only reads: the log, the paused variants and the bandits' merged statistics.
Nothing is appended, paused or learned, so it is safe against a live store.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import click

from ...engine import Personalizer
from ...exceptions import PersonalizeError
from ...logjoin import join
from ...policy.counterfactuals import Evaluation, evaluate_slot
from .overview import as_text, overview

__all__ = ["report_command"]


@click.command("report")
@click.option("--store", "store_url", required=True, metavar="URL",
              help="The store the site writes to: sqlite:///path.db, redis://host:port/db.")
@click.option("--rules", "rules_dir", required=True,
              type=click.Path(exists=True, file_okay=False), help="The rule directory.")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 3650),
              help="How many days back to report.")
@click.option("--evaluate/--no-evaluate", default=True, show_default=True,
              help="Include the offline evaluation of each slot's policies.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def report_command(store_url: str, rules_dir: str, days: int, evaluate: bool,
                   as_json: bool) -> None:
    """Print every slot's traffic, rewards, holdout lift, split tests and evaluation."""
    try:
        # the secret signs nothing here: the report reads, it never issues ids
        engine = Personalizer(rules=rules_dir, store=store_url, secret=secrets.token_hex(32),
                              background_sync=False)
    except PersonalizeError as err:
        raise click.ClickException(str(err)) from err
    try:
        data = _overview(engine, days, evaluate)
    except PersonalizeError as err:
        raise click.ClickException(str(err)) from err
    finally:
        engine.store.close()
    click.echo(json.dumps(data, indent=2) if as_json else as_text(data), nl=as_json)


def _overview(engine: Personalizer, days: int, evaluate: bool) -> dict[str, Any]:
    ruleset = engine.ruleset
    end = time.time()
    start = end - days * 86400.0
    joined = join(engine.store.read_log(since=start), reward_window=engine.learner.reward_window,
                  objectives={name: s.objective for name, s in ruleset.slots.items()})
    evaluations: dict[str, Evaluation] | None = None
    if evaluate:
        for name, slot in ruleset.slots.items():
            if slot.policy == "bandit":
                engine.learner.policy(name)
        engine.learner.push_and_refresh()  # loads the merged statistics; no deltas to push
        evaluations = {
            name: evaluate_slot(joined.exposures, slot, engine.featurizer.transform_one,
                                engine.learner.policies.get(name))
            for name, slot in ruleset.slots.items()}
    paused = list(engine.store.list_state("pause:").values())
    return overview(joined, ruleset.slots, start=start, end=end, paused=paused,
                    evaluations=evaluations, rules_version=ruleset.version)
