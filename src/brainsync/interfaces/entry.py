"""The ``brainsync`` console command: ``mcp`` is served before the command line is built.

An MCP client gives up when ``initialize`` takes long, so ``brainsync mcp`` must not pay
for Typer, every command and the facade first; everything else goes to the full command
line (:mod:`brainsync.interfaces.cli`).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Serve ``brainsync mcp`` at once, or run the full command line."""
    try:
        from brainsync.interfaces import mcp

        if mcp.main(sys.argv[1:]):
            return
        from brainsync.interfaces.cli import main as run_cli
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C while the command line loads: nothing ran yet
    run_cli()
