"""Widgets of the dashboard: data panes, the alerts pane, the in-place table, the footer."""
