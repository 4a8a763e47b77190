"""The job engine's log file: DBOS's and brainsync's loggers sent to one rotating file.

The ``dbos`` logger is process-global, so engines writing to one file share a handler.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path

__all__ = ["close_log", "open_log"]

_DBOS_LOGGER = "dbos"

# The ``dbos`` logger is process-global, so engines writing to one file share a handler:
# each open log file with its handler and the number of engines using it.
_log_files: dict[Path, tuple[logging.Handler, int]] = {}
_log_files_lock = threading.Lock()
#: The engine's logger and brainsync's own (a subscriber that failed, a temp file swept):
#: while a job engine is open both go to the log file, not to stderr.
_LOGGERS = (_DBOS_LOGGER, "brainsync")


def open_log(path: Path) -> Path:
    """Send the ``dbos`` and ``brainsync`` loggers to ``path`` until as many
    :func:`close_log` calls."""
    path = path.resolve()
    with _log_files_lock:
        handler, users = _log_files.get(path) or (_file_handler(path), 0)
        if not users:
            for name in _LOGGERS:
                logging.getLogger(name).addHandler(handler)
            # The engine's records (a cancelled job's traceback among them) go to the file
            # only, never to a handler of the root logger: an MCP server's stderr is its
            # client's log. --verbose gives the engine's logger a stderr handler of its own.
            logging.getLogger(_DBOS_LOGGER).propagate = False
        _log_files[path] = (handler, users + 1)
    return path


def close_log(path: Path) -> None:
    with _log_files_lock:
        handler, users = _log_files.pop(path)
        if users > 1:
            _log_files[path] = (handler, users - 1)
            return
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(handler)
    handler.close()


class _LogFile(RotatingFileHandler):
    """A rotating log file that drops a record it cannot write (a full disk, say).

    ``logging`` would print the record, traceback and all, on stderr instead: the user's
    terminal would fill with tracebacks that quote whatever the failure was about.
    """

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        """Drop the record: the command's own error line tells the user what failed."""

    def flush(self) -> None:
        """Flush, unless the disk refuses (buffered lines are dropped)."""
        with contextlib.suppress(OSError):
            super().flush()

    def close(self) -> None:
        """Close, unless the disk refuses the last buffered lines."""
        with contextlib.suppress(OSError):
            super().close()


def _file_handler(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bounded: it is a trail of engine failures, not an archive; opened on first record.
    handler = _LogFile(path, maxBytes=1_000_000, backupCount=1, encoding="utf-8", delay=True)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    return handler
