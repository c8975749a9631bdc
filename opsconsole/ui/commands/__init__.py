"""Command palette providers: panes, actions, profiles, themes, runbooks."""
