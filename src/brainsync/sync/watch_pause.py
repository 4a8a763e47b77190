"""Why a watcher is paused, and when it looks again.

A watcher pauses for one of two reasons. Its folder's root is unusable (gone, replaced,
emptied): it looks every few polls and resumes once the root is whole. Or a job could not
be started (the store or the job store is away, or refuses): then the next attempt *is*
the start of a reconcile, made with a back-off that grows to a minute, and the pause ends
when a start succeeds. Either way the reconcile on resume covers every path that changed
meanwhile, and a pause is reported once, not at every attempt.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RETRY_POLLS", "Pause"]

#: A paused watcher looks again after this many poll intervals (a root that came back
#: empty fails its reconcile again: no job every poll interval).
RETRY_POLLS = 5
#: The longest wait between two attempts to start a job while the stores are away.
MAX_BACKOFF_SECONDS = 60.0


@dataclass
class Pause:
    """The pause of one watcher (guarded by the watcher's lock)."""

    poll_seconds: float
    reason: str | None = None
    #: Paused because a job could not be started (not because of the root).
    start_failed: bool = False
    retry_at: float = 0.0
    backoff: float = 0.0

    @property
    def active(self) -> bool:
        """Whether the watcher is paused."""
        return self.reason is not None

    def begin(self, reason: str, now: float, *, start_failed: bool = False) -> bool:
        """Pause, or stay paused after another failed attempt; whether to report it (a
        new or different reason)."""
        first = RETRY_POLLS * self.poll_seconds
        again = start_failed and self.start_failed
        self.backoff = min(MAX_BACKOFF_SECONDS, max(first, 2 * self.backoff)) if again else first
        self.retry_at = now + self.backoff
        news = reason != self.reason
        self.reason, self.start_failed = reason, start_failed
        return news

    def due(self, now: float) -> bool:
        """Whether it is time for the next look (or attempt)."""
        return now >= self.retry_at

    def later(self, now: float) -> None:
        """The root is not whole yet: look again in a few polls."""
        self.retry_at = now + RETRY_POLLS * self.poll_seconds

    def end(self) -> None:
        """Watching again."""
        self.reason, self.start_failed, self.backoff = None, False, 0.0
