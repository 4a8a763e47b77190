"""Baselines measured in the same run, so that every product figure is a ratio.

* the physical limit: ``tar -x`` of the identical tree, and ``tar -c`` piped through
  ``cat`` (GNU tar writing straight to ``/dev/null`` skips reading the files);
* the atomic-writer floor: each file written the way an export must write it (temp file
  in the same folder, write, ``os.utime``, ``os.replace``), one thread, nothing else;
* the minimal floor: read the files, split the frontmatter, ``yaml.load`` with
  ``CSafeLoader``, insert with ``executemany`` in one transaction, nothing else;
* a bare ``os.scandir`` + ``stat`` walk.

The floors and the walk run in a fresh subprocess (see :mod:`bench.worker`) like every
product scenario; the tar commands are timed from the parent.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "floor_export",
    "floor_import",
    "load_tree",
    "make_tar",
    "tar_create",
    "tar_extract",
    "walk",
]

_CREATE = "CREATE TABLE docs (path TEXT PRIMARY KEY, metadata TEXT NOT NULL, body TEXT NOT NULL)"


def make_tar(tree: Path, archive: Path) -> None:
    """Pack ``tree`` into ``archive`` (once per run; every extraction uses it)."""
    subprocess.run(["tar", "-cf", str(archive), "-C", str(tree), "."], check=True)


def tar_extract(archive: Path, dest: Path) -> float:
    """Seconds to extract ``archive`` into the new, empty folder ``dest``."""
    dest.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(dest)], check=True)
    return time.perf_counter() - start


def tar_create(tree: Path) -> float:
    """Seconds to read ``tree`` as a tar stream into ``/dev/null`` (through ``cat``)."""
    command = f"tar -cf - -C {shlex.quote(str(tree))} . | cat > /dev/null"
    start = time.perf_counter()
    subprocess.run(["sh", "-c", command], check=True)
    return time.perf_counter() - start


def walk(root: Path) -> int:
    """Count the files under ``root`` with one ``scandir`` per folder and a ``stat`` each."""
    count = 0
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif info.st_size >= 0:
                    count += 1
    return count


def load_tree(root: Path) -> list[tuple[str, bytes, int]]:
    """Every file under ``root`` as (relative path, bytes, mtime in ns), in walk order.

    Loaded before the writer floor's clock starts: an export has its bytes in memory too.
    """
    found: list[tuple[str, bytes, int]] = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                data = handle.read()
                mtime = os.fstat(handle.fileno()).st_mtime_ns
            found.append((os.path.relpath(path, root), data, mtime))
    return found


def floor_export(files: list[tuple[str, bytes, int]], dest: Path) -> int:
    """Write ``files`` under the empty folder ``dest`` atomically, one by one; the count.

    The least an export can do and still never leave a torn file (K1): a temp file created
    exclusively in the target's folder, the bytes, the mtime, the rename over the target.
    Parent folders are made as they are first met, as ``tar -x`` does.
    """
    made: set[str] = set()
    pid = os.getpid()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for rel, data, mtime in files:
        target = os.path.join(dest, rel)
        folder, name = os.path.split(target)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        temp = os.path.join(folder, f".{name}.{pid}.tmp")
        fd = os.open(temp, flags, 0o644)
        try:
            os.write(fd, data)
            os.utime(fd, ns=(mtime, mtime))
        finally:
            os.close(fd)
        os.replace(temp, target)
    return len(files)


def _documents(root: Path) -> Iterator[tuple[str, dict[str, Any], str]]:
    """Each ``.md`` file as (relative path, frontmatter mapping, body)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            if not name.endswith(".md"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            _, head, body = text.split("---\n", 2)
            meta = yaml.load(head, Loader=yaml.CSafeLoader)
            yield os.path.relpath(path, root), meta, body


def _rows(root: Path) -> list[tuple[str, str, str]]:
    return [(p, json.dumps(m, default=str), b) for p, m, b in _documents(root)]


def floor_import(root: Path, target: str) -> int:
    """Read, split, parse and insert every file under ``root`` in one transaction.

    ``target`` is a SQLite file path, or a ``postgresql://`` DSN (psycopg).
    """
    if target.startswith("postgresql://"):
        return _floor_postgres(root, target)
    import sqlite3

    db = sqlite3.connect(target)
    try:
        db.execute(_CREATE)
        with db:
            rows = _rows(root)
            db.executemany("INSERT INTO docs VALUES (?, ?, ?)", rows)
        return len(rows)
    finally:
        db.close()


def _floor_postgres(root: Path, dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(_CREATE)
        rows = _rows(root)
        cur.executemany("INSERT INTO docs VALUES (%s, %s, %s)", rows)
        return len(rows)
