"""The contract of every shipped profile: each alert that can fire opens a runbook that runs there.

An on-call engineer pressing ``enter`` on an alert must land on a procedure this
platform can run, and every runbook the console offers must get past planning
on the profile that offers it (no procedure refused by construction).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsconsole.config import RULE_CHECKS, load
from opsconsole.monitor import build_drivers
from opsconsole.monitor.rules import CHECKS, link_runbooks, profile_rules, rules_that_can_fire
from opsconsole.runbooks.engine import RunbookEngine
from opsconsole.runbooks.library import load_library, offered_runbooks
from opsconsole.runbooks.model import Runbook

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = load(ROOT / "profiles.yaml")  # ${VAR:default}s expand at load: tests that set env reload
LIBRARY = load_library(include_user=False)


def sample_value(runbook: Runbook, name: str) -> str:
    """A value an operator could type for a required parameter without a default."""
    param = runbook.param(name)
    assert param is not None
    if param.choices:
        return str(param.choices[0])
    for candidate in ("20260101", "abc1234", "1", "main", "x"):
        if param.pattern is None or re.fullmatch(param.pattern, candidate):
            return candidate
    raise AssertionError(f"{runbook.id}: no sample value for {name} /{param.pattern}/")


@pytest.mark.parametrize("name", SHIPPED.names)
def test_every_alert_that_can_fire_opens_a_runbook_offered_on_the_profile(name: str) -> None:
    profile = SHIPPED.profile(name)
    drivers = build_drivers(profile)
    offered = {r.id: r for r in offered_runbooks(LIBRARY, drivers, name)}
    rules = link_runbooks(rules_that_can_fire(profile_rules(profile, drivers), drivers), offered)
    assert rules, f"{name}: no rule can fire"
    for rule in rules:
        assert rule.runbook in offered, f"{name}: {rule.name} links {rule.runbook}, not offered here"
        assert rule.name in offered[rule.runbook].alerts, f"{name}: {rule.runbook} does not answer {rule.name}"


@pytest.mark.parametrize("name", SHIPPED.names)
def test_every_offered_runbook_passes_its_preflight(name: str) -> None:
    """Offered means plannable: every step's driver and action exist here, whatever the operator types."""
    profile = SHIPPED.profile(name)
    drivers = build_drivers(profile)
    engine = RunbookEngine({d.name: d for d in drivers}, profile=name)
    for runbook in offered_runbooks(LIBRARY, drivers, name):
        params = {p.name: sample_value(runbook, p.name) for p in runbook.params if p.required and p.default is None}
        engine.plan(runbook, params)  # raises PlanError naming the step that cannot run here


def test_the_demo_does_not_offer_the_compose_stacks_destructive_runbooks() -> None:
    demo = SHIPPED.profile("demo")
    offered = {r.id for r in offered_runbooks(LIBRARY, build_drivers(demo), "demo")}
    assert "full-reset" not in offered and "platform-stop-remove-volumes" not in offered
    assert {"demo-compaction", "demo-clear-faults"} <= offered


def test_config_and_engine_agree_on_the_checks() -> None:
    assert set(RULE_CHECKS) == set(CHECKS)


def test_a_runbook_refused_by_construction_is_not_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-rt without a warehouse id has no table actions: storage optimization is not offered there."""
    monkeypatch.delenv("DATABRICKS_WAREHOUSE_ID", raising=False)
    profile = SHIPPED.profile("azure-rt")
    drivers = build_drivers(profile)
    engine = RunbookEngine({d.name: d for d in drivers}, profile="azure-rt")
    runbook = LIBRARY.get("azure-storage-optimization")
    assert "table-optimize" in engine.preflight(runbook)
    assert runbook.id not in {r.id for r in offered_runbooks(LIBRARY, drivers, "azure-rt")}
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "abc123")
    with_warehouse = load(ROOT / "profiles.yaml").profile("azure-rt")
    assert runbook.id in {r.id for r in offered_runbooks(LIBRARY, build_drivers(with_warehouse), "azure-rt")}
