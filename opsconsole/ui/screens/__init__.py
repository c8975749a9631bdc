"""Screens of the TUI: the dashboard, dialogs, runbooks, tables, audit, incidents, logs, alert detail."""
