"""``opsconsole serve``: the console in a web browser (textual-serve), for demo walkthroughs.

Each browser tab gets its own console process (the same command a terminal
would run), so nothing is shared between viewers.

Why the locks: a console can run actions against real platforms, and a web
server on 127.0.0.1 is reachable from *every page the operator's browser opens*
(a WebSocket is not bound by the same-origin policy) and from every local user
of a jump box. So, like Jupyter:

* a random token per start (or ``--token-file`` / ``$OPSCONSOLE_SERVE_TOKEN``),
  printed once inside the URL, is required on the page and on the WebSocket;
* the WebSocket's ``Origin`` must be the address the page was served from, and on
  a loopback bind the ``Host`` must be a loopback name (no DNS rebinding);
* the console is read-only unless ``--allow-actions``;
* binding beyond loopback needs ``--allow-remote`` and prints a warning;
* each tab's console records the connection (peer address) in the audit log.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opsconsole.errors import ConfigError

TOKEN_ENV = "OPSCONSOLE_SERVE_TOKEN"
VIA_ENV = "OPSCONSOLE_AUDIT_VIA"
"""Set in each tab's console: the audit log records it as the connection's identity."""
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Serve the console to a web browser (textual-serve) for demos."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--public-url", help="URL browsers use, when behind a proxy")
    parser.add_argument("--token-file", metavar="PATH",
                        help=f"read the access token from PATH (else ${TOKEN_ENV}, else a random one per start)")
    parser.add_argument("--allow-actions", action="store_true",
                        help="let browser sessions run mutating actions (default: read-only)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding an address other than loopback (prints a warning)")


def is_loopback(host: str) -> bool:
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def console_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: this Python, the same profile, config, theme and mode.

    Read-only unless ``--allow-actions``: a demo in a browser should not be one
    keypress away from changing a platform.
    """
    argv = [sys.executable, "-m", "opsconsole"]
    for flag, value in (("--config", args.config), ("--profile", args.profile), ("--theme", args.theme)):
        if value:
            argv += [flag, value]
    if args.read_only or not getattr(args, "allow_actions", False):
        argv.append("--read-only")
    return shlex.join(argv)


def resolve_token(args: argparse.Namespace) -> str:
    """The access token: from ``--token-file``, ``$OPSCONSOLE_SERVE_TOKEN``, or fresh and random."""
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{args.token_file}: cannot read the serve token ({exc})") from exc
        source = args.token_file
    else:
        token, source = os.environ.get(TOKEN_ENV, "").strip(), f"${TOKEN_ENV}"
        if not token:
            return secrets.token_urlsafe(32)
    if len(token) < 16:
        raise ConfigError(f"{source}: the serve token must be at least 16 characters")
    return token


def make_server(command: str, *, host: str, port: int, title: str, public_url: str | None, token: str) -> Any:
    """A textual-serve ``Server`` that checks the token, the Origin and the Host before anything else."""
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, to_int

    class TabService(AppService):
        """One tab's console, told who it serves (the audit records it)."""

        def __init__(self, *a: Any, via: str, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.via = via

        def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
            env = super()._build_environment(width=width, height=height)
            env[VIA_ENV] = self.via
            env.pop(TOKEN_ENV, None)  # the console does not need the key to the door
            return env

    class GuardedServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=title, public_url=public_url)
            self.token = token
            self.loopback_only = is_loopback(host) and public_url is None

        def _token_ok(self, given: str | None) -> bool:
            return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

        def _host_ok(self, request: web.Request) -> bool:
            """On a loopback bind, a Host that is not loopback means DNS rebinding: refuse it."""
            if not self.loopback_only:
                return True
            return is_loopback(urlsplit(f"//{request.host}").hostname or "")

        def _origin_ok(self, request: web.Request) -> bool:
            origin = request.headers.get("Origin")
            if not origin:
                return False
            allowed = {request.host.lower()}
            if public_url:
                allowed.add(urlsplit(public_url).netloc.lower())
            return urlsplit(origin).netloc.lower() in allowed

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.router.add_get("/ws/{token}", self.handle_websocket, name="tab-websocket")
            return app

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            if not self._host_ok(request):
                raise web.HTTPForbidden(text="opsconsole: unexpected Host header")
            given = request.query.get("token") or request.cookies.get("opsconsole_token")
            if not self._token_ok(given):
                raise web.HTTPForbidden(text="opsconsole: open the URL with ?token=... that `opsconsole serve` "
                                             "printed")
            import aiohttp_jinja2

            ws_base = "wss:" if self.public_url.startswith("https") else "ws:"
            context = {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                # The token rides in the path: textual.js appends "?width=..." to this URL.
                "app_websocket_url": ws_base + self.public_url.split(":", 1)[1] + f"/ws/{self.token}",
                "config": {"static": {"url": f"{self.public_url}/static/"}},
                "application": {"name": self.title},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            response.headers["Referrer-Policy"] = "no-referrer"
            response.set_cookie("opsconsole_token", self.token, httponly=True, samesite="Strict")
            return response

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            if request.match_info.get("token") is None:
                raise web.HTTPForbidden(text="opsconsole: token required")
            if not self._token_ok(request.match_info["token"]):
                raise web.HTTPForbidden(text="opsconsole: bad token")
            if not self._host_ok(request) or not self._origin_ok(request):
                raise web.HTTPForbidden(text="opsconsole: cross-origin WebSocket refused")
            return await self._serve_tab(request)

        async def handle_download(self, request: web.Request) -> web.StreamResponse:
            if not self._token_ok(request.cookies.get("opsconsole_token")):
                raise web.HTTPForbidden(text="opsconsole: token required")
            return await super().handle_download(request)

        async def _serve_tab(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's own handler, with a service that knows the connection's identity."""
            import asyncio

            from textual_serve.server import log

            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            peer = request.remote or "?"
            via = f"web {peer} {request.headers.get('User-Agent', '')[:80]}".strip()
            service: AppService | None = None
            try:
                await websocket.prepare(request)
                service = TabService(self.command, write_bytes=websocket.send_bytes,
                                     write_str=websocket.send_str, close=websocket.close,
                                     download_manager=self.download_manager, debug=self.debug, via=via)
                await service.start(width, height)
                try:
                    await self._process_messages(websocket, service)
                finally:
                    await service.stop()
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # textual-serve logs and drops the tab, so do we
                log.exception(error)
            finally:
                if service is not None:
                    await service.stop()
            return websocket

    return GuardedServer()


def run_serve(args: argparse.Namespace) -> int:
    from opsconsole.config import load_profile

    profile = load_profile(args.profile, args.config)  # fail here, not in every browser tab
    from opsconsole.ui.themes import validate_profile_theme, validate_theme_name

    if args.theme:
        validate_theme_name(args.theme)
    else:
        validate_profile_theme(profile)
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise ConfigError(f"--host {args.host} is not loopback: anyone who can reach it and has the token "
                              "gets a console; add --allow-remote to mean it")
        print(f"opsconsole: WARNING: serving on {args.host}, beyond this machine; the token is the only lock "
              "(no TLS: put a TLS proxy in front and use --public-url)", file=sys.stderr, flush=True)
    token = resolve_token(args)
    server = make_server(console_command(args), host=args.host, port=args.port,
                         title=f"opsconsole · {profile.name}", public_url=args.public_url, token=token)
    mode = "actions allowed" if args.allow_actions and not args.read_only else "read-only"
    print(f"opsconsole: serving profile {profile.name} ({mode}) on {server.public_url}/?token={token}", flush=True)
    server.serve()
    return 0
