"""Scale-out with real PostgreSQL and real processes as hosts (issue 11, catalogue S3).

Each "host" is a ``brainsync worker`` subprocess with its own host name, executor id,
state folder and folder, on one central store and one job store (two throwaway
PostgreSQL databases). The test process plays the user: it enqueues as a CLI of a host
would and watches the job store. Every wait is a loop on a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from brainsync.app import Brain
from brainsync.config import Settings
from brainsync.entities import EntityKey
from brainsync.errors import JobError
from brainsync.jobs import Job, JobState

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DEADLINE = 60.0
PASSWORD = "Pw-" + secrets.token_hex(8)
T = TypeVar("T")


def _until(what: str, probe: Callable[[], T | None], deadline: float = DEADLINE) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """A store and a job store: two fresh PostgreSQL databases (dropped afterwards)."""
    names = {kind: f"bs_scale_{kind}_{secrets.token_hex(5)}" for kind in ("store", "jobs")}
    try:
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as conn:
            for name in names.values():
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield {kind: f"postgresql+psycopg://postgres@127.0.0.1:5432/{n}" for kind, n in names.items()}
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        for name in names.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Host:
    """One simulated machine: its name, executor id, state folder and folder."""

    name: str
    base: Path
    urls: dict[str, str]
    env_extra: dict[str, str] = field(default_factory=dict)
    directory: Path | None = None

    @property
    def executor(self) -> str:
        return f"{self.name}-worker"

    @property
    def folder(self) -> Path:
        return self.directory or self.base / self.name / "folder"

    def settings(self, **extra: Any) -> Settings:
        return Settings(
            directory=self.folder,
            home=self.base / self.name / "state",
            db=self.urls["store"],
            jobs_db=self.urls["jobs"],
            host=self.name,
            executor_id=self.executor,
            **extra,
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
        env.update(
            BRAINSYNC_DIR=str(self.folder),
            BRAINSYNC_HOME=str(self.base / self.name / "state"),
            BRAINSYNC_DB=self.urls["store"],
            BRAINSYNC_JOBS_DB=self.urls["jobs"],
            BRAINSYNC_HOST=self.name,
            BRAINSYNC_EXECUTOR_ID=self.executor,
            BRAINSYNC_HEARTBEAT_SECONDS="0.3",
            BRAINSYNC_HOST_DEAD_SECONDS="2",
            **self.env_extra,
        )
        return env

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "brainsync", *args],
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )


class Cluster:
    """The hosts of one brain, their worker processes and the brains the test opens."""

    def __init__(self, base: Path, urls: dict[str, str]) -> None:
        self.base = base
        self.urls = urls
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.brains: list[Brain] = []

    def host(self, name: str, **env: str) -> Host:
        return Host(name, self.base, self.urls, dict(env))

    def brain(self, host: Host, **extra: Any) -> Brain:
        brain = Brain(host.settings(**extra))
        self.brains.append(brain)
        return brain

    def start(self, host: Host, command: str = "worker") -> subprocess.Popen[bytes]:
        """Start the host's worker (or ``watch``, which runs one) and wait until its
        heartbeat says it is alive."""
        log = (self.base / f"{host.name}.{command}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "brainsync", command], env=host.env(), stderr=log, stdout=log
        )
        log.close()
        self.procs[host.executor] = proc
        _until(f"{host.name} alive", lambda: self.alive(host))
        return proc

    def alive(self, host: Host) -> bool:
        workers = self.brains[0].jobs(worker=False).hosts()
        return any(w.executor_id == host.executor and w.alive for w in workers)

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        for brain in self.brains:
            brain.close()


@pytest.fixture
def cluster(tmp_path: Path, databases: dict[str, str]) -> Iterator[Cluster]:
    found = Cluster(tmp_path, databases)
    yield found
    found.close()


def _finished(brain: Brain, job_id: str) -> Job:
    return _until(
        f"job {job_id} to finish",
        lambda: (job := brain.jobs(worker=False).status(job_id)).state.finished and job,
    )


def _notes(brain: Brain, count: int) -> None:
    for index in range(count):
        brain.put_entity("note", f"n{index:03}", metadata={"title": f"Note {index}"}, content="x")


def _exported(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.md"))


def test_each_host_runs_only_its_own_folders_jobs(cluster: Cluster) -> None:
    a, b, c = (cluster.host(name) for name in ("host-a", "host-b", "host-c"))
    brains = {h.name: cluster.brain(h) for h in (a, b, c)}
    _notes(brains["host-a"], 10)
    cluster.start(a)
    cluster.start(b)
    jobs = {name: brain.start("export", worker=False) for name, brain in brains.items()}
    for host in (a, b):
        job = _finished(brains[host.name], jobs[host.name])
        assert job.state is JobState.SUCCEEDED, job.error
        assert (job.host, job.executor) == (host.name, host.executor)
        assert _exported(host.folder) == 10
    # nobody serves host-c's queue yet: its job waits, and it cannot be moved elsewhere
    waiting = brains["host-a"].jobs(worker=False).status(jobs["host-c"])
    assert waiting.state is JobState.QUEUED and waiting.host == "host-c"
    with pytest.raises(JobError, match="only a running job"):
        brains["host-a"].jobs(worker=False).takeover(jobs["host-c"])
    cluster.start(c)
    job = _finished(brains["host-c"], jobs["host-c"])
    assert (job.state, job.executor) == (JobState.SUCCEEDED, c.executor)
    assert _exported(c.folder) == 10
    # every host sees every job with where it ran, and every worker
    listed = b.cli("jobs")
    assert listed.returncode == 0, listed.stderr
    for host in (a, b, c):
        assert f"{host.name}/{host.executor}" in listed.stdout
    cluster.procs[a.executor].send_signal(signal.SIGTERM)
    assert cluster.procs[a.executor].wait(timeout=60) == 0

    def hosts_listed() -> dict[str, Any] | None:
        shown = json.loads(c.cli("hosts", "--json").stdout)["workers"]
        by_id = {w["executor_id"]: w for w in shown}
        return by_id if by_id[a.executor]["stopped"] else None

    workers = _until("host-a shown stopped", hosts_listed)
    assert workers[a.executor]["alive"] is False
    assert workers[b.executor]["alive"] and workers[c.executor]["alive"]


def test_a_shared_folders_job_is_taken_over_only_after_its_host_died(
    cluster: Cluster, tmp_path: Path
) -> None:
    mount = tmp_path / "mount" / "team"  # a folder every host reaches
    slow = {"BRAINSYNC_CHUNK_SIZE": "5", "BRAINSYNC_CHUNK_PAUSE_SECONDS": "0.5"}
    a = cluster.host("host-a", **slow)
    b = cluster.host("host-b", BRAINSYNC_CHUNK_SIZE="5")
    a.directory = b.directory = mount
    brain = cluster.brain(a, shared_folder=True)
    _notes(brain, 100)
    cluster.start(a)
    job_id = brain.start("export", worker=False)
    jobs = brain.jobs(worker=False)
    running = _until(
        "the shared job to run on host-a",
        lambda: (j := jobs.status(job_id)).progress.current >= 5 and j,
    )
    assert running.host is None and running.executor == a.executor
    assert running.params["shared"] is True and running.state is JobState.RUNNING
    refused = b.cli("job", "takeover", job_id)
    assert refused.returncode == 7 and "is alive" in refused.stderr, refused.stderr
    cluster.procs[a.executor].kill()  # power loss: no goodbye, the job stays PENDING
    cluster.start(b)
    _until("host-a to count as dead", lambda: not cluster.alive(a))
    taken = b.cli("job", "takeover", job_id, "--json")
    assert taken.returncode == 0, taken.stderr
    job = _finished(brain, job_id)
    assert (job.state, job.executor) == (JobState.SUCCEEDED, b.executor), job.error
    assert _exported(mount) == 100
    assert job.result is not None and not job.result.errors


def test_a_password_in_a_store_url_is_never_shown_or_stored(
    cluster: Cluster, databases: dict[str, str]
) -> None:
    # trust auth ignores the password, so the URLs work and the secret has to be hidden
    secret = {k: v.replace("postgres@", f"postgres:{PASSWORD}@") for k, v in databases.items()}
    host = Host("host-s", cluster.base, secret)
    brain = Brain(host.settings())
    cluster.brains.append(brain)
    _notes(brain, 3)
    outputs = [host.cli(*args) for args in (["export", "--json"], ["status", "--json"])]
    for args in (["status"], ["folders", "--json"], ["hosts", "--json"], ["jobs"]):
        outputs.append(host.cli(*args))
    assert all(out.returncode == 0 for out in outputs), [o.stderr for o in outputs]
    assert "***" in json.loads(outputs[1].stdout)["store"]
    records = [job.to_dict() for job in brain.jobs(worker=False).list()]
    assert records and PASSWORD not in json.dumps(records)
    # connection errors: the driver's text is shown, the URL's password never
    broken = {k: v.replace("127.0.0.1:5432", "127.0.0.1:1") for k, v in secret.items()}
    failing = Host("host-s", cluster.base, {"store": broken["store"], "jobs": secret["jobs"]})
    outputs.append(failing.cli("-v", "export", "--json"))
    assert outputs[-1].returncode == 6, outputs[-1].stderr
    outputs.append(Host("host-s", cluster.base, broken).cli("-v", "jobs", "--json"))
    assert outputs[-1].returncode == 7 and "***" in outputs[-1].stderr, outputs[-1].stderr
    for out in outputs:
        assert PASSWORD not in out.stdout + out.stderr, out.args
    for log in (cluster.base / "host-s" / "state").glob("*.log*"):
        assert PASSWORD not in log.read_text(encoding="utf-8", errors="replace")
    for url in databases.values():
        assert PASSWORD not in _dump(url)


def _dump(url: str) -> str:
    """Every row of every table of the database at ``url``, as text."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    parts: list[str] = []
    with psycopg.connect(dsn) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
            "AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            parts.extend(row[0] for row in rows)
    assert parts, "the dump found no rows: the check would prove nothing"
    return "\n".join(parts)


class _Outage:
    """The databases of one brain go away and come back, as in a PostgreSQL restart.

    Restarting the server itself would break the other tests sharing it, so the outage is
    made per database: new connections are refused and every open one is killed with the
    same "terminating connection due to administrator command" a restart sends.
    """

    def __init__(self, urls: dict[str, str]) -> None:
        self.names = [url.rsplit("/", 1)[1] for url in urls.values()]

    def __enter__(self) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ANY(%s)",
                (self.names,),
            )

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def test_a_worker_lives_through_the_databases_going_away_and_coming_back(
    cluster: Cluster, databases: dict[str, str]
) -> None:
    host = cluster.host("host-a", BRAINSYNC_CHUNK_SIZE="5", BRAINSYNC_CHUNK_PAUSE_SECONDS="0.3")
    brain = cluster.brain(host)
    _notes(brain, 60)
    worker = cluster.start(host)
    job_id = brain.start("export", worker=False)
    jobs = brain.jobs(worker=False)
    _until("the export to be under way", lambda: jobs.status(job_id).progress.current >= 5)
    with _Outage(databases):
        began = time.monotonic()
        refused = host.cli("jobs")  # a command meanwhile says so in a line or two
        assert refused.returncode == 7, refused.stderr
        assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) <= 2
        # the outage lasts 3 s: a length, not a wait for something to happen
        time.sleep(max(0.0, 3.0 - (time.monotonic() - began)))
        assert worker.poll() is None
    job = _finished(brain, job_id)
    assert worker.poll() is None, "the worker died with the database"
    assert job.state is JobState.SUCCEEDED, job.error
    assert _exported(host.folder) == 60
    _until("the heartbeat to be fresh again", lambda: cluster.alive(host))
    brain.put_entity("note", "after", metadata={"title": "After"}, content="y")
    after = _finished(brain, brain.start("export", worker=False))
    assert (after.state, after.executor) == (JobState.SUCCEEDED, host.executor), after.error
    assert _exported(host.folder) == 61


def test_edits_through_one_host_reach_the_folders_other_hosts_watch(cluster: Cluster) -> None:
    fast = {
        "BRAINSYNC_WATCH_DEBOUNCE_MS": "50",
        "BRAINSYNC_WATCH_POLL_SECONDS": "0.2",
        "BRAINSYNC_WATCH_DELETE_DELAY_SECONDS": "0.5",
    }
    a, b = cluster.host("host-a", **fast), cluster.host("host-b", **fast)
    c = cluster.host("host-c")  # no folder of its own in play: a CLI on a third machine
    brain = cluster.brain(c)
    _notes(brain, 3)
    for host in (a, b):
        host.folder.mkdir(parents=True)
    watchers = [cluster.start(host, "watch") for host in (a, b)]
    for host in (a, b):
        _until(f"{host.name}'s startup reconcile", lambda h=host: _exported(h.folder) == 3)

    def same_file(rel: str, text: str) -> bool:
        files = [h.folder / rel for h in (a, b)]
        return all(f.is_file() and f.read_text() == text for f in files)

    text = "---\ntitle: From host C\n---\nWritten through host C's CLI.\n"
    put = c.cli("entity", "put", "note", "from-c", stdin=text)
    assert put.returncode == 0, put.stderr
    _until("host C's entity in both watched folders", lambda: same_file("from-c.md", text))
    saved = "---\ntitle: From host A\n---\nSaved in host A's folder by an editor.\n"
    (a.folder / "from-a.md").write_text(saved)
    _until("host A's file in host B's folder", lambda: same_file("from-a.md", saved))
    entity = brain.get_entity("note", "from-a")
    assert entity is not None and "by an editor" in entity.content
    removed = c.cli("entity", "delete", "note", "from-c")
    assert removed.returncode == 0, removed.stderr
    _until(
        "the delete in both folders",
        lambda: not any((h.folder / "from-c.md").exists() for h in (a, b)),
    )
    for watcher in watchers:
        watcher.send_signal(signal.SIGTERM)
    assert [w.wait(timeout=60) for w in watchers] == [0, 0]
    assert sorted(p.name for p in a.folder.glob("*.md")) == sorted(
        p.name for p in b.folder.glob("*.md")
    )


def _tree(folder: Path) -> dict[str, bytes]:
    """The notes under ``folder`` (not hidden files such as a killed write's temp file)."""
    found = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.md")}
    return {rel: data for rel, data in found.items() if not rel.startswith(".") and "/." not in rel}


def _posts(tmp_path: Path, count: int) -> Brain:
    """A reference brain (SQLite, uninterrupted) holding ``count`` posts, exported."""
    reference = Brain(Settings(directory=tmp_path / "reference", home=tmp_path / "ref-state"))
    reference.settings.root.mkdir(parents=True)
    for index in range(count):
        text = f"---\ntitle: Idea {index}\ntags: [k1]\n---\nIdea {index}.\n"
        reference.put_entity("post", f"i{index:03}", text=text)
    assert reference.export().created == count
    return reference


def test_hosts_killed_mid_export_and_mid_import_resume_while_another_works(
    cluster: Cluster, tmp_path: Path
) -> None:
    slow = {"BRAINSYNC_CHUNK_SIZE": "5", "BRAINSYNC_CHUNK_PAUSE_SECONDS": "0.2"}
    a, b = cluster.host("host-a", **slow), cluster.host("host-b", **slow)
    c = cluster.host("host-c", BRAINSYNC_CHUNK_SIZE="5", BRAINSYNC_CHUNK_PAUSE_SECONDS="0.05")
    brains = {h.name: cluster.brain(h) for h in (a, b, c)}
    _notes(brains["host-c"], 150)
    reference = _posts(tmp_path, 100)
    try:
        shutil.copytree(reference.settings.root, b.folder)
        for host in (a, b, c):
            cluster.start(host)
        notes_only = {"types": ["note"]}
        exporting = brains["host-a"].start("export", notes_only, worker=False)
        importing = brains["host-b"].start("import", worker=False)
        jobs = brains["host-c"].jobs(worker=False)
        for host, job_id in ((a, exporting), (b, importing)):
            # power loss on two machines, each part-way through its job
            _until("the job part-way", lambda j=job_id: jobs.status(j).progress.current >= 10)
            cluster.procs[host.executor].kill()
            cluster.procs[host.executor].wait(timeout=30)
        for job_id in (exporting, importing):
            assert jobs.status(job_id).state is JobState.RUNNING
        # the third host works on meanwhile, and finishes while the others are down
        elsewhere = _finished(brains["host-c"], brains["host-c"].start("export", notes_only))
        assert (elsewhere.state, elsewhere.executor) == (JobState.SUCCEEDED, c.executor)
        for job_id in (exporting, importing):
            assert not jobs.status(job_id).state.finished
        for host in (a, b):
            cluster.start(host)  # the same executor id: DBOS recovers its jobs
        for host, job_id in ((a, exporting), (b, importing)):
            job = _finished(brains[host.name], job_id)
            assert (job.state, job.executor) == (JobState.SUCCEEDED, host.executor), job.error
            assert job.result is not None and not job.result.errors
        # the end state is that of uninterrupted runs
        assert len(_tree(a.folder)) == 150 and _tree(a.folder) == _tree(c.folder)
        assert _tree(b.folder) == _tree(reference.settings.root)
        for index in range(100):
            key = ("post", f"i{index:03}")
            stored, expected = brains["host-a"].get_entity(*key), reference.get_entity(*key)
            assert stored is not None and expected is not None
            assert stored.document == expected.document
    finally:
        reference.close()


def test_a_watcher_lives_through_the_databases_going_away_and_coming_back(
    cluster: Cluster, databases: dict[str, str]
) -> None:
    a = cluster.host(
        "host-a",
        BRAINSYNC_WATCH_DEBOUNCE_MS="50",
        BRAINSYNC_WATCH_POLL_SECONDS="0.2",
        BRAINSYNC_WATCH_DELETE_DELAY_SECONDS="0.5",
    )
    c = cluster.host("host-c")
    brain = cluster.brain(c)
    _notes(brain, 3)
    a.folder.mkdir(parents=True)
    watcher = cluster.start(a, "watch")
    _until("the startup reconcile", lambda: _exported(a.folder) == 3)
    with _Outage(databases):
        began = time.monotonic()
        # an editor saves while the brain is away: the save must land once it is back
        (a.folder / "offline.md").write_text("---\ntitle: Offline\n---\nSaved offline.\n")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - began)))  # the outage's length
        assert watcher.poll() is None
    offline = EntityKey("note", "offline")
    _until("the offline save imported", lambda: brain.store.get(offline))
    text = "---\ntitle: Later\n---\nPut through host C after the outage.\n"
    assert c.cli("entity", "put", "note", "later", stdin=text).returncode == 0
    later = a.folder / "later.md"
    _until(
        "host C's change in the watched folder",
        lambda: later.exists() and later.read_text() == text,
    )
    watcher.send_signal(signal.SIGTERM)
    assert watcher.wait(timeout=60) == 0
