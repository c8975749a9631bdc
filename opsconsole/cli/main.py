"""Command line: ``opsconsole`` (the TUI), ``check``, ``run`` and friends.

Subcommands live in their own modules and register here; only the TUI path
imports Textual, and only after arguments are parsed.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable

from opsconsole import __version__
from opsconsole.errors import OpsConsoleError

# name -> (module, function that adds its arguments, function that runs it, one-line help).
# Only the invoked subcommand's module is imported: the TUI path imports none of them,
# which keeps the first frame fast.
SUBCOMMANDS: dict[str, tuple[str, str, str, str]] = {
    "check": ("opsconsole.cli.check", "add_check_arguments", "run_check",
              "poll every pane once and print the result (exit 0 OK, 1 warning, 2 critical, 3 unknown)"),
    "run": ("opsconsole.cli.run", "add_run_arguments", "run_run",
            "run a runbook procedure headless (dry-run, params, typed confirmation)"),
    "serve": ("opsconsole.cli.serve", "add_serve_arguments", "run_serve",
              "serve the console to a web browser (textual-serve)"),
    "notify": ("opsconsole.cli.main.notify", "add_notify_arguments", "run_notify",
               "send a test message to every notification channel of a profile (--test)"),
    "watch": ("opsconsole.cli.watch", "add_watch_arguments", "run_watch",
              "headless daemon: /metrics for Prometheus, alerts to Alertmanager and notify channels"),
}
OPTIONS_WITH_VALUE = {"--config", "--profile", "-p", "--theme", "--state-dir"}


def _invoked_subcommand(argv: list[str]) -> str | None:
    """The subcommand named on the command line, skipping the values of global options."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in SUBCOMMANDS else None
    return None


def _resolve(module: str, attr: str) -> Callable[..., object]:
    import importlib

    return getattr(importlib.import_module(module), attr)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsconsole", description="A terminal ops console for data platforms. "
                                     "Without a COMMAND it opens the TUI on the chosen profile.")
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    parser.add_argument("--config", metavar="PATH", help="profiles file (default: ./profiles.yaml, "
                        "then the user config dir, then the packaged default)")
    parser.add_argument("--profile", "-p", metavar="NAME", help="profile to open (default: the file's default)")
    parser.add_argument("--theme", metavar="NAME", help="colour theme")
    parser.add_argument("--read-only", action="store_true", help="remove every mutating action")
    parser.add_argument("--state-dir", metavar="DIR", help="shared state directory for audit log, target locks "
                        "and incidents (also $OPSCONSOLE_STATE_DIR or the profiles file's state_dir:)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    invoked = _invoked_subcommand(sys.argv[1:] if argv is None else argv)
    for name, (module, add_args, _run, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == invoked:
            _resolve(module, add_args)(sp)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.state_dir:  # through the environment, so browser tabs and child consoles share it too
        os.environ["OPSCONSOLE_STATE_DIR"] = os.path.abspath(os.path.expanduser(args.state_dir))
    try:
        if args.command:
            module, _add, run, _help = SUBCOMMANDS[args.command]
            return int(_resolve(module, run)(args) or 0)
        # Start-up allocates a few hundred thousand long-lived objects (Textual, CSS, widgets):
        # cyclic collections during it find nothing to free and cost ~15 % of the time to the
        # first frame. The app re-enables the collector after that frame, once those objects
        # are frozen out of its view (ui/app.py).
        gc.disable()
        from opsconsole.config import load_profile

        profile = load_profile(args.profile, args.config)
        from opsconsole.ui.themes import validate_profile_theme, validate_theme_name

        if args.theme:  # a typo should not open a console in the wrong colours: exit 2 listing the themes
            validate_theme_name(args.theme)
        else:
            validate_profile_theme(profile)
        from opsconsole.monitor import build_drivers

        drivers = build_drivers(profile)
        for driver in drivers:  # a local engine (the demo) comes up while Textual imports and paints
            driver.start_early()
        from opsconsole.ui.app import OpsConsoleApp

        app = OpsConsoleApp(profile, config_path=args.config, read_only=args.read_only, theme=args.theme,
                            drivers=drivers)
        app.run()
        return int(app.return_code or 0)
    except OpsConsoleError as exc:  # config errors, an unwritable audit log...: a message, never a traceback
        print(f"opsconsole: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `opsconsole check | head`: the reader left. Say nothing more (Python would print a
        # traceback, then another when it flushes stdout at exit) and exit as a shell expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
