"""What a run needs of its folder: which folder it is, joining it, and a queued job's check.

The facade (:class:`brainsync.app.Brain`) asks this module; the identity rules themselves
live in :mod:`brainsync.sync.folders`.
"""

from __future__ import annotations

from pathlib import Path

from brainsync.errors import InvalidInputError, NotFoundError, RootUnavailableError
from brainsync.store import FolderRecord, Store
from brainsync.sync.folders import FolderPlace, Folders, Joined
from brainsync.sync.scan import check_root as check_scan_root

__all__ = ["FolderRuns", "check_root", "missing_root"]

#: The shortest id prefix that names a folder on the command line.
MIN_PREFIX = 4


class FolderRuns:
    """The folders of one store, as seen from one directory on one host."""

    def __init__(self, store: Store, state_home: Path, place: FolderPlace) -> None:
        self._store = store
        self._registry = Folders(store, state_home)
        self._place = place

    def find(self) -> FolderRecord | None:
        """The folder this directory is in the store, or None before it joins."""
        return self._registry.find(self._place)

    def join(self) -> Joined:
        """This directory's folder, registered first if the store does not know it yet."""
        return self._registry.join(self._place)

    def forget(self, folder_id: str) -> FolderRecord:
        """Drop a folder's sync state (an id or a unique prefix); nothing else is deleted."""
        folder = self.by_id(folder_id)
        self._store.forget_folder(folder.id)
        self._registry.forget_here(folder.id)
        return folder

    def by_id(self, folder_id: str) -> FolderRecord:
        """The folder named by an id or a unique prefix of at least 4 characters."""
        folders = self._store.list_folders()
        exact = [f for f in folders if f.id == folder_id]
        long_enough = len(folder_id) >= MIN_PREFIX
        found = exact or [f for f in folders if long_enough and f.id.startswith(folder_id)]
        if len(found) == 1:
            return found[0]
        if found:
            names = f"{folder_id!r} names {len(found)} folders"
            raise InvalidInputError(f"{names}; give more of the id")
        raise NotFoundError(f"no folder {folder_id!r}; `brainsync folders` lists them")

    def for_run(self, kind: str, dry_run: bool) -> tuple[str | None, list[str]]:
        """The folder a run works on, and notes on how it was found.

        A dry run never registers anything; a real run joins the folder first (a first
        export into a directory that does not exist yet creates it: a restore).
        """
        if dry_run:
            found = self.find()
            return (None if found is None else found.id), []
        root = self._place.path
        if not root.exists() and self.find() is None:
            if kind != "export":
                raise missing_root(root)
            root.mkdir(parents=True)
        joined = self.join()
        return joined.folder.id, [joined.note] if joined.note else []

    def check(self, folder_id: str) -> None:
        """Refuse to run a queued job on a directory that is no longer its folder."""
        known = self._store.get_folder(folder_id)
        if known is not None and known.host != self._place.host:
            # a worker on another host serving a shared mount: this host's registry does
            # not know the folder; the store's record and the planned root identity do
            return
        found = self.find()
        if found is None or found.id != folder_id:
            raise RootUnavailableError(
                f"{self._place.path} is no longer folder {folder_id} (moved, replaced or "
                "forgotten since the job was queued); start the run again"
            )


def missing_root(root: Path) -> RootUnavailableError:
    """The refusal of a run (not an export) in a directory that does not exist."""
    return RootUnavailableError(
        f"sync directory {root} does not exist; create it, or run `export` to write the "
        "store into a new folder there"
    )


def check_root(root: Path, kind: str, store_url: str) -> None:
    """Refuse a run in ``root`` before anything is opened or created: a path that is not a
    readable directory, or a missing one (an export creates it; a store that may know the
    folder is asked later, by :meth:`FolderRuns.for_run`)."""
    from brainsync.placement import store_exists  # placement imports the folder registry

    if root.exists():
        check_scan_root(root)  # not a folder, or unreadable: the scan's own refusal
    elif kind != "export" and not store_exists(store_url):
        raise missing_root(root)
