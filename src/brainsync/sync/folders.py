"""Which folder of the store a directory is: identity that survives a rename, never a copy.

A folder's id lives in the store (its row in ``folders``) and, on each host, in a small
registry in the state folder (``folders.json``, outside the synced directory). A registry
entry names the store, the host, the absolute path and the directory's device and inode.
A directory is the remembered folder when:

- its path, host, device and inode match an entry, and so does the token brainsync put in
  the directory's extended attribute ``user.brainsync.folder-token`` (where the file
  system keeps them; an inode number is reused at once after ``rm -rf`` and ``mkdir``, the
  attribute is not) (the usual case); or
- its device and inode match an entry whose old path no longer leads to that directory
  (the folder was renamed or moved on the same file system: its state follows it).

Anything else joins as a *new* folder, which is always safe (a join deletes nothing): a
copied folder (new inode), a folder replaced at the same path, a state folder copied beside
another directory (another path), a registry carried to another host, a folder forgotten
in the store. Two directories therefore never share one sync state (catalogue F4).

The directory also says which state folder synced it (``user.brainsync.state-home``), and
:func:`stores_remembering` tells which stores remember it: :mod:`brainsync.placement`
finds a renamed folder's store by them (catalogue F6).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from brainsync.errors import ConfigError, DiskFullError, disk_full
from brainsync.store import FolderRecord, Store

__all__ = ["FolderPlace", "Folders", "Joined", "marked_home", "stores_remembering"]

_REGISTRY = "folders.json"
_LOCK = "folders.lock"
#: Records of a schema-1 store compared with the directory before adopting its state.
_ADOPT_SAMPLE = 200


@dataclass(frozen=True)
class FolderPlace:
    """Where a folder is: this host, this absolute path, this directory."""

    host: str
    path: Path
    label: str


@dataclass(frozen=True)
class _Entry:
    store: str
    folder: str
    host: str
    path: str
    device: int
    inode: int
    #: The token in the directory's extended attribute (None where the file system has none).
    token: str | None = None

    @property
    def identity(self) -> tuple[int, int]:
        # the device too: two file systems mounted in turn at one path may reuse an inode
        return self.device, self.inode

    def is_directory(self, identity: tuple[int, int], token: str | None) -> bool:
        """Whether a directory with this identity and token is the one remembered.

        An inode number is reused at once after ``rm -rf`` and ``mkdir``; the token, kept
        in an extended attribute of the directory itself, is not: a new directory has none.
        """
        return identity == self.identity and (self.token is None or token == self.token)


@dataclass(frozen=True)
class Joined:
    """The folder a directory is, and what happened to find it (for the report)."""

    folder: FolderRecord
    note: str | None = None


class Folders:
    """The folder registry of one state folder, for one store."""

    def __init__(self, store: Store, state_home: Path) -> None:
        self._store = store
        self._home = state_home

    def find(self, place: FolderPlace) -> FolderRecord | None:
        """The folder this directory already is, or None (nothing is written, nothing is
        created: the registry is replaced atomically, so reading it needs no lock)."""
        entry, _ = self._match(place)
        return None if entry is None else self._store.get_folder(entry.folder)

    def join(self, place: FolderPlace) -> Joined:
        """The folder this directory is, registering it first when the store has none."""
        with self._locked():
            entry, note = self._match(place)
            folder = None if entry is None else self._store.get_folder(entry.folder)
            if folder is not None and folder.claimed and folder.host != place.host:
                folder = None  # another host holds it now: never share its state
            if folder is not None and entry is not None:
                if (folder.path, folder.host, folder.label) != self._where(place):
                    self._store.claim_folder(folder.id, place.label, place.host, str(place.path))
                self._remember(entry.folder, place)
                return Joined(self._refreshed(folder.id), note)
            if entry is not None:
                note = f"folder {entry.folder} is no longer in the store; joined as a new folder"
            return self._adopt_or_add(place, note)

    def forget_here(self, folder_id: str) -> None:
        """Drop this host's registry entries of a folder (after the store forgot it)."""
        with self._locked():
            kept = [e for e in self._entries() if e.folder != folder_id]
            self._save(kept)

    # -- matching --------------------------------------------------------------------------

    def _match(self, place: FolderPlace) -> tuple[_Entry | None, str | None]:
        ours = [
            e for e in self._entries() if e.store == self._store.store_id and e.host == place.host
        ]
        identity = _identity(place.path)
        token = _read_token(place.path)
        at_path = next((e for e in ours if e.path == str(place.path)), None)
        if at_path is not None and (identity is None or at_path.is_directory(identity, token)):
            return at_path, None  # a missing root stays this folder: the guards refuse it
        if identity is None:
            return None, None
        for entry in ours:
            moved = _identity(Path(entry.path)) != identity  # the old path is not this one
            if moved and entry.is_directory(identity, token):
                return entry, f"folder moved from {entry.path}; its sync state follows it"
        if at_path is not None:
            return None, (
                f"{place.path} is not the directory that was synced there before (copied or "
                "replaced); it joins as a new folder"
            )
        return None, None

    def _adopt_or_add(self, place: FolderPlace, note: str | None) -> Joined:
        for folder in self._store.list_folders():
            if not folder.claimed and self._matches_files(folder, place.path):
                where = (place.label, place.host, str(place.path))
                if not self._store.claim_folder(folder.id, *where, only_unclaimed=True):
                    continue  # another host adopted it just now: that state is not ours
                self._remember(folder.id, place)
                adopted = "adopted the sync state of this store's first release (schema 1)"
                return Joined(self._refreshed(folder.id), adopted)
        folder = FolderRecord(
            id=uuid.uuid4().hex[:16],
            label=place.label,
            host=place.host,
            path=str(place.path),
            created=datetime.now(UTC),
        )
        self._store.add_folder(folder)
        self._remember(folder.id, place)
        return Joined(self._refreshed(folder.id), note)

    def _matches_files(self, folder: FolderRecord, root: Path) -> bool:
        """Whether most sampled records of an unclaimed state describe files under ``root``."""
        sample, same = 0, 0
        for record in self._store.iter_records(folder.id, page_size=_ADOPT_SAMPLE):
            sample += 1
            try:
                info = os.lstat(root / record.path)
            except OSError:
                info = None
            if info is not None and (info.st_size, info.st_mtime_ns) == (
                record.size,
                record.mtime_ns,
            ):
                same += 1
            if sample >= _ADOPT_SAMPLE:
                break
        return same > 0 and 2 * same >= sample

    def _refreshed(self, folder_id: str) -> FolderRecord:
        folder = self._store.get_folder(folder_id)
        assert folder is not None, "registered just now under the registry lock"
        return folder

    @staticmethod
    def _where(place: FolderPlace) -> tuple[str, str, str]:
        return str(place.path), place.host, place.label

    # -- the local registry ----------------------------------------------------------------

    def _remember(self, folder_id: str, place: FolderPlace) -> None:
        identity = _identity(place.path)
        if identity is None:
            return  # nothing to recognise it by yet; it is looked for again next time
        token = _ensure_token(place.path)
        _mark_home(place.path, self._home)
        entry = _Entry(
            self._store.store_id, folder_id, place.host, str(place.path), *identity, token
        )
        others = [
            e
            for e in self._entries()
            if e.folder != folder_id
            and (e.store, e.host, e.path) != (entry.store, entry.host, entry.path)
        ]
        self._save([*others, entry])

    def _entries(self) -> list[_Entry]:
        return _registry(self._home)

    def _save(self, entries: list[_Entry]) -> None:
        path = self._home / _REGISTRY
        temp = path.with_name(f".{_REGISTRY}.{os.getpid()}.tmp")
        data = {"version": 1, "folders": [asdict(e) for e in entries]}
        try:
            temp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            os.replace(temp, path)
        except OSError as exc:
            temp.unlink(missing_ok=True)  # never a half-written file left behind
            if disk_full(exc):
                raise DiskFullError(
                    f"disk full: no space left in the state folder {self._home}; the folder "
                    "registry was not updated. Free space there, then run the command again"
                ) from exc
            raise

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time reads and writes the registry (two first runs at once
        would otherwise register one directory twice)."""
        self._home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._home / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _registry(home: Path) -> list[_Entry]:
    path = home / _REGISTRY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [_Entry(**raw) for raw in data["folders"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the folder registry {path}: {exc}; move it away to let every "
            "folder here join again (nothing is deleted by a join)"
        ) from exc


def stores_remembering(home: Path, host: str, path: Path) -> set[str]:
    """The ids of the stores whose entries in ``home``'s registry are this directory
    (same device, inode and token: the path may have changed). Nothing is written."""
    identity = _identity(path)
    if identity is None:
        return set()
    token = _read_token(path)
    entries = _registry(home)
    return {e.store for e in entries if e.host == host and e.is_directory(identity, token)}


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of a directory, or None when there is none at ``path``."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino) if os.path.isdir(path) else None


#: The extended attribute that marks a directory as the one a registry entry remembers.
_TOKEN_ATTRIBUTE = "user.brainsync.folder-token"


def _read_token(path: Path) -> str | None:
    """The directory's token, or None (none set, or no extended attributes there)."""
    try:
        return os.getxattr(path, _TOKEN_ATTRIBUTE).decode("ascii")
    except (OSError, AttributeError, UnicodeDecodeError):
        return None


def _ensure_token(path: Path) -> str | None:
    """The directory's token, set now if it has none; None where it cannot be kept.

    The token lives in the directory's own metadata, not in a file: no tool lists it and no
    sync reads it, but it goes away with the directory, which an inode number does not.
    """
    token = _read_token(path)
    if token is not None:
        return token
    token = uuid.uuid4().hex
    try:
        os.setxattr(path, _TOKEN_ATTRIBUTE, token.encode("ascii"))
    except (OSError, AttributeError):
        return None  # a file system without user attributes: the inode has to do
    return token


#: The extended attribute naming the state folder whose registry remembers the directory:
#: a folder moved away from its state folder can say where its store is.
_HOME_ATTRIBUTE = "user.brainsync.state-home"


def marked_home(path: Path) -> Path | None:
    """The state folder the directory was last synced with, where the file system says."""
    try:
        return Path(os.fsdecode(os.getxattr(path, _HOME_ATTRIBUTE)))
    except (OSError, AttributeError):
        return None


def _mark_home(path: Path, home: Path) -> None:
    if marked_home(path) == home:
        return
    # a file system without user attributes: a moved folder cannot say where it was from
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(path, _HOME_ATTRIBUTE, os.fsencode(str(home)))
