"""The command line: ``opsconsole`` (the TUI) and its subcommands, one module each.

``main`` parses arguments and imports only the invoked subcommand's module
(``check``, ``run``, ``serve``, ``watch``); the TUI path imports none of them.
"""
