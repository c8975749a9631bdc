"""``opsconsole serve``: the console in a web browser (textual-serve), for demo walkthroughs.

Each browser tab gets its own console process (the same command a terminal
would run), so nothing is shared between viewers. Binds 127.0.0.1 by default:
the console can run actions against real platforms, so exposing it on a network
is a decision to take explicitly with ``--host``.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Serve the console to a web browser (textual-serve) for demos."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--public-url", help="URL browsers use, when behind a proxy")


def console_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: this Python, the same profile, config, theme and mode."""
    argv = [sys.executable, "-m", "opsconsole"]
    for flag, value in (("--config", args.config), ("--profile", args.profile), ("--theme", args.theme)):
        if value:
            argv += [flag, value]
    if args.read_only:
        argv.append("--read-only")
    return shlex.join(argv)


def run_serve(args: argparse.Namespace) -> int:
    from opsconsole.config import load_profile

    profile = load_profile(args.profile, args.config)  # fail here, not in every browser tab
    if args.theme:
        from opsconsole.ui.themes import validate_theme_name

        validate_theme_name(args.theme)
    from textual_serve.server import Server

    print(f"opsconsole: serving profile {profile.name} on http://{args.host}:{args.port}", flush=True)
    Server(console_command(args), host=args.host, port=args.port, title=f"opsconsole · {profile.name}",
           public_url=args.public_url).serve()
    return 0
