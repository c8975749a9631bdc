"""The monitoring engine: schedule, last good data, alert rules and lifecycle, incidents, notifications.

Core (no Textual): the TUI, ``check`` and ``watch`` are views of one :class:`Monitor`.
"""

from __future__ import annotations

from opsconsole.monitor.engine import Monitor, build_drivers, panes_of
from opsconsole.monitor.lifecycle import AlertState, TrackedAlert, Transition
from opsconsole.monitor.state import MonitorSnapshot, MonitorUpdate, SourceChange, SourceSnapshot, SourceState

__all__ = ["AlertState", "Monitor", "MonitorSnapshot", "MonitorUpdate", "SourceChange", "SourceSnapshot",
           "SourceState", "TrackedAlert", "Transition", "build_drivers", "panes_of"]
