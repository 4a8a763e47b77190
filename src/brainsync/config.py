"""Settings, resolved at the edge: defaults < config file < BRAINSYNC_* env < arguments.

The library receives a :class:`Settings` object and never reads the environment itself;
:func:`load_settings` is what interfaces call to build one.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from brainsync.errors import ConfigError

__all__ = [
    "CONFLICT_POLICIES",
    "ENV_PREFIX",
    "ConflictPolicy",
    "Durability",
    "Settings",
    "load_settings",
    "unknown_env_warning",
]

ENV_PREFIX = "BRAINSYNC_"


class ConflictPolicy(StrEnum):
    """What a sync does when a file and its entity both changed since the last sync.

    Every policy but ``fail`` keeps the losing side as a conflict copy: nothing is lost.
    The values are what settings, the CLI and job parameters accept.
    """

    MERGE = "merge"  # merge edits that do not overlap; keep both otherwise
    KEEP_BOTH = "keep-both"  # import the file; the database version goes to a copy
    FILE_WINS = "file-wins"  # the same, reported as the file's win
    DB_WINS = "db-wins"  # write the database version; the file's goes to a copy
    FAIL = "fail"  # change nothing; report an error


class Durability(StrEnum):
    """How hard a committed write holds (catalogue K2).

    ``full`` syncs the SQLite entity store's write-ahead log at every commit and flushes
    a chunk's changed files before the sync records that describe them commit: a
    committed write, and a job recorded as succeeded after it, survives a power cut.
    ``normal`` does neither: faster, and a power cut may lose the last commits (never
    corrupts). PostgreSQL's durability is the server's own ``synchronous_commit``.
    """

    FULL = "full"
    NORMAL = "normal"


#: The accepted policy names, in the order the documentation lists them.
CONFLICT_POLICIES = tuple(policy.value for policy in ConflictPolicy)
DEFAULT_CONFIG_NAME = "brainsync.toml"


def _default_threads() -> int:
    # Measured on 2 cores: file threads beyond the main one only contended for the GIL and
    # the journal (bench/). Half the cores, at most 4, leaves the rest to parsing and the DB.
    return max(1, min(4, (os.cpu_count() or 1) // 2))


@dataclass(frozen=True)
class Settings:
    """Everything brainsync can be told; see the README for each key."""

    directory: Path = Path("brain-data")
    home: Path | None = None
    db: str | None = None
    jobs_db: str | None = None
    chunk_size: int = 500
    io_threads: int = field(default_factory=_default_threads)
    max_file_bytes: int = 5 * 1024 * 1024
    delete_share: float = 0.5
    mass_delete_min: int = 5
    propagate_deletes: bool = True
    #: Given as text (file, environment, arguments), held as the enum.
    conflict_policy: ConflictPolicy = ConflictPolicy.MERGE
    #: Entity history kept per entity: at most this many versions (the newest always)...
    history_keep_versions: int = 100
    #: ...and none older than this many days (0: no age limit).
    history_keep_days: float = 365.0
    job_deadline_seconds: float = 3600.0
    executor_id: str = field(default_factory=socket.gethostname)
    #: This machine's name in the folder registry (folders are per host and path).
    host: str = field(default_factory=socket.gethostname)
    #: This folder is on a mount every host reaches: its jobs may run on any host's worker.
    shared_folder: bool = False
    #: Seconds between a worker's heartbeats, and the silence after which it counts as dead.
    heartbeat_seconds: float = 2.0
    host_dead_seconds: float = 10.0
    #: A folder's label in ``brainsync folders`` (default: the directory's name).
    folder_label: str | None = None
    fsync: bool = False
    #: Replace a file that has no write bit when its entity changed (default: left alone).
    overwrite_readonly: bool = False
    #: Given as text (file, environment, arguments), held as the enum.
    durability: Durability = Durability.FULL
    chunk_pause_seconds: float = 0.0
    #: Register the built-in ``post`` type (its ``post/`` folder); false: ``post/`` holds notes.
    builtin_types: bool = True
    #: A followed job's progress line interval when stderr is not a terminal (a log).
    progress_seconds: float = 5.0
    worker_concurrency: int = 4
    #: How often a worker polls for jobs queued elsewhere: its own start at once, other
    #: processes' within 0.2 s on a SQLite job store (see jobs/dispatch.py).
    job_poll_seconds: float = 1.0
    #: Watch: quiet time (ms) before a batch of file events is taken; a file younger than
    #: this waits too, so a slow writer's save is one update.
    watch_debounce_ms: int = 100
    #: Watch: longest time (ms) one batch of events may gather during a burst.
    watch_batch_max_ms: int = 1000
    #: Watch: how long a deleted path waits before its delete is synced (an editor's or a
    #: branch switch's delete-and-recreate becomes an update).
    watch_delete_delay_seconds: float = 2.0
    #: Watch: the stat-only rescan of the whole folder, the safety net for lost events.
    watch_rescan_seconds: float = 600.0
    #: Watch: how often the store is polled for changes made by other processes or hosts.
    watch_poll_seconds: float = 1.0
    #: Bearer token the MCP server's HTTP transport requires (kept out of ``repr``).
    mcp_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.conflict_policy not in CONFLICT_POLICIES:
            allowed = ", ".join(CONFLICT_POLICIES)
            raise ConfigError(f"conflict policy must be one of {allowed}")
        # frozen: the one way to turn a policy given as text into the enum
        object.__setattr__(self, "conflict_policy", ConflictPolicy(self.conflict_policy))
        if self.durability not in {d.value for d in Durability}:
            raise ConfigError("durability must be full or normal")
        object.__setattr__(self, "durability", Durability(self.durability))
        if self.chunk_size < 1 or self.io_threads < 1 or self.worker_concurrency < 1:
            raise ConfigError("chunk_size, io_threads and worker_concurrency must be at least 1")
        if self.history_keep_versions < 1 or self.history_keep_days < 0:
            raise ConfigError("history_keep_versions must be at least 1, history_keep_days >= 0")
        if not 0 < self.heartbeat_seconds < self.host_dead_seconds:
            # a worker must beat at least once before it could be declared dead
            raise ConfigError("heartbeat_seconds must be above 0 and below host_dead_seconds")
        if self.progress_seconds <= 0:
            raise ConfigError("progress_seconds must be above 0")
        if not 0.0 <= self.delete_share <= 1.0:
            raise ConfigError("delete_share must be between 0 and 1")

    @property
    def root(self) -> Path:
        """The sync directory as an absolute path."""
        return self.directory.expanduser().absolute()

    @property
    def state_home(self) -> Path:
        """Where the database, job store and locks live: outside the synced directory."""
        if self.home is not None:
            return self.home.expanduser().absolute()
        return self.root.parent / ".brainsync"

    @property
    def store_url(self) -> str:
        """The entity store URL (SQLite beside the directory unless told otherwise)."""
        return self.db or f"sqlite:///{self.state_home / (self.root.name + '.sqlite')}"

    @property
    def jobs_url(self) -> str:
        """The job engine's system database URL."""
        return self.jobs_db or f"sqlite:///{self.state_home / (self.root.name + '.jobs.sqlite')}"


def _coerce(name: str, raw: Any) -> Any:
    """Turn a file or environment value into the type of the settings field ``name``."""
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = str(kinds[name])
    try:
        if "Path" in kind:
            return Path(str(raw))
        if kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"setting {name!r}: cannot use {raw!r}") from exc
    return str(raw)


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    section = data.get("brainsync", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [brainsync] must be a table")
    return {k.replace("-", "_"): v for k, v in section.items()}


_ENV_ALIASES = {"dir": "directory"}


def _env_names(env: Mapping[str, str]) -> dict[str, str]:
    """Each ``BRAINSYNC_*`` variable that is set, by the setting it names."""
    found: dict[str, str] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and value != "":
            name = key[len(ENV_PREFIX) :].lower()
            found[_ENV_ALIASES.get(name, name)] = key
    return found


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings ``BRAINSYNC_*`` variables give; other tools may share the prefix, so
    a variable that names no setting is left out (:func:`unknown_env_warning` names it)."""
    known = {f.name for f in fields(Settings)}
    return {name: env[key] for name, key in _env_names(env).items() if name in known}


def unknown_env_warning(env: Mapping[str, str]) -> str | None:
    """The warning an interface prints for ``BRAINSYNC_*`` variables that name no setting."""
    known = {f.name for f in fields(Settings)} | {"config"}
    unknown = sorted(key for name, key in _env_names(env).items() if name not in known)
    if not unknown:
        return None
    return (
        f"warning: ignoring {', '.join(unknown)}: not a brainsync setting "
        "(the README lists the settings)"
    )


def load_settings(
    arguments: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings from defaults, a config file, ``BRAINSYNC_*`` variables and arguments.

    ``config_file`` defaults to ``BRAINSYNC_CONFIG`` or ``./brainsync.toml`` when present.
    Unknown keys of the file and the arguments are an error, so a typo never silently falls
    back to a default; unknown ``BRAINSYNC_*`` variables are left out (other tools share
    the prefix): interfaces warn of them with :func:`unknown_env_warning`.
    """
    env = env or {}
    if config_file is None and env.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(env[ENV_PREFIX + "CONFIG"])
    if config_file is None and Path(DEFAULT_CONFIG_NAME).is_file():
        config_file = Path(DEFAULT_CONFIG_NAME)
    merged: dict[str, Any] = {}
    if config_file is not None:
        merged.update(_from_file(config_file))
    merged.update(_from_env(env))
    merged.update({k: v for k, v in (arguments or {}).items() if v is not None})
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    return replace(Settings(), **{k: _coerce(k, v) for k, v in merged.items()})
