"""The ``personalize`` command: check, schema, explain, and the operator tools."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

import click

from .context.site import SiteSettings

#: subcommands defined in other modules, imported only when used so that
#: `personalize check` starts without numpy and scikit-learn
LAZY_COMMANDS: dict[str, str] = {
    "check": "personalize.rules.cli:check_command",
    "schema": "personalize.rules.cli:schema_command",
    "evaluate": "personalize.policy.cli:evaluate_command",
    "guardrails": "personalize.guardrails.cli:guardrails_group",
    "simulate": "personalize.simulation.cli:simulate_command",
    "report": "personalize.web.review.cli:report_command",
    "purge": "personalize.store.cli:purge_command",
    "forget": "personalize.store.cli:forget_command",
}


class LazyGroup(click.Group):
    """A click group whose subcommands live in other modules."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = target.split(":")
        command: click.Command = getattr(import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="personalize")
def main() -> None:
    """Server-side website personalization with human-centred guardrails."""


def _parse_at(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO-8601 time like 2026-11-23T21:30:00+02:00, "
                                 f"got {value!r}", param_hint="--at") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _parse_headers(values: tuple[str, ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t"):
            raise click.BadParameter(f"expected 'Name: value', got {item!r}",
                                     param_hint="--header")
        headers[name.strip()] = value.strip()
    return headers


@main.command()
@click.option("--ua", "user_agent", default="", help="User-Agent string.")
@click.option("--referrer", default=None, help="Referer URL.")
@click.option("--url", default="http://localhost/", show_default=True, help="Request URL.")
@click.option("--at", "at", default=None, help="Request time, ISO-8601 (default: now).")
@click.option("--tz", default=None, help="Visitor's IANA time zone (as the beacon's cookie).")
@click.option("--header", "headers", multiple=True, help="Extra header 'Name: value'.")
@click.option("--rules", "rules_dir", default=None,
              type=click.Path(exists=True, file_okay=False),
              help="Rule directory: adds each slot's decision.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def explain(user_agent: str, referrer: str | None, url: str, at: str | None, tz: str | None,
            headers: tuple[str, ...], rules_dir: str | None, as_json: bool) -> None:
    """Show the context (and decisions) a request like this would get."""
    from werkzeug.test import EnvironBuilder

    from .context.builder import TIMEZONE_COOKIE, ContextBuilder
    from .context.time import valid_timezone
    from .store.memory import MemoryStore

    when = _parse_at(at)
    extra = _parse_headers(headers)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"expected an absolute http(s) URL, got {url!r}",
                                 param_hint="--url")
    if tz is not None and not valid_timezone(tz):
        raise click.BadParameter(f"expected an IANA time zone like Europe/Helsinki, got {tz!r}",
                                 param_hint="--tz")
    environ_headers = {"User-Agent": user_agent, **extra}
    if referrer:
        environ_headers["Referer"] = referrer
    if tz:
        cookie = extra.get("Cookie", "")
        environ_headers["Cookie"] = f"{cookie}; {TIMEZONE_COOKIE}={tz}".lstrip("; ")
    environ = EnvironBuilder(path=parts.path or "/", base_url=f"{parts.scheme}://{parts.netloc}",
                             query_string=parts.query,
                             headers=list(environ_headers.items())).get_environ()
    clock = (lambda: when) if when is not None else None
    result: dict[str, Any]
    if rules_dir is None:
        builder = ContextBuilder(store=MemoryStore(), secret="explain-only-secret-key",
                                 **({"clock": clock} if clock else {}))
        context = builder.build(environ, SiteSettings()).context
        result = {"context": context.to_dict()}
    else:
        result = _explain_with_rules(rules_dir, environ, clock)
    if as_json:
        click.echo(json.dumps(result, default=str, sort_keys=True))
    else:
        click.echo(_readable(result))


def _explain_with_rules(rules_dir: str, environ: dict[str, Any], clock: Any) -> dict[str, Any]:
    from .engine import Personalizer
    from .exceptions import RuleSetError
    from .store.memory import MemoryStore

    try:
        engine = Personalizer(rules=rules_dir, store=MemoryStore(),
                              secret="explain-only-secret-key", renderer=_describe_variant,
                              background_sync=False, **({"clock": clock} if clock else {}))
        ruleset = engine.ruleset
    except RuleSetError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    visit = engine.visit(environ)
    decisions = {}
    for name in ruleset.slots:
        outcome = ruleset.evaluate(visit.context, name, explain=True)
        decision = engine.decide(visit.context, name)
        decisions[name] = {**outcome.to_dict(), "rules_variant": outcome.pinned
                           or ruleset.slots[name].default, "decision": decision.to_dict()}
    return {"context": visit.context.to_dict(), "decisions": decisions,
            "rules_version": ruleset.version}


def _describe_variant(variant: Any) -> str:
    """What a variant the host app renders would show, for explanations."""
    return f"[template: {variant.template}]" if variant.template else f"[key: {variant.key}]"


def _readable(result: dict[str, Any]) -> str:
    lines = []
    for part, values in result["context"].items():
        if isinstance(values, dict):
            lines.append(f"{part}:")
            lines.extend(f"  {key:<24} {value}" for key, value in values.items())
        else:
            lines.append(f"{part}: {values}")
    for slot, info in result.get("decisions", {}).items():
        decision = info["decision"]
        lines.append(f"slot {slot}: {decision['variant']} ({decision['source']}, "
                     f"p={decision['propensity']})")
        lines.extend(f"  - {reason['text']}" for reason in decision["reasons"])
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
