"""Dashboard panes."""
