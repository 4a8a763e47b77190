"""A deterministic corpus of typed markdown entities, as files or as store rows.

Item ``i`` depends only on ``(seed, i)``, so the first 1,000 items of a 10k corpus are the
1k corpus: a subset measured for an extrapolation holds the very same documents.

Mix: 30% notes at the root, 30% notes in nested non-type folders (``ideas/2024/``), 40%
posts with a valid schema (``title``, ``tags``, ``status``). Bodies are 1-3 KB with
headings, lists, code fences and wiki links; frontmatter has 5-8 keys with lists and
dates (ISO strings: the product keeps dates as text).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from brainsync.entities import Entity, EntityKey
from brainsync.store import ChangeSet, Store
from brainsync.sync.markdown import render
from brainsync.sync.paths import PathMapper

__all__ = ["DEFAULT_SEED", "Doc", "generate", "load_store", "write_files"]

DEFAULT_SEED = 20240601
_WORDS = (
    "sync",
    "brain",
    "note",
    "entity",
    "file",
    "folder",
    "index",
    "chunk",
    "thread",
    "store",
    "query",
    "table",
    "graph",
    "link",
    "idea",
    "draft",
    "model",
    "agent",
    "plan",
    "scan",
    "hash",
    "mtime",
    "record",
    "state",
    "conflict",
    "merge",
    "export",
    "import",
    "job",
    "queue",
    "worker",
    "lane",
    "event",
    "bus",
    "progress",
    "cancel",
    "resume",
    "crash",
    "durable",
    "markdown",
    "yaml",
    "header",
    "body",
    "list",
    "code",
    "fence",
    "tag",
    "title",
    "status",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "river",
    "stone",
    "cloud",
)
_FOLDERS = ("ideas/2024", "ideas/2023", "projects/alpha", "projects/beta/notes", "journal/2024")
_STATUSES = ("draft", "published", "archived")
_EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
_MAPPER = PathMapper(["note", "post"])


@dataclass(frozen=True)
class Doc:
    """One generated entity: its key, relative path and canonical document text."""

    key: EntityKey
    path: str
    metadata: dict[str, Any]
    body: str
    document: str
    stamp: datetime


def _sentence(rng: random.Random, low: int = 6, high: int = 16) -> str:
    words = rng.choices(_WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + "."


def _block(rng: random.Random, slugs: Sequence[str]) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return "\n".join(f"- {_sentence(rng, 3, 8)}" for _ in range(rng.randint(2, 5)))
    if kind == 1:
        lines = [f"def {rng.choice(_WORDS)}_{i}(x):\n    return x * {i}" for i in range(2)]
        return "```python\n" + "\n".join(lines) + "\n```"
    if kind == 2 and slugs:
        links = ", ".join(f"[[{rng.choice(slugs)}]]" for _ in range(rng.randint(1, 3)))
        return f"{_sentence(rng)} See {links}."
    return " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))


def _body(rng: random.Random, slugs: Sequence[str]) -> str:
    target = rng.randint(1000, 3000)
    parts = [f"# {_sentence(rng, 2, 5)[:-1]}"]
    size = len(parts[0])
    while size < target:
        part = f"## {_sentence(rng, 2, 4)[:-1]}" if rng.random() < 0.2 else _block(rng, slugs)
        parts.append(part)
        size += len(part) + 2
    return "\n\n".join(parts) + "\n"


def _dates(rng: random.Random) -> tuple[datetime, str, str]:
    created = _EPOCH + timedelta(days=rng.randrange(600), seconds=rng.randrange(86400))
    updated = created + timedelta(days=rng.randrange(60))
    return updated, created.date().isoformat(), updated.date().isoformat()


def _note_meta(rng: random.Random, title: str, created: str, updated: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": title,
        "created": created,
        "updated": updated,
        "tags": rng.sample(_WORDS, rng.randint(1, 4)),
        "author": rng.choice(("ada", "grace", "linus", "barbara")),
    }
    extras = {"aliases": [title.lower()], "rating": rng.randint(1, 5), "pinned": rng.random() < 0.1}
    for name in rng.sample(sorted(extras), rng.randint(0, 3)):
        meta[name] = extras[name]
    return meta


def _post_meta(rng: random.Random, title: str, created: str, updated: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "title": title,
        "tags": rng.sample(_WORDS, rng.randint(0, 5)),
        "status": rng.choice(_STATUSES),
        "date": created,
        "summary": _sentence(rng, 5, 10),
    }
    extras = {"updated": updated, "categories": rng.sample(_WORDS, 2), "featured": False}
    for name in rng.sample(sorted(extras), rng.randint(0, 3)):
        meta[name] = extras[name]
    return meta


def _item(seed: int, index: int) -> Doc:
    rng = random.Random(seed * 1_000_003 + index)
    slug = f"{index:06d}-{rng.choice(_WORDS)}-{rng.choice(_WORDS)}"
    kind = rng.random()
    if kind < 0.4:
        key = EntityKey("post", slug)
    elif kind < 0.7:
        key = EntityKey("note", slug)
    else:
        key = EntityKey("note", rng.choice(_FOLDERS).replace("/", ":") + ":" + slug)
    stamp, created, updated = _dates(rng)
    title = _sentence(rng, 2, 6)[:-1]
    build = _post_meta if key.type == "post" else _note_meta
    meta = build(rng, title, created, updated)
    neighbours = [f"{max(0, index - d):06d}" for d in (1, 7, 31)]
    body = _body(rng, neighbours)
    path = str(_MAPPER.to_path(key))
    return Doc(key, path, meta, body, render(meta, body), stamp)


def generate(size: int, seed: int = DEFAULT_SEED) -> Iterator[Doc]:
    """The first ``size`` items of the corpus for ``seed``."""
    for index in range(size):
        yield _item(seed, index)


def write_files(docs: Iterator[Doc], root: Path) -> int:
    """Write each document to ``root/<path>``; returns the number of bytes written."""
    total = 0
    made: set[Path] = set()
    for doc in docs:
        target = root / doc.path
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        data = doc.document.encode("utf-8")
        target.write_bytes(data)
        total += len(data)
    return total


def _entity(doc: Doc) -> Entity:
    return Entity(doc.key, doc.document, doc.body, doc.metadata, doc.stamp, doc.stamp)


def load_store(docs: Iterator[Doc], store: Store, batch: int = 1000) -> int:
    """Insert the documents as entities with bulk ``store.apply`` calls; returns the count."""
    pending: list[Entity] = []
    count = 0
    for doc in docs:
        pending.append(_entity(doc))
        if len(pending) >= batch:
            count += len(store.apply(ChangeSet(upserts=pending)))
            pending = []
    if pending:
        count += len(store.apply(ChangeSet(upserts=pending)))
    return count
