"""The shipped runbook library: every seed procedure is there and every step can run.

The list below is written from the seeds by hand (not derived from the library),
so a procedure dropped from a YAML file fails this test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from opsconsole.drivers import REGISTRY, driver_class
from opsconsole.drivers.base import PANE_METHODS
from opsconsole.errors import ConfigError
from opsconsole.runbooks.library import load_file, load_library
from opsconsole.runbooks.model import StepKind

SEED_PROCEDURES: dict[str, list[str]] = {
    # seed 000 - Ontos ML Workbench
    "000": ["ontos-app-down", "ontos-warehouse-timeout", "ontos-slow-queries", "ontos-app-oom",
            "ontos-permission-denied", "ontos-frontend-not-loading", "ontos-high-error-rate",
            "ontos-warehouse-scale", "ontos-optimize-tables", "ontos-vacuum", "ontos-analyze",
            "ontos-backup-snapshot", "ontos-restore-table", "ontos-workspace-recovery", "ontos-diagnostics",
            "ontos-app-rollback", "ontos-maintenance-window", "ontos-app-restart"],
    # seed 001 - Azure real-time analytics
    "001": ["azure-daily-performance-review", "azure-cluster-maintenance", "azure-storage-optimization",
            "azure-data-recovery", "azure-dr-failover", "azure-high-latency", "azure-error-spike",
            "azure-service-down", "azure-diagnostics"],
    # seed 002 - Iceberg incremental demo
    "002": ["platform-start", "platform-stop", "platform-stop-remove-volumes", "service-logs", "trigger-pipeline",
            "pipeline-failure", "slow-pipeline", "ingestion-stopped", "staging-stale", "entity-coverage-low",
            "iceberg-catalog-down", "minio-down", "kafka-consumer-lag", "compaction", "snapshot-expiration",
            "entity-quality-check", "backup-metadata", "full-reset", "restore-from-backup", "recover-missing-data",
            "time-travel-rollback"],
    # seed 003 - OSAA DuckDB pipeline
    "003": ["osaa-run-pipeline", "osaa-config-test", "osaa-transform", "osaa-add-dataset", "osaa-reprocess-full",
            "osaa-reprocess-partial", "osaa-promote-dev-qa", "osaa-promote-qa-prod", "osaa-container-build-fails",
            "osaa-s3-access-denied", "duckdb-lock", "osaa-missing-data", "osaa-duplicate-records", "stale-data",
            "osaa-slow-pipeline", "osaa-pipeline-complete-failure", "osaa-data-corruption", "osaa-code-rollback",
            "osaa-data-rollback", "osaa-daily-health-check", "osaa-weekly-maintenance", "osaa-monthly-maintenance",
            "osaa-quarterly-tasks", "osaa-capture-diagnostics"],
    # seed 004 - DataOps intelligence
    "004": ["dataops-job-health-review", "dataops-system-table-access", "dataops-delta-write-failures",
            "alert-delivery-failures"],
}

# Alert responses the seeds name explicitly (002's alert section, 000's alerts, 001's tiers).
SEED_ALERTS = ["PipelineFailure", "IcebergCatalogDown", "MinIODown", "KafkaConsumerLagHigh", "TableNeedsCompaction",
               "HighErrorRate", "HighP95Latency", "WarehouseDown", "ServiceDown", "DataStale", "EntityCoverageLow",
               "DuckDBLocked", "StagingStale", "IngestionStopped"]


@pytest.fixture(scope="module")
def library():
    return load_library(include_user=False)


@pytest.mark.parametrize("seed", sorted(SEED_PROCEDURES))
def test_every_seed_procedure_is_a_runbook(library, seed: str) -> None:
    missing = [rb for rb in SEED_PROCEDURES[seed] if rb not in library.runbooks]
    assert not missing, f"seed {seed} procedures without a runbook: {missing}"
    for rb_id in SEED_PROCEDURES[seed]:
        assert library.get(rb_id).seed.startswith(seed), f"{rb_id} does not cite seed {seed}"


@pytest.mark.parametrize("rule", SEED_ALERTS)
def test_every_seed_alert_has_a_response(library, rule: str) -> None:
    assert library.for_alert(rule), f"no runbook answers {rule}"


def _driver_available(kind: str) -> bool:
    module = REGISTRY[kind].partition(":")[0]
    return importlib.util.find_spec(module) is not None


def test_every_step_names_something_a_driver_declares(library) -> None:
    problems: list[str] = []
    missing_drivers: dict[str, set[str]] = {}
    for rb in library.all():
        for step in rb.steps:
            if step.kind is StepKind.SHELL:
                continue
            if not _driver_available(step.driver_type or ""):
                missing_drivers.setdefault(step.driver_type or "", set()).add(step.ref)
                continue
            cls = driver_class(step.driver_type or "")
            if step.kind is StepKind.ACTION:
                if step.name not in {a.name for a in cls.actions}:
                    problems.append(f"{rb.id}.{step.id}: {step.ref} is not declared by {cls.__name__}")
                else:
                    declared = set(cls.action(step.name).params)
                    extra = set(step.params) - declared
                    if declared and extra:
                        problems.append(f"{rb.id}.{step.id}: params {sorted(extra)} not in {step.ref} {declared}")
            else:
                panes = {pane for pane, method in PANE_METHODS.items() if method == step.name}
                if not panes & set(cls.panes):
                    problems.append(f"{rb.id}.{step.id}: {cls.__name__} does not fill the pane of {step.name}")
    assert not problems, "\n".join(problems)
    if missing_drivers:
        pytest.skip("drivers not in this build yet: " + "; ".join(
            f"{kind}: {', '.join(sorted(refs))}" for kind, refs in sorted(missing_drivers.items())))


def test_irreversible_steps_ask_for_a_name_not_a_yes(library) -> None:
    """Seeds' destructive operations must be typed-confirmed whatever the driver declares."""
    must = {("ontos-vacuum", "vacuum"), ("ontos-restore-table", "restore"), ("platform-stop-remove-volumes",
            "down-volumes"), ("full-reset", "reset"), ("osaa-promote-qa-prod", "promote"),
            ("time-travel-rollback", "rollback"), ("snapshot-expiration", "expire")}
    for rb_id, step_id in must:
        step = next(s for s in library.get(rb_id).steps if s.id == step_id)
        if step.kind is StepKind.ACTION and _driver_available(step.driver_type or ""):
            spec = driver_class(step.driver_type or "").action(step.name)
            assert spec.irreversible or step.irreversible, f"{rb_id}.{step_id}"
            assert step.target, f"{rb_id}.{step_id} must say which name to type"
        elif step.kind is StepKind.SHELL:
            assert step.irreversible and step.target, f"{rb_id}.{step_id}"


@pytest.mark.parametrize(("text", "where"), [
    ("id: x\ntitle: t\nsteps:\n  - {id: a, action: nosuch.thing}\n", ":4: x.steps.a.action"),
    ("id: x\ntitle: t\nsteps:\n  - id: a\n    probe: kafka.lag\n    until: true\n", ":6: x.steps.a.until"),
    ("id: x\ntitle: t\nsteps:\n  - id: a\n    shell: echo ${nope}\n", ":5: x.steps.a.shell"),
    ("id: x\ntitle: t\nstesp: []\n", ":3: x.stesp"),
    ("id: x\ntitle: t\nparams:\n  n: {type: int, default: many}\nsteps:\n  - {shell: 'true'}\n",
     ":4: x.params.n.default"),
    ("id: x\ntitle: t\nsteps:\n  - id: a\n    probe: kafka.lag\n    expect: lag is big\n", ":6: x.steps.a.expect"),
])
def test_validation_errors_name_file_line_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert f"{path}{where}" in str(err.value)


def test_user_runbooks_extend_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "config" / "runbooks"
    user.mkdir(parents=True)
    monkeypatch.setenv("OPSCONSOLE_CONFIG_DIR", str(tmp_path / "config"))
    (user / "mine.yaml").write_text(
        "runbooks:\n"
        "  - {id: compaction, title: Our compaction, steps: [{shell: 'echo ours', mutating: false}]}\n"
        "  - {id: my-check, title: Mine, steps: [{probe: kafka.lag}]}\n")
    lib = load_library()
    assert lib.get("compaction").title == "Our compaction"
    assert lib.get("my-check").source == str(user / "mine.yaml")
    assert "pipeline-failure" in lib.runbooks


def test_library_for_profile_driver_types(library) -> None:
    demo = {rb.id for rb in library.for_driver_types({"demo"})}
    assert "demo-compaction" in demo and "service-down" in demo
    assert "compaction" not in demo and "ontos-app-down" not in demo
