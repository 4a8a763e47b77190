"""The ``brainsync`` console command: ``mcp`` is served before the command line is built.

An MCP client gives up when ``initialize`` takes long, so ``brainsync mcp`` must not pay
for Typer, every command and the facade first; everything else goes to the full command
line (:mod:`brainsync.interfaces.cli`), and leaves without tearing the interpreter down
(:func:`leave`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

__all__ = ["leave", "main"]


def main() -> None:
    """Serve ``brainsync mcp`` at once, or run the full command line."""
    try:
        from brainsync.interfaces import mcp

        if mcp.main(sys.argv[1:]):
            return
        from brainsync.interfaces.cli import main as run_cli
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C while the command line loads: nothing ran yet
    try:
        run_cli()
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: str | int | None) -> NoReturn:
    """Exit with ``code`` once the command is done, skipping the interpreter's teardown.

    Tearing down the modules a command imported (SQLAlchemy, DBOS, Typer) and freeing
    every object took about 0.12 s after each command's last line on this machine, a
    fifth of a short command, for nothing a user needs: the files and databases are
    closed by then. What a normal exit does first still happens: another thread still at
    work is waited for (then the exit is a normal one), the ``atexit`` functions run
    (logging's flush among them), and the output streams are flushed. ``mypy`` leaves
    the same way, for the same reason.
    """
    status = _status_of(code)
    if status is None or _others_running():
        sys.exit(code)  # a message to print, or a thread to wait for: the usual way
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a reader gone (`| head`) or a stream closed: nothing left to say
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _status_of(code: str | int | None) -> int | None:
    """The exit status ``sys.exit(code)`` would give, or None when it would print."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    return None


def _others_running() -> bool:
    """True while a thread other than this one, and not a daemon, is alive."""
    current = threading.current_thread()
    return any(t is not current and not t.daemon and t.is_alive() for t in threading.enumerate())
