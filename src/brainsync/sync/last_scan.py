"""The last scan of a folder: what its next sync would have done, and when that was seen.

``brainsync status`` answers from stored facts at once, at any size (catalogue K6: it
must answer while a long job runs); planning a fresh dry run is ``status --pending``,
which stores its summary here so the next plain ``status`` can show it with its age.
The summary lives in the store's meta rows, next to the folder it describes, and is
bounded: counts in full, at most :data:`KEPT` items of each list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from brainsync.report import Report
from brainsync.store import FolderRecord, Store

__all__ = ["KEPT", "LastScan", "fresh_scan", "load_last_scan", "save_last_scan"]

#: Items kept of each list of the report (the counts are always whole).
KEPT = 50
_LISTS = ("conflicts", "merged", "left_alone", "skipped", "errors")
_PATHS = ("created_paths", "updated_paths", "deleted_paths", "moved_paths")


def _key(folder_id: str) -> str:
    return f"last_scan:{folder_id}"


@dataclass(frozen=True)
class LastScan:
    """A dry-run sync's report for one folder, and when it ran."""

    at: datetime
    report: Report
    #: How many items of each list were left out of the stored report.
    omitted: dict[str, int] = field(default_factory=dict)

    def age_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the scan."""
        return ((now or datetime.now(UTC)) - self.at).total_seconds()

    def stale_after(self, last_runs: dict[str, datetime]) -> bool:
        """Whether a real run since the scan made it out of date."""
        return any(when > self.at for when in last_runs.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the report with its lists bounded)."""
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "age_seconds": round(self.age_seconds(), 1),
            "report": self.report.to_dict(),
            "omitted": dict(self.omitted),
        }


def save_last_scan(store: Store, folder_id: str, report: Report) -> LastScan:
    """Store ``report`` (a dry-run sync of the folder) as its last scan, bounded."""
    omitted = {name: len(getattr(report, name)) - KEPT for name in (*_LISTS, *_PATHS)}
    bounded = replace(
        report,
        conflicts=report.conflicts[:KEPT],
        merged=report.merged[:KEPT],
        left_alone=report.left_alone[:KEPT],
        skipped=report.skipped[:KEPT],
        errors=report.errors[:KEPT],
        **{name: getattr(report, name)[:KEPT] for name in _PATHS},
    )
    scan = LastScan(datetime.now(UTC), bounded, {k: n for k, n in omitted.items() if n > 0})
    data = {"at": scan.at.isoformat(), "report": bounded.to_dict(), "omitted": scan.omitted}
    store.set_meta(_key(folder_id), json.dumps(data))
    return scan


def load_last_scan(store: Store, folder_id: str) -> LastScan | None:
    """The folder's last stored scan, or None (never scanned, or unreadable)."""
    raw = store.get_meta(_key(folder_id))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        report = Report.from_dict(data["report"])
        return LastScan(datetime.fromisoformat(data["at"]), report, dict(data["omitted"]))
    except (ValueError, KeyError, TypeError):
        return None  # written by another version: the next `status --pending` replaces it


def fresh_scan(store: Store, folder: FolderRecord) -> LastScan | None:
    """The folder's last scan, unless a real run since then made it out of date."""
    scan = load_last_scan(store, folder.id)
    return None if scan is None or scan.stale_after(folder.last_runs) else scan
