"""``personalize check`` and ``personalize schema``: the rule editor's tools.

::

    $ personalize check rules/
    rules/20-rules.yaml:14:11: error: rules[2].when: unknown context field 'device.typ';
    did you mean 'device.type'?
    rules/: 1 error, 0 warnings in 1 file — rejected

(the first message is one line; it is wrapped here.)

    $ personalize schema -o rules/personalize.schema.json

``check`` prints one ``file:line:col: severity: message`` line per problem, the
form editors and CI annotate, then a one-line summary; it exits 0 when the
rules are valid (1 with ``--strict`` if there are warnings) and 1 when not.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ..exceptions import RuleError, RuleSetError
from .loader import load_rules
from .schema import SCHEMA


def _line(problem: RuleError) -> str:
    return f"{problem.file}:{problem.line}:{problem.column}: {problem.severity}: {problem.message}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command("check")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
def check_command(directory: Path, strict: bool) -> None:
    """Check the rule files in DIRECTORY: syntax, schema, references, conflicts."""
    try:
        rules = load_rules(directory)
    except RuleSetError as err:
        for problem in err.problems:
            click.echo(_line(problem))
        errors = sum(p.severity == "error" for p in err.problems)
        files = len({p.file for p in err.problems})
        click.echo(f"{directory}/: {_count(errors, 'error')}, "
                   f"{_count(len(err.problems) - errors, 'warning')} in "
                   f"{_count(files, 'file')} — rejected")
        raise SystemExit(1) from None
    for warning in rules.warnings:
        click.echo(_line(warning))
    loaded = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rules.loaded_at))
    click.echo(f"{directory}/: valid — version {rules.version} loaded {loaded}: "
               f"{_count(len(rules.files), 'file')}, {_count(len(rules.slots), 'slot')}, "
               f"{_count(len(rules.rules), 'rule')}, {_count(len(rules.segments), 'segment')}, "
               f"{_count(len(rules.warnings), 'warning')}")
    raise SystemExit(1 if strict and rules.warnings else 0)


@click.command("schema")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema to this file instead of standard output.")
def schema_command(output: Path | None) -> None:
    """Write the JSON Schema of rule files, for editors' YAML language servers."""
    text = json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
