"""Golden messages: `personalize check` on each broken rules directory under broken/.

Each ``broken/<case>/`` holds rule files with mistakes marketers make and an
``expected.txt`` with exactly what ``check`` prints and its exit status. After
a deliberate change of wording, regenerate them with
``UPDATE_GOLDEN=1 pytest tests/rules/test_broken_rules.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from personalize.rules.cli import check_command

HERE = Path(__file__).parent
CASES = sorted(p.name for p in (HERE / "broken").iterdir() if p.is_dir())


def _check(case: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(HERE)
    result = CliRunner().invoke(check_command, [f"broken/{case}"])
    output = re.sub(r"loaded \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "loaded <time>", result.output)
    return f"{output}exit: {result.exit_code}\n"


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_golden_messages(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    golden = HERE / "broken" / case / "expected.txt"
    got = _check(case, monkeypatch)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(got, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")


def test_every_case_names_file_line_and_column(monkeypatch: pytest.MonkeyPatch) -> None:
    for case in CASES:
        lines = _check(case, monkeypatch).splitlines()[:-2]
        assert lines, case
        for line in lines:
            assert re.match(rf"broken/{case}/[\w.-]+\.yaml:\d+:\d+: (error|warning): ", line), line


def test_the_cases_cover_the_issue() -> None:
    wanted = {"bad-yaml", "wrong-types", "unknown-field", "typos", "conflicting-pins",
              "bad-regex"}
    assert wanted <= set(CASES)
