"""``personalize evaluate``: estimates on a synthetic log with known values.

The synthetic log is a balanced design: two kinds of visitor (phone, desktop)
alternate, and the logged policy cycles through the three variants, logging
propensity 1/3. Every (visitor, variant) pair earns a fixed reward, so each
policy's true value is known exactly, and IPS and SNIPS (whose weights are
then exactly balanced) must reproduce it to rounding; DR's interval must
cover it. The log join it reads through is tested in ``tests/logjoin``.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from personalize.policy import LinUCB
from personalize.policy.cli import evaluate_command
from personalize.policy.features import Featurizer
from personalize.rewards import bounded_reward
from personalize.store import make_store
from personalize.store.base import Store

T0 = 1_780_000_000.0
ARMS = ("a", "b", "c")
OBJECTIVE = {"click": 1.0, "conversion": 2.0, "complaint": -2.0}
#: (visitor kind, variant) → the events it earns; rewards under OBJECTIVE in the comment
EARNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("mobile", "a"): ("click",),                # 1
    ("mobile", "b"): ("click", "conversion"),   # 3
    ("mobile", "c"): (),                        # 0
    ("desktop", "a"): ("click",),               # 1
    ("desktop", "b"): ("complaint",),           # -2
    ("desktop", "c"): ("conversion",),          # 2
}
RULES = """
site: {timezone: UTC, consent_required: false}
slots:
  promo:
    default: a
    variants:
      - {id: a, tags: [calm], html: "<p>a</p>"}
      - {id: b, tags: [promo], html: "<p>b</p>"}
      - {id: c, tags: [calm], html: "<p>c</p>"}
objectives:
  promo: {click: 1, conversion: 2, complaint: -2}
guardrails:
  exploration: {floor: 0, cap: 1}
"""


def features(kind: str) -> dict[str, Any]:
    """Logged context features, as ``Context.features`` makes them."""
    return {"device": kind, "os": "iOS" if kind == "mobile" else "Windows",
            "daypart": "evening", "weekend": "no", "business_hours": "no",
            "referrer": "search" if kind == "mobile" else "direct", "returning": "no",
            "section": "shop", "language": "en", "hour_sin": 0.2, "hour_cos": 0.9,
            "visits": 0.18, "visit_pageviews": 0.18, "conversions": 0.0, "recent_buyer": 0.0}


def exposure(i: int, variant: str, kind: str, *, source: str = "bandit",
             propensity: float = 1 / 3, ts: float | None = None,
             visitor: str | None = None) -> dict[str, Any]:
    return {"ts": T0 + i if ts is None else ts, "type": "exposure",
            "visitor": visitor or f"{i:032x}", "decision": f"d{i}", "slot": "promo",
            "variant": variant, "source": source, "propensity": propensity,
            "eligible": list(ARMS), "features": features(kind), "tags": [], "reasons": []}


def event(i: int, kind: str, *, at: float, decision: str | None = None,
          visitor: str | None = None, slot: str = "promo",
          amount: float = 1.0) -> dict[str, Any]:
    """An event record as ``PersonalizeWeb.record`` (or a server-side report) logs it."""
    kinds = {"click": ("click", 1.0), "conversion": ("conversion", amount),
             "complaint": ("complaint", 1.0)}
    value = kinds[kind][1]
    return {"ts": at, "type": kind, "visitor": visitor or f"{i:032x}", "decision": decision,
            "slot": slot, "variant": None, "value": value, "signal": kind, "amount": value,
            "reason": ""}


def balanced_log(n: int = 600, *, pinned: int = 0) -> Iterator[dict[str, Any]]:
    """``n`` uniform bandit decisions, balanced, then ``pinned`` rule pins of ``b``."""
    for i in range(n + pinned):
        kind = ("mobile", "desktop")[i % 2]
        if i < n:
            variant, record = ARMS[(i // 2) % 3], None
        else:
            variant = "b"
            record = exposure(i, variant, kind, source="rule", propensity=1.0)
        yield record or exposure(i, variant, kind)
        for signal in EARNS[kind, variant]:
            yield event(i, signal, at=T0 + i + 5, decision=f"d{i}")


def true_value(policy: str, n: int = 600, pinned: int = 0) -> float:
    """The exact mean reward of ``policy`` on the visitors of :func:`balanced_log`."""
    def r(kind: str, arm: str) -> float:
        return sum(OBJECTIVE[s] for s in EARNS[kind, arm])
    best = {"mobile": "b", "desktop": "c"}  # what the fitted bandit plays greedily
    total = 0.0
    for i in range(n + pinned):
        kind = ("mobile", "desktop")[i % 2]
        if i >= n and policy in ("rules", "bandit"):
            total += r(kind, "b")  # a rule's pin holds under these two
        elif policy == "uniform":
            total += sum(r(kind, a) for a in ARMS) / 3
        elif policy == "bandit":
            total += r(kind, best[kind])
        else:
            total += r(kind, "a")
    return total / (n + pinned)


def write_rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "rules.yaml").write_text(textwrap.dedent(RULES), encoding="utf-8")
    return directory


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return write_rules(tmp_path)


def store_with(tmp_path: Path, records: Iterator[dict[str, Any]]) -> tuple[str, Store]:
    url = f"sqlite:///{tmp_path}/log.db"
    store = make_store(url)
    store.append(list(records))
    store.flush()
    return url, store


def save_model(store: Store) -> None:
    """Fit LinUCB on the balanced log's rewards and store its statistics as the learner does."""
    featurizer = Featurizer().fit()
    rows = [(kind, arm) for kind in ("mobile", "desktop") for arm in ARMS for _ in range(100)]
    X = featurizer.transform([features(kind) for kind, _ in rows])
    rewards = [bounded_reward(OBJECTIVE, {s: 1.0 for s in EARNS[row]}) for row in rows]
    policy = LinUCB(floor=0.0, cap=1.0).fit(X, [arm for _, arm in rows], rewards)
    for arm, stats in policy.pop_delta().items():
        store.add_stats(f"model:promo:{arm}", stats)
    store.set_state("arms:promo", {"arms": list(ARMS)})


def run(*args: str) -> Any:
    return CliRunner().invoke(evaluate_command, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int, str], dict[str, Any]]:
    """``evaluate --json`` on a balanced log, run once per (pinned rows, bandit source)."""
    done: dict[tuple[int, str], dict[str, Any]] = {}

    def report(pinned: int, how: str) -> dict[str, Any]:
        if (pinned, how) not in done:
            tmp_path = tmp_path_factory.mktemp(f"log-{pinned}-{how}")
            url, store = store_with(tmp_path, balanced_log(pinned=pinned))
            if how == "stored":
                save_model(store)
            store.close()
            result = run("--store", url, "--rules", str(write_rules(tmp_path)),
                         "--bandit", how, "--bootstrap", "200", "--json")
            assert result.exit_code == 0, result.output
            done[pinned, how] = json.loads(result.output)
        return done[pinned, how]
    return report


@pytest.mark.parametrize("how", ["stored", "refit"])
@pytest.mark.parametrize(("pinned", "policy"), [
    pytest.param(0, "default", id="default"),
    pytest.param(0, "uniform", id="uniform"),
    pytest.param(0, "rules", id="rules-without-pins"),
    pytest.param(0, "bandit", id="bandit"),
    pytest.param(300, "rules", id="rules-with-pins"),
    pytest.param(300, "bandit", id="bandit-keeps-pins"),
])
def test_estimates_recover_known_values(reports: Callable[[int, str], dict[str, Any]], how: str,
                                        pinned: int, policy: str) -> None:
    slot = reports(pinned, how)["slots"]["promo"]
    truth = true_value(policy, pinned=pinned)
    assert slot["rows"] == 600 + pinned
    assert slot["bandit_model"].startswith("stored" if how == "stored" else "refit")
    estimates = slot["policies"][policy]
    for method in ("ips", "snips"):
        assert estimates[method]["value"] == pytest.approx(truth, abs=1e-9), method
    assert estimates["dr"]["low"] <= truth <= estimates["dr"]["high"]
    assert estimates["dr"]["value"] == pytest.approx(truth, abs=0.25)


def test_the_logged_mean_and_join_counts_are_reported(tmp_path: Path, rules_dir: Path) -> None:
    late = event(0, "conversion", at=T0 + 5000, decision="d0")  # after the 1,800 s window
    url, store = store_with(tmp_path, iter([*balanced_log(), late]))
    store.close()
    report = json.loads(run("--store", url, "--rules", str(rules_dir), "--json").output)
    assert report["unattributed"] == 1
    assert report["slots"]["promo"]["logged_mean_reward"] == pytest.approx(true_value("uniform"))


def test_text_output_is_a_table_per_slot(tmp_path: Path, rules_dir: Path) -> None:
    url, store = store_with(tmp_path, balanced_log())
    store.close()
    result = run("--store", url, "--rules", str(rules_dir), "--bootstrap", "20")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].startswith("slot promo: 600 logged decisions (0 skipped)")
    assert lines[2].split() == ["policy", "IPS", "SNIPS", "DR"]
    assert [line.split()[0] for line in lines[3:]] == ["default", "uniform", "rules", "bandit"]


@pytest.mark.parametrize(("records", "args", "code", "message"), [
    pytest.param([{"ts": T0, "type": "click", "visitor": "0" * 32, "signal": "click"}], (), 1,
                 "no logged exposures", id="no-exposures"),
    pytest.param(list(balanced_log(10)), (), 0, "at least 20 are needed", id="too-few-rows"),
    pytest.param(list(balanced_log(30)), ("--slot", "hero"), 2, "no slot named 'hero'",
                 id="unknown-slot"),
])
def test_unusable_input_is_refused_with_a_message(tmp_path: Path, rules_dir: Path,
                                                  records: list[dict[str, Any]],
                                                  args: tuple[str, ...], code: int,
                                                  message: str) -> None:
    url, store = store_with(tmp_path, iter(records))
    store.close()
    result = CliRunner().invoke(evaluate_command, ["--store", url, "--rules", str(rules_dir),
                                                   *args])
    assert result.exit_code == code
    assert message in result.output


def test_a_missing_database_file_is_a_usage_error(tmp_path: Path, rules_dir: Path) -> None:
    result = CliRunner().invoke(evaluate_command, ["--store", f"sqlite:///{tmp_path}/none.db",
                                                   "--rules", str(rules_dir)])
    assert result.exit_code == 2
    assert "no database file" in result.output

