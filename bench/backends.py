"""Store backends for the benchmark: fresh empty or seeded databases, and clean-up.

SQLite databases are files in the work folder (a seeded one is copied per run).
PostgreSQL databases are throwaway databases on 127.0.0.1:5432 (user ``postgres``,
trust auth), created from a seeded template per run and dropped at the end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from itertools import count
from pathlib import Path

__all__ = ["PG_ADMIN", "Backend", "PostgresBackend", "SQLiteBackend", "postgres_available"]

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

Seeder = Callable[[str, int], None]


def postgres_available() -> str | None:
    """None when the server answers, else the reason it cannot be used."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg missing: {exc}"
    try:
        with psycopg.connect(PG_ADMIN) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no server on 127.0.0.1:5432: {exc}"
    return None


class Backend:
    """Hands out database URLs; ``seeder(url, n)`` fills a new one with the corpus."""

    name = "base"

    def __init__(self, work: Path, seeder: Seeder) -> None:
        self._work = work
        self._seeder = seeder
        self._numbers = count()
        self._seeded: dict[int, str] = {}

    def empty(self) -> str:
        """The URL of a new, empty database."""
        raise NotImplementedError

    def seeded(self, n: int) -> str:
        """The URL of a new database holding the first ``n`` corpus items."""
        raise NotImplementedError

    def floor_target(self) -> str:
        """Where the minimal-floor script writes (a file path or a libpq DSN)."""
        raise NotImplementedError

    def drop(self, url: str) -> None:
        """Remove the database at ``url``."""
        raise NotImplementedError

    def close(self) -> None:
        """Remove everything this backend created."""


class SQLiteBackend(Backend):
    name = "sqlite"

    def _path(self, tag: str) -> Path:
        self._work.mkdir(parents=True, exist_ok=True)
        return self._work / f"{tag}-{next(self._numbers)}.sqlite"

    def empty(self) -> str:
        return f"sqlite:///{self._path('db')}"

    def seeded(self, n: int) -> str:
        if n not in self._seeded:
            url = f"sqlite:///{self._path(f'seed{n}')}"
            self._seeder(url, n)
            self._seeded[n] = url
        source = Path(self._seeded[n].removeprefix("sqlite:///"))
        target = self._path("db")
        for suffix in ("", "-wal"):
            if Path(f"{source}{suffix}").exists():
                shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
        return f"sqlite:///{target}"

    def floor_target(self) -> str:
        return str(self._path("floor"))

    def drop(self, url: str) -> None:
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        for url in self._seeded.values():
            self.drop(url)


class PostgresBackend(Backend):
    name = "postgresql"

    def __init__(self, work: Path, seeder: Seeder) -> None:
        super().__init__(work, seeder)
        self._prefix = f"bsbench_{os.getpid()}_"
        self._live: set[str] = set()

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(sql.encode())  # names are ours, never user input

    def _create(self, template: str | None = None) -> str:
        name = f"{self._prefix}{next(self._numbers)}"
        clause = f" TEMPLATE {template}" if template else ""
        self._admin(f"CREATE DATABASE {name}{clause}")
        self._live.add(name)
        return name

    def empty(self) -> str:
        return _PG_URL.format(name=self._create())

    def seeded(self, n: int) -> str:
        if n not in self._seeded:
            url = self.empty()
            self._seeder(url, n)
            self._seeded[n] = url
        template = self._seeded[n].rsplit("/", 1)[1]
        return _PG_URL.format(name=self._create(template))

    def floor_target(self) -> str:
        name = self._create()
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._live.discard(name)

    def close(self) -> None:
        for name in sorted(self._live):
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._live.clear()
