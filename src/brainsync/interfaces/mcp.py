"""``brainsync mcp``: the MCP server for agents, over stdio or streamable HTTP.

``initialize`` comes first: :func:`main` serves ``brainsync [global options] mcp ...``
without building the rest of the command line, this module imports nothing heavy, and the
brain (store, migrations, job worker and its crash recovery) opens in a background thread
once the handshake is answered (on stdio: at the first message after ``initialize``), or
on the first tool call that needs it, whichever comes first. With ``--watch`` that thread
then starts watch mode for the folder. Over HTTP the server listens on 127.0.0.1 unless
told otherwise, refuses any other address without a bearer token, and answers 401 to a
request without it before the request reaches a tool.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brainsync.errors import BrainsyncError, ConfigError, InvalidInputError

if TYPE_CHECKING:
    import typer
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

    from brainsync.app import Brain
    from brainsync.config import Settings
    from brainsync.jobs import JobService
    from brainsync.sync.watcher import Watcher

__all__ = [
    "BearerGuard",
    "LazyBrain",
    "ServeRequest",
    "build_server",
    "main",
    "parse_address",
    "parse_command_line",
    "register",
]

log = logging.getLogger("brainsync.mcp")

DEFAULT_HOST = "127.0.0.1"
INSTRUCTIONS = (
    "brainsync keeps typed markdown entities (notes, posts) in two-way sync with a folder. "
    "Start with brain_status. Find entities with list_entities, read with get_entity, "
    "write with put_entity (pass if_version). Files follow through jobs: start_job returns "
    "a job id at once; follow it with get_job(wait_seconds=20)."
)


class LazyBrain:
    """The facade, opened on first need (or by :meth:`warm_up`), so initialize stays instant.

    ``watch``: once open, run watch mode for the folder until :meth:`close`.
    """

    def __init__(self, settings: Settings, *, watch: bool = False) -> None:
        self.settings = settings
        self.watch = watch
        #: Why watch mode is not running although asked for, if it failed to start.
        self.watch_problem: str | None = None
        self._brain: Brain | None = None
        self._jobs: JobService | None = None
        self._watcher: Watcher | None = None
        self._warming: threading.Thread | None = None
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

    def watcher(self) -> Watcher | None:
        """The running watcher, if watch mode was asked for and has started."""
        return self._watcher

    def warm_up(self) -> None:
        """Open the brain, the job worker and (with ``watch``) watch mode in the background.

        Called once the handshake is answered, so that the first ``start_job`` finds the
        job engine open. A failure here is left for the first tool call to report.
        """
        with self._lock:
            if self._warming is not None:
                return
            self._warming = threading.Thread(
                target=self._warm, name="brainsync-mcp-warm-up", daemon=True
            )
            self._warming.start()

    def _warm(self) -> None:
        try:
            self.jobs()
            if self.watch:
                watcher = self.brain().watch()
                watcher.start()
                self._watcher = watcher
        except BrainsyncError as exc:
            # the first tool call that needs the brain opens it again and says why
            self._watch_failed(str(exc))
        except Exception:  # a bug, at the top of this thread: its traceback goes to the log
            log.exception("opening the brain in the background failed")
            self._watch_failed("an internal error; the server log has details")

    def _watch_failed(self, reason: str) -> None:
        if self.watch:
            self.watch_problem = f"watch mode could not start: {reason}"

    def close(self) -> None:
        """Stop watching and the worker (jobs hand back at a chunk boundary); close the brain."""
        if self._warming is not None:
            self._warming.join()
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        with self._lock:
            if self._brain is not None:
                self._brain.close()
            self._brain = self._jobs = None


@dataclass(frozen=True)
class ServeRequest:
    """What ``brainsync mcp`` was asked to do, however its command line was read."""

    overrides: dict[str, Any]
    config: Path | None = None
    verbose: bool = False
    http: str | None = None
    watch: bool = False


# -- the command line ----------------------------------------------------------------------

_VALUED = {"--dir": "directory", "-d": "directory", "--db": "db", "--home": "home"}
_VALUED_MCP = {"--http": "http", "--token": "mcp_token"}
_PATHS = {"directory", "home"}


def main(argv: Sequence[str]) -> bool:
    """Serve ``brainsync [global options] mcp [options]`` at once, without building the
    command line (Typer, every command, the facade), so ``initialize`` is answered quickly.

    Returns False, doing nothing, when ``argv`` is anything else, or asks for help or an
    option spelled another way: the full command line handles those.
    """
    request = parse_command_line(argv)
    if request is None:
        return False
    from brainsync.config import load_settings, unknown_env_warning

    if request.verbose:
        logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
        echo = logging.StreamHandler(sys.stderr)  # the job engine's records too
        echo.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("dbos").addHandler(echo)
    warning = unknown_env_warning(os.environ)
    if warning is not None:
        print(warning, file=sys.stderr)
    try:
        settings = load_settings(request.overrides, os.environ, request.config)
        serve(settings, request.http, watch=request.watch)
    except BrainsyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line, as every command reports one
        if request.verbose:
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    return True


def parse_command_line(argv: Sequence[str]) -> ServeRequest | None:
    """The request of an ``mcp`` command line, or None for anything else."""
    argv = list(argv)
    overrides: dict[str, Any] = {}
    values: dict[str, Any] = {"watch": False, "verbose": False, "config": None, "http": None}
    command = False
    while argv:
        word = argv.pop(0)
        name, sep, given = word.partition("=")
        valued = _VALUED_MCP if command else {**_VALUED, "--config": "config"}
        if word == "mcp" and not command:
            command = True
        elif word in ("--verbose", "-v") and not command:
            values["verbose"] = True
        elif word == "--watch" and command:
            values["watch"] = True
        elif name in valued and (sep or argv):
            key, value = valued[name], given if sep else argv.pop(0)
            target = values if key in values else overrides
            target[key] = Path(value) if key in _PATHS | {"config"} else value
        else:
            return None  # help, a typo, another command: the full command line answers
    return ServeRequest(overrides, **values) if command else None


def register(app: typer.Typer) -> None:
    """Add the ``mcp`` command to the main app (its help, and any unusual spelling)."""
    import typer

    def mcp_cmd(
        ctx: typer.Context, http: str | None = None, token: str | None = None, watch: bool = False
    ) -> None:
        """Serve this brain to AI agents over MCP (stdio by default)."""
        if token:
            ctx.obj.overrides["mcp_token"] = token
        serve(ctx.obj(), http, watch=watch)

    # Given as objects, not as text to evaluate: Typer would look for ``typer`` among this
    # module's globals, and this module does not import Typer (the quick path needs none).
    mcp_cmd.__annotations__ = {"ctx": typer.Context, **_options(), "return": None}
    app.command("mcp")(mcp_cmd)


def _options() -> dict[str, object]:
    """The ``mcp`` command's options, as Typer reads them from annotations."""
    from typing import Annotated

    import typer

    http = typer.Option(
        "--http",
        metavar="[HOST:]PORT",
        help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio "
        "(HOST defaults to 127.0.0.1).",
    )
    token = typer.Option(
        "--token",
        help="Bearer token every HTTP request must carry [BRAINSYNC_MCP_TOKEN, or mcp_token "
        "in the config file; prefer those: a command line is visible to others].",
    )
    watch = typer.Option("--watch", help="Also run watch mode for the folder while serving.")
    return {
        "http": Annotated[str | None, http],
        "token": Annotated[str | None, token],
        "watch": Annotated[bool, watch],
    }


def serve(settings: Settings, http: str | None, *, watch: bool = False) -> None:
    """Run the server until its client goes (stdio) or it is interrupted (HTTP)."""
    address = None if http is None else parse_address(http)
    if address is not None:
        check_exposure(*address, settings.mcp_token)
    lazy = LazyBrain(settings, watch=watch)
    try:
        if address is None:
            server = build_server(lazy, warm_up=True)
            print(f"brainsync MCP server on stdio for {settings.root}", file=sys.stderr)
            _run(server.run_stdio_async)
        else:
            lazy.warm_up()  # no handshake to wait for: clients come when it listens
            serve_http(build_server(lazy), *address, settings.mcp_token)
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


def build_server(lazy: LazyBrain, *, warm_up: bool = False) -> MCPServer:
    """The MCP server with brainsync's tools and entity resource, over ``lazy``.

    ``warm_up``: open ``lazy`` in the background at the first message after ``initialize``
    (answering ``initialize`` itself is never delayed by it).
    """
    from brainsync import __version__
    from brainsync.interfaces.mcp_tools import BrainServer, BrainTools

    middleware = [_WarmUp(lazy)] if warm_up else []
    server = BrainServer(
        "brainsync",
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level="WARNING",
        middleware=middleware,
    )
    BrainTools(lazy).register(server)
    return server


class _WarmUp:
    """Server middleware: the first message after ``initialize`` starts the warm-up."""

    def __init__(self, lazy: LazyBrain) -> None:
        self._lazy = lazy

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        if ctx.method != "initialize":
            self._lazy.warm_up()
        return await call_next(ctx)


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    """Serve streamable HTTP at ``/mcp`` until interrupted; every request needs ``token``."""
    import uvicorn

    app: ASGIApp = server.streamable_http_app(host=host)
    if token:
        app = BearerGuard(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    guarded = "bearer token required" if token else "no token: this machine only"
    print(f"brainsync MCP server on http://{host}:{port}/mcp ({guarded})", file=sys.stderr)
    _run(uvicorn.Server(config).serve)


def _run(serving: Callable[[], Awaitable[object]]) -> None:
    import anyio

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the server; the caller closes
        anyio.run(serving)


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
