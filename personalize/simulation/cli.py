"""``personalize simulate``: run synthetic visitors through the demo shop or any app.

::

    personalize simulate --visitors 3000 --days 3
    personalize simulate --visitors 500 --scenario bargains --store sqlite:///var/sim.db
    personalize simulate --visitors 200 --app myshop.app:create_app --rules rules/

The app factory is called with a config dict of ``PERSONALIZE_*`` keys (store,
clock, random state, rules) and must return a WSGI app wrapped by personalize.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

import click

from ..exceptions import PersonalizeError
from .scenarios import SCENARIOS

DEFAULT_APP = "demo_site.app:create_app"


def load_factory(target: str | None) -> Callable[[dict[str, Any]], Any]:
    """The app factory ``module:function`` names (the demo shop's by default).

    :raises click.UsageError: it cannot be imported, with what to do instead.
    """
    name = target or DEFAULT_APP
    if os.getcwd() not in sys.path:
        # as `flask --app` does: the app lives in the directory the command runs in
        sys.path.insert(0, os.getcwd())
    module_name, sep, attribute = name.partition(":")
    if not sep or not module_name or not attribute:
        raise click.BadParameter(f"expected module:factory, got {name!r}", param_hint="--app")
    try:
        module = import_module(module_name)
    except ImportError as err:
        hint = ("the demo shop is not importable here: run from the repository root "
                "(where demo_site/ is), or pass --app module:factory") if target is None \
            else f"cannot import {module_name!r}: {err}"
        raise click.UsageError(hint) from err
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise click.UsageError(f"{module_name!r} has no callable {attribute!r}")
    return factory  # type: ignore[no-any-return]


@click.command("simulate")
@click.option("--visitors", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Synthetic visitors (each makes one or more visits).")
@click.option("--store", default="memory://", show_default=True,
              help="Store URL; e.g. sqlite:///var/personalize.db to seed the demo.")
@click.option("--rules", "rules_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Rule directory (default: the app's own).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=3.0,
              show_default=True, help="Simulated days the visits are spread over.")
@click.option("--scenario", type=click.Choice(sorted(SCENARIOS)), default="shop",
              show_default=True, help="Which population visits.")
@click.option("--app", "app_target", default=None,
              help=f"App factory as module:function (default {DEFAULT_APP}).")
@click.option("--sync-every", type=click.FloatRange(min=1), default=120.0, show_default=True,
              help="Simulated seconds between engine syncs.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar (default: only on a terminal).")
def simulate_command(visitors: int, store: str, rules_dir: str | None, seed: int, days: float,
                     scenario: str, app_target: str | None, sync_every: float,
                     progress: bool | None) -> None:
    """Simulate visitors browsing a personalized site, and summarize what happened."""
    from . import simulate

    factory = load_factory(app_target)
    try:
        summary = simulate(factory, visitors=visitors, days=days, store=store, rules=rules_dir,
                           seed=seed, scenario=scenario, sync_every=sync_every,
                           progress=progress)
    except PersonalizeError as err:
        raise click.ClickException(str(err)) from err
    click.echo(summary.text())
