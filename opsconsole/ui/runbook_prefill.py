"""Parameters of a runbook pre-filled from the alert that opened it.

An alert on ``staging.stg_orders`` opens the compaction runbook with ``table:
staging.stg_orders`` already typed: the on-call engineer checks the value rather
than copying it from another pane. Only parameters that name the alert's subject
(a table, a service, a warehouse...) are filled; the preview shows them before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from opsconsole.model import Alert
from opsconsole.runbooks.model import Runbook

SUBJECT_PARAMS = ("table", "service", "container", "warehouse", "job_id", "dag_id")
"""Parameter names that take the alert's subject, first declared one wins."""


def alert_params(alert: Alert | None, runbook: Runbook) -> Mapping[str, str]:
    if alert is None or not alert.subject:
        return {}
    declared = {p.name for p in runbook.params}
    for name in SUBJECT_PARAMS:
        if name in declared:
            return {name: alert.subject}
    return {}
