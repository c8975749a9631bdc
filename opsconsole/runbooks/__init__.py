"""Runbooks as data: the YAML library, its model and the engine that runs it safely.

Nothing here imports Textual: the TUI and ``opsconsole run`` share this core.
"""

from __future__ import annotations

from opsconsole.runbooks.engine import AutoConfirmer, Confirmer, PlanError, RunbookEngine
from opsconsole.runbooks.library import Library, load_library
from opsconsole.runbooks.model import PlannedStep, Runbook, RunbookParam, RunbookStep, StepResult, StepStatus

__all__ = ["AutoConfirmer", "Confirmer", "Library", "PlanError", "PlannedStep", "Runbook", "RunbookEngine",
           "RunbookParam", "RunbookStep", "StepResult", "StepStatus", "load_library"]
