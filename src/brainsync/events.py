"""Entity and sync events, and the in-process bus that delivers them.

Events are frozen dataclasses with a ``name``. They are published only after the
transaction that produced them has committed, so a subscriber never sees a change that
could still roll back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

__all__ = [
    "ConflictFound",
    "EntityCreated",
    "EntityDeleted",
    "EntityUpdated",
    "Event",
    "EventBus",
]

log = logging.getLogger(__name__)


class Event(Protocol):
    """Anything with an event name."""

    name: ClassVar[str]


@dataclass(frozen=True)
class EntityCreated:
    """An entity was stored for the first time."""

    name: ClassVar[str] = "entity.created"
    key: str
    content_hash: str


@dataclass(frozen=True)
class EntityUpdated:
    """An entity's document changed."""

    name: ClassVar[str] = "entity.updated"
    key: str
    content_hash: str


@dataclass(frozen=True)
class EntityDeleted:
    """An entity was removed from the store."""

    name: ClassVar[str] = "entity.deleted"
    key: str


@dataclass(frozen=True)
class ConflictFound:
    """Both sides of one item changed; ``resolution`` says what the policy did."""

    name: ClassVar[str] = "conflict.found"
    key: str
    path: str
    resolution: str
    copy_path: str | None = None


E = TypeVar("E")


class EventBus(Generic[E]):
    """Delivers events to subscribers in this process, in publication order."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[E], None]] = []
        self._lock = threading.Lock()

    def subscribe(self, callback: Callable[[E], None]) -> Callable[[], None]:
        """Register ``callback``; returns a function that unsubscribes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: E) -> None:
        """Deliver ``event``; a failing subscriber is logged and never stops the others."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not break the sync that published
                log.exception("event subscriber failed on %s", getattr(event, "name", event))
