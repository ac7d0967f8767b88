"""The advisor: every rule fires on a model that breaks it and stays quiet on one that does not."""

from __future__ import annotations

import json
from pathlib import Path

import advice_models as models
import pytest
from commandline import run

from mongoshard import advise, spec_for


def _rules(model, records=()) -> set[tuple[str, str]]:
    return {(f.severity, f.rule) for f in advise([spec_for(model)], records)}


@pytest.mark.parametrize("rule, failing, passing", [
    ("monotonic-key", models.ReadingByTime, models.ReadingBySensor),
    ("monotonic-key", models.EventById, models.EventByHashedId),
    ("monotonic-key", models.OrderBySequence, models.ReadingBySensor),
    ("low-cardinality", models.AccountByFlag, models.ReadingBySensor),
    ("low-cardinality", models.TradeByRegion, models.TradeByRegionAndId),
    ("unenforceable-unique", models.UserWithUniqueEmail, models.UserWithKeyedUniqueEmail),
])
def test_each_model_rule_fires_on_the_failing_model_only(rule, failing, passing) -> None:
    assert ("error", rule) in _rules(failing)
    assert ("error", rule) not in _rules(passing)


def test_monotonic_finding_explains_and_fixes() -> None:
    (finding,) = advise([spec_for(models.ReadingByTime)])
    assert "every insert lands in the chunk that ends at MaxKey" in finding.message and "a date" in finding.message
    assert "hashed=True" in finding.fix and "key=('sensor_id', 'taken_at')" in finding.fix


def test_unique_finding_names_the_index_and_the_key() -> None:
    (finding,) = [f for f in advise([spec_for(models.UserWithUniqueEmail)]) if f.rule == "unenforceable-unique"]
    assert "(email)" in finding.message and "(user_id)" in finding.message


def _records(namespace: str, shapes: list[dict]) -> list[dict]:
    return [{"namespace": namespace, "operation": "find", "shape": shape} for shape in shapes]


def test_frequent_queries_without_the_key() -> None:
    namespace = spec_for(models.UserWithUniqueEmail).namespace
    scattered = _records(namespace, [{"user_id": "?int"}] * 6 + [{"email": "?str"}] * 4)
    targeted = _records(namespace, [{"user_id": "?int"}] * 19 + [{"email": "?str"}])
    findings = [f for f in advise([spec_for(models.UserWithUniqueEmail)], scattered) if f.rule == "scatter-gather-queries"]
    assert len(findings) == 1 and findings[0].message.startswith("40% of the 10 audited queries")
    assert ("warning", "scatter-gather-queries") not in _rules(models.UserWithUniqueEmail, targeted)


def test_range_queries_on_a_hashed_key() -> None:
    namespace = spec_for(models.UserWithUniqueEmail).namespace
    ranged = _records(namespace, [{"user_id": {"$gte": "?int", "$lt": "?int"}}] + [{"user_id": "?int"}] * 9)
    assert ("warning", "hashed-range-queries") in _rules(models.UserWithUniqueEmail, ranged)
    assert ("warning", "hashed-range-queries") not in _rules(models.UserWithUniqueEmail, _records(namespace, [{"user_id": "?int"}]))


def test_cli_exit_codes_and_json() -> None:
    result = run("advise", "advice_models", "--json", cwd=Path(__file__).parent)
    assert result.returncode == 1, result.stderr
    rules = {(f["model"], f["rule"]) for f in json.loads(result.stdout)}
    assert ("ReadingByTime", "monotonic-key") in rules and ("AccountByFlag", "low-cardinality") in rules
    assert ("ReadingBySensor", "monotonic-key") not in rules
    clean = run("advise", "examples.pokemon_storage.models")
    assert clean.returncode == 0 and "No findings" in clean.stdout

