"""``personalize explain``: the context (and decisions) a request would get."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from personalize.cli import main

ROOT = Path(__file__).resolve().parent.parent.parent
PIXEL = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36")
REQUIRED = ["device.type", "device.os", "device.browser", "time.daypart", "time.weekday",
            "referrer.kind", "referrer.source", "history.visits", "consent.tracking",
            "request.path", "request.language"]


def explain(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["explain", *args])
    return result.exit_code, result.output


def test_json_has_every_documented_field() -> None:
    code, output = explain("--ua", PIXEL, "--referrer", "https://www.google.fi/search?q=kahvi",
                           "--url", "https://shop.example/products/aamu?utm_medium=email",
                           "--at", "2026-11-23T21:30:00+02:00", "--tz", "Europe/Helsinki",
                           "--header", "Accept-Language: fi-FI,fi;q=0.9", "--json")
    assert code == 0
    context = json.loads(output.strip().splitlines()[-1])["context"]
    for name in REQUIRED:
        part, key = name.split(".")
        assert key in context[part], name
    assert context["device"]["type"] == "mobile"
    assert (context["time"]["daypart"], context["time"]["weekday"]) == ("evening", "mon")
    assert context["referrer"]["kind"] == "email"  # utm_medium beats the referrer
    assert context["request"] == {**context["request"], "path": "/products/aamu",
                                  "language": "en"}  # the site default speaks only en


def test_do_not_track_turns_tracking_off() -> None:
    code, output = explain("--ua", PIXEL, "--header", "DNT: 1", "--json")
    consent = json.loads(output)["context"]["consent"]
    assert code == 0 and consent == {"tracking": False, "reason": "dnt"}


def test_readable_output_by_default() -> None:
    code, output = explain("--ua", "curl/8.5.0")
    assert code == 0 and "device:" in output and "bot" in output


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--at", "yesterday"], id="bad-time"),
        pytest.param(["--tz", "Mars/Olympus"], id="bad-zone"),
        pytest.param(["--url", "not a url"], id="bad-url"),
        pytest.param(["--header", "no colon here"], id="bad-header"),
        pytest.param(["--rules", "/nonexistent/rules"], id="missing-rules"),
    ],
)
def test_bad_arguments_get_a_one_line_error_and_exit_2(args: list[str]) -> None:
    code, output = explain(*args)
    assert code == 2
    assert "Error" in output and "Traceback" not in output


def test_with_rules_it_adds_each_slots_decision() -> None:
    code, output = explain("--ua", PIXEL, "--at", "2026-11-23T23:30:00+02:00",
                           "--header", "Cookie: paahtimo_consent=yes",
                           "--rules", str(ROOT / "rules"), "--json")
    assert code == 0
    result = json.loads(output)
    hero = result["decisions"]["hero"]
    assert {"eligible", "matched", "not_matched", "rules_variant", "decision"} <= set(hero)
    assert hero["decision"]["reasons"], "every decision explains itself"
    assert set(result["decisions"]) == {"hero", "greeting", "promo", "cta", "help", "closing"}


def test_every_command_is_listed_and_loads() -> None:
    from personalize.cli import LAZY_COMMANDS

    runner = CliRunner()
    listing = runner.invoke(main, ["--help"]).output
    for name in LAZY_COMMANDS:
        assert name in listing
        assert runner.invoke(main, [name, "--help"]).exit_code == 0, name
