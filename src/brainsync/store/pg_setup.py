"""A PostgreSQL database that is missing or unreachable: create it, or say what to do.

Both the entity store and the job store create their database when it does not exist and
the role may (``CREATE DATABASE`` through the server's ``postgres`` maintenance database);
otherwise the refusal names the ``createdb`` command to run. A server that cannot be reached
is said in two lines that name the URL (its password masked), not in the driver's
traceback-like text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from brainsync.errors import StoreError

__all__ = ["ConnectFailure", "connect_failure", "create_database"]

_MISSING = re.compile(r'database "(?P<name>[^"]*)" does not exist')
_DEFAULT_HINT = "check that the server runs there and that the URL's host, port and user are right"
#: psycopg 3 starts the text of every failure to connect with this.
_PREFIX = "connection failed:"


@dataclass(frozen=True)
class ConnectFailure:
    """Why connecting to a server failed, in the driver's words, cut to one line."""

    reason: str
    hint: str
    #: The server answered: the database the URL names does not exist.
    missing_database: bool

    def message(self, what: str, url: str | URL) -> str:
        """Two lines: what could not be reached (the URL, password masked), and why."""
        parsed = make_url(url)
        shown = parsed.render_as_string(hide_password=True)
        hint = _create_it(parsed) if self.missing_database else self.hint
        return f"cannot connect to the {what} {shown}: {self.reason}\n{hint}"


def connect_failure(exc: BaseException | None) -> ConnectFailure | None:
    """The failure to connect ``exc`` (or an error it wraps) is; None for any other error."""
    while exc is not None and not str(_driver_error(exc)).startswith(_PREFIX):
        exc = exc.__cause__
    if exc is None:
        return None
    lines = [line.strip() for line in str(_driver_error(exc)).splitlines() if line.strip()]
    first = lines[0].removeprefix(_PREFIX).strip()
    # 'connection to server at "h", port 1 failed: Connection refused': the last part says why
    reason = first.rsplit(" failed: ", 1)[-1].removeprefix("FATAL:").strip()
    hint = " ".join(lines[1:]) or _DEFAULT_HINT
    return ConnectFailure(reason, hint, _MISSING.search(reason) is not None)


def _driver_error(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def create_database(url: URL) -> None:
    """Create the database ``url`` names, through the server's ``postgres`` database.

    Another process creating it at the same time is fine; a role that may not, or a server
    without a ``postgres`` database, is a StoreError that names the ``createdb`` to run.
    """
    import psycopg  # only a PostgreSQL store gets here
    from psycopg import sql

    name = url.database or ""
    maintenance = url.set(drivername="postgresql", database="postgres")
    timeout = None if "connect_timeout" in url.query else 10  # None: the URL's own
    try:
        with psycopg.connect(
            maintenance.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=timeout,
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.DuplicateDatabase:
        return  # another process created it just now
    except psycopg.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if url.password:
            reason = reason.replace(str(url.password), "***")
        shown = url.render_as_string(hide_password=True)
        raise StoreError(
            f"database {name!r} of {shown} does not exist and could not be created ({reason})"
            f"\n{_create_it(url)}"
        ) from exc


def _create_it(url: URL) -> str:
    """The line that says how to create the database ``url`` names."""
    command = f"createdb -h {url.host or 'localhost'} -p {url.port or 5432}"
    command += f" -U {url.username} {url.database}" if url.username else f" {url.database}"
    return f"create it with `{command}` (as a role that may), then try again"
