"""Fixtures for the integration tests: a real directory and a real store on each backend.

``make_brain`` opens a :class:`~brainsync.app.Brain` on ``tmp_path/"brain"`` (state in
``tmp_path/"state"``) over the parametrised ``store_url`` (SQLite and PostgreSQL); every
brain it opens is closed at teardown. ``disk`` writes and reads the sync directory and
``rows`` reads the store back, so a test can assert bytes, mtimes, rows and versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from disk import Disk

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.entities import Entity

BrainFactory = Callable[..., Brain]


def all_entities(brain: Brain) -> dict[str, Entity]:
    """Every entity in the brain's store, by ``type:id`` (all pages)."""
    found: dict[str, Entity] = {}
    after = None
    while True:
        page = brain.list_entities(after=after, limit=500)
        found.update((str(entity.key), entity) for entity in page)
        if len(page) < 500:
            return found
        after = page[-1].key


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The sync directory (``make_brain`` creates it unless told not to)."""
    return tmp_path / "brain"


@pytest.fixture
def disk(root: Path) -> Disk:
    """File helpers on the sync directory."""
    return Disk(root)


@pytest.fixture
def rows() -> Callable[[Brain], dict[str, Entity]]:
    """``rows(brain)``: every entity in the store, by ``type:id``."""
    return all_entities


@pytest.fixture
def make_brain(tmp_path: Path, root: Path, store_url: str) -> Iterator[BrainFactory]:
    """Brains on one directory and one store; ``create=False`` leaves the root unmade."""
    opened: list[Brain] = []

    def factory(*, create: bool = True, **overrides: Any) -> Brain:
        if create:
            root.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {
            "home": tmp_path / "state",
            "db": store_url,
            "io_threads": 2,
            **overrides,
        }
        settings = Settings(directory=root, **options)
        brain = Brain(settings)
        opened.append(brain)
        return brain

    yield factory
    for brain in opened:
        brain.close()


@pytest.fixture
def brain(make_brain: BrainFactory) -> Brain:
    """A brain with the default settings (keep-both conflicts, deletes propagate)."""
    return make_brain()


def planned_items(brain: Brain, kind: str = "sync", **params: Any) -> list[dict[str, Any]]:
    """The items a run of ``kind`` would act on (the plan's candidates; no chunk runs)."""
    operation = brain.operation(kind, params)
    return [item for chunk in operation.plan() for item in chunk["items"]]


@pytest.fixture
def planned() -> Callable[..., list[dict[str, Any]]]:
    """``planned(brain, kind="sync")``: the candidate items of the next run's plan."""
    return planned_items
