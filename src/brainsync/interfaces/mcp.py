"""``brainsync mcp``: the MCP server for agents, over stdio or streamable HTTP.

The SDK is imported only when the command runs, so other commands stay quick. The brain
(store, migrations, job worker and its crash recovery) opens on the first tool call that
needs it, so ``initialize`` is answered before any of that work. Over HTTP the server
listens on 127.0.0.1 unless told otherwise, refuses any other address without a bearer
token, and answers 401 to a request without it before the request reaches a tool.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from brainsync.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

    from brainsync.app import Brain
    from brainsync.config import Settings
    from brainsync.jobs import JobService

__all__ = ["BearerGuard", "LazyBrain", "build_server", "parse_address", "register"]

DEFAULT_HOST = "127.0.0.1"
INSTRUCTIONS = (
    "brainsync keeps typed markdown entities (notes, posts) in two-way sync with a folder. "
    "Start with brain_status. Find entities with list_entities, read with get_entity, "
    "write with put_entity (pass if_version). Files follow through jobs: start_job returns "
    "a job id at once; follow it with get_job(wait_seconds=20)."
)


class LazyBrain:
    """The facade, opened on the first tool call that needs it, so initialize stays instant."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._brain: Brain | None = None
        self._jobs: JobService | None = None
        self._lock = threading.Lock()

    def brain(self) -> Brain:
        """The open brain: its store opened (and migrated) here, once."""
        with self._lock:
            if self._brain is None:
                from brainsync.app import Brain

                brain = Brain(self.settings)
                try:
                    _ = brain.engine  # opens the store and the file pool under the lock
                except BaseException:
                    brain.close()
                    raise
                self._brain = brain
            return self._brain

    def jobs(self) -> JobService:
        """The job service, with this process as a worker: it runs the jobs it starts."""
        brain = self.brain()
        with self._lock:
            if self._jobs is None:
                self._jobs = brain.jobs(worker=True)
            return self._jobs

    def close(self) -> None:
        """Stop the worker (jobs hand back at a chunk boundary) and close the brain."""
        with self._lock:
            if self._brain is not None:
                self._brain.close()
            self._brain = self._jobs = None


HttpOpt = Annotated[
    str | None,
    typer.Option(
        "--http",
        metavar="[HOST:]PORT",
        help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio "
        "(HOST defaults to 127.0.0.1).",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Bearer token every HTTP request must carry [BRAINSYNC_MCP_TOKEN, or mcp_token "
        "in the config file; prefer those: a command line is visible to others].",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to the main app."""
    app.command("mcp")(mcp_cmd)


def mcp_cmd(ctx: typer.Context, http: HttpOpt = None, token: TokenOpt = None) -> None:
    """Serve this brain to AI agents over MCP (stdio by default)."""
    from brainsync.interfaces.console import err

    if token:
        ctx.obj.overrides["mcp_token"] = token
    settings: Settings = ctx.obj()
    address = None if http is None else parse_address(http)
    if address is not None:
        check_exposure(*address, settings.mcp_token)
    lazy = LazyBrain(settings)
    try:
        server = build_server(lazy)
        if address is None:
            err.print(f"brainsync MCP server on stdio for {settings.root}", markup=False)
            _run(server.run_stdio_async)
        else:
            serve_http(server, *address, settings.mcp_token)
    finally:
        lazy.close()


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``PORT``, on 127.0.0.1) as a host and a port number."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") if sep else DEFAULT_HOST
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not host or not 1 <= number <= 65535:
        raise InvalidInputError(f"--http wants HOST:PORT, e.g. 127.0.0.1:8765, not {text!r}")
    return host, number


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: treat it as exposed


def check_exposure(host: str, port: int, token: str | None) -> None:
    """Refuse to listen beyond this machine without a bearer token (catalogue M5)."""
    if token or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to serve MCP on {host}:{port} without a bearer token: set "
        "BRAINSYNC_MCP_TOKEN (or mcp_token in the config file, or --token), or listen on "
        "127.0.0.1"
    )


def build_server(lazy: LazyBrain) -> MCPServer:
    """The MCP server with brainsync's tools and entity resource, over ``lazy``."""
    from brainsync import __version__
    from brainsync.interfaces.mcp_tools import BrainServer, BrainTools

    server = BrainServer(
        "brainsync", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )
    BrainTools(lazy).register(server)
    return server


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    """Serve streamable HTTP at ``/mcp`` until interrupted; every request needs ``token``."""
    import uvicorn

    from brainsync.interfaces.console import err

    app: ASGIApp = server.streamable_http_app(host=host)
    if token:
        app = BearerGuard(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    guarded = "bearer token required" if token else "no token: this machine only"
    err.print(f"brainsync MCP server on http://{host}:{port}/mcp ({guarded})", markup=False)
    _run(uvicorn.Server(config).serve)


def _run(main: Callable[[], Awaitable[object]]) -> None:
    import anyio

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the server; the caller closes
        anyio.run(main)


class BearerGuard:
    """ASGI middleware: an HTTP request without ``Authorization: Bearer <token>`` gets 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(scope):
            from starlette.responses import JSONResponse

            body = {"error": "unauthorized", "message": "send Authorization: Bearer <token>"}
            headers = {"WWW-Authenticate": 'Bearer realm="brainsync"'}
            await JSONResponse(body, status_code=401, headers=headers)(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        given = dict(scope.get("headers") or ()).get(b"authorization", b"")
        scheme, _, credentials = given.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self._token)
