"""Catalogue K1 with the real operations: kill -9 a worker mid-export and mid-import.

A `brainsync worker` subprocess runs the job; it is killed with SIGKILL part-way through,
started again with the same executor id, and the end state is compared byte for byte (the
whole folder, hidden files and folders included) and row for row (entities, sync records)
with an uninterrupted run. A kill mid-write leaves a temp file; the next run removes it.
One kill lands inside a chunk's writes, with a file half written (``paused_worker.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from folder_state import records as folder_records

from brainsync import Brain, Entity, EntityKey, Settings
from brainsync.jobs import JobState
from brainsync.store import ChangeSet
from brainsync.sync.files import temp_name
from brainsync.sync.ignore import TEMP_SUFFIX
from brainsync.sync.markdown import render

N = 1500
CHUNK = 50
PAUSE = 0.05  # seconds before each chunk: long enough to kill the worker part-way
PAUSED_WORKER = Path(__file__).with_name("paused_worker.py")


def _entities() -> list[Entity]:
    base = datetime(2024, 5, 1, tzinfo=UTC)
    made = []
    for i in range(N):
        kind = "post" if i % 3 == 0 else "note"
        meta = {"title": f"Entity {i}", "tags": ["crash", f"t{i % 7}"]}
        body = f"# Entity {i}\n\nBody of entity {i}.\n" + "text " * (i % 40) + "\n"
        doc = render(meta, body)
        when = base + timedelta(minutes=i)
        key = EntityKey(kind, f"folder{i % 10}:item-{i:05d}")
        made.append(Entity(key, doc, body, meta, when, when))
    return made


def _settings(tmp_path: Path, name: str, store_url: str, jobs_url: str | None) -> Settings:
    return Settings(
        directory=tmp_path / name / "brain",
        home=tmp_path / name / "state",
        db=store_url if name == "crash" else None,
        jobs_db=jobs_url,
        chunk_size=CHUNK,
        chunk_pause_seconds=PAUSE,
        executor_id="crash-worker-1",
    )


def _jobs_url(store_url: str) -> str | None:
    """Scale-out mode keeps the job store in PostgreSQL too; the default is SQLite."""
    return store_url if store_url.startswith("postgresql") else None


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINSYNC_")}
    env.update(
        BRAINSYNC_DIR=str(settings.directory),
        BRAINSYNC_HOME=str(settings.home),
        BRAINSYNC_DB=settings.store_url,
        BRAINSYNC_JOBS_DB=settings.jobs_url,
        BRAINSYNC_CHUNK_SIZE=str(CHUNK),
        BRAINSYNC_CHUNK_PAUSE_SECONDS=str(PAUSE),
        BRAINSYNC_EXECUTOR_ID=settings.executor_id,
    )
    return env


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _start_worker(
    settings: Settings, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "brainsync", "worker"],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started.append(proc)
    return proc


def _wait_for_progress(brain: Brain, job_id: str, at_least: int) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job = brain.jobs(worker=False).status(job_id)
        assert not job.state.finished, "the job finished before the worker could be killed"
        if job.progress.current >= at_least:
            return job.progress.current
        time.sleep(0.02)
    raise AssertionError("the worker made no progress")


def _tree(root: Path) -> dict[str, tuple[bytes, int] | None]:
    """Everything under ``root``: files with bytes and mtime, folders (None), dot ones too."""
    found: dict[str, tuple[bytes, int] | None] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        for name in dirs:
            found[(here / name).relative_to(root).as_posix()] = None
        for name in files:
            path = here / name
            found[path.relative_to(root).as_posix()] = (path.read_bytes(), path.lstat().st_mtime_ns)
    return found


#: Entities and sync records, as :func:`_rows` reads them back.
Rows = tuple[list[tuple[str, str, str]], list[tuple[str, str, int, str, str]]]


def _rows(brain: Brain) -> Rows:
    entities = [
        (str(e.key), e.content_hash, e.document) for e in brain.store.list_entities(limit=10 * N)
    ]
    records = sorted(
        (r.path, str(r.key), r.size, r.file_hash, r.entity_hash) for r in folder_records(brain)
    )
    return entities, records


def _kill_and_resume(
    brain: Brain, job_id: str, settings: Settings, workers: list[subprocess.Popen[bytes]]
) -> int:
    """Kill the first worker part-way, let a second one finish; the killed worker's pid."""
    first = _start_worker(settings, workers)
    done_before = _wait_for_progress(brain, job_id, at_least=N // 3)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    interrupted = brain.jobs(worker=False).status(job_id)
    assert interrupted.state is JobState.RUNNING
    assert done_before <= interrupted.progress.current < N
    _start_worker(settings, workers)
    job = brain.jobs(worker=False).wait(job_id, timeout=120)
    assert job.state is JobState.SUCCEEDED, job.error
    assert job.result is not None and job.result.errors == []
    return first.pid


def _exported(
    tmp_path: Path, store_url: str
) -> tuple[Settings, Settings, dict[str, tuple[bytes, int] | None], Rows]:
    """The entities stored twice; ``reference`` exported uninterrupted, ``crash`` not yet.

    Returns both settings, and the tree and rows the uninterrupted export left.
    """
    reference = _settings(tmp_path, "reference", store_url, None)
    crash = _settings(tmp_path, "crash", store_url, _jobs_url(store_url))
    for settings in (reference, crash):
        settings.directory.mkdir(parents=True)
        with Brain(settings) as brain:
            brain.store.apply(ChangeSet(upserts=_entities()))
    with Brain(reference) as brain:
        assert brain.export().created == N
        expected_tree, expected_rows = _tree(reference.root), _rows(brain)
    return reference, crash, expected_tree, expected_rows


def _imported(tmp_path: Path, store_url: str) -> tuple[Settings, Settings, Rows]:
    """One exported folder copied twice; ``reference`` imported uninterrupted, ``crash``
    not yet. Returns both settings and the rows the uninterrupted import left."""
    source = _settings(tmp_path, "source", store_url, None)
    source.directory.mkdir(parents=True)
    with Brain(source) as brain:
        brain.store.apply(ChangeSet(upserts=_entities()))
        brain.export()
    reference = _settings(tmp_path, "reference", store_url, None)
    crash = _settings(tmp_path, "crash", store_url, _jobs_url(store_url))
    for settings in (reference, crash):
        settings.root.parent.mkdir(parents=True)
        subprocess.run(["cp", "-a", str(source.root), str(settings.root)], check=True)
    with Brain(reference) as brain:
        assert brain.import_().created == N
        expected_rows = _rows(brain)
    return reference, crash, expected_rows


@pytest.mark.slow
def test_k1_export_killed_mid_way_resumes_to_the_same_tree(
    tmp_path: Path, store_url: str, workers: list[subprocess.Popen[bytes]]
) -> None:
    _, crash, expected_tree, expected_rows = _exported(tmp_path, store_url)

    with Brain(crash) as brain:
        job_id = brain.start("export", worker=False)
        killed = _kill_and_resume(brain, job_id, crash, workers)
        job = brain.jobs(worker=False).status(job_id)
        assert job.result is not None
        # the chunk in flight re-ran: files it had written count as unchanged, none twice
        assert job.result.created + job.result.unchanged == N
        assert _rows(brain) == expected_rows
        # what a kill inside atomic_write leaves (whether or not this kill landed there)
        torn = crash.root / "folder3" / temp_name("item-00003.md", killed)
        torn.write_bytes(b"---\ntitle: Ent")
        # the next run on the folder removes it: the writer is dead
        again = brain.export()
        assert (again.created, again.updated, again.unchanged) == (0, 0, N)
        assert _rows(brain) == expected_rows
    assert _tree(crash.root) == expected_tree


@pytest.mark.slow
def test_k1_import_killed_mid_way_resumes_to_the_same_rows(
    tmp_path: Path, store_url: str, workers: list[subprocess.Popen[bytes]]
) -> None:
    reference, crash, expected_rows = _imported(tmp_path, store_url)
    before = _tree(crash.root)
    assert before == _tree(reference.root)

    with Brain(crash) as brain:
        job_id = brain.start("import", worker=False)
        _kill_and_resume(brain, job_id, crash, workers)
        job = brain.jobs(worker=False).status(job_id)
        assert job.result is not None
        assert job.result.created + job.result.updated + job.result.unchanged == N
        assert brain.store.count() == N
        assert _rows(brain) == expected_rows
    assert _tree(crash.root) == before  # an import never touches the files
    assert _tree(crash.root) == _tree(reference.root)


def _paused_worker(
    settings: Settings,
    at_write: int,
    mark: Path,
    started: list[subprocess.Popen[bytes]],
    *mode: str,
) -> subprocess.Popen[bytes]:
    """A worker that stops, half-way through the ``at_write``-th file write, for good
    (``"commit"``: inside the ``at_write``-th chunk transaction, before its commit)."""
    command = [sys.executable, str(PAUSED_WORKER), str(settings.root), str(at_write), str(mark)]
    command += mode
    env = _env(settings)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PAUSED_WORKER.parent), *sys.path]))
    log = mark.with_suffix(".log")
    with log.open("wb") as errors:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    started.append(proc)
    deadline = time.monotonic() + 90
    while not mark.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the worker ended: {log.read_text()[-2000:]}")
        assert time.monotonic() < deadline, "the worker never reached the write"
        time.sleep(0.02)
    return proc


def _kill_in_the_third_chunk(brain: Brain, job_id: str, paused: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the worker ``paused`` inside the third chunk: the job stays running, with
    the first two chunks done."""
    paused.send_signal(signal.SIGKILL)
    paused.wait(timeout=30)
    interrupted = brain.jobs(worker=False).status(job_id)
    assert interrupted.state is JobState.RUNNING
    assert interrupted.progress.current == 2 * CHUNK


def _torn(root: Path, expected: dict[str, tuple[bytes, int] | None]) -> list[str]:
    """Files (not our temp files) whose bytes are not what the uninterrupted run wrote."""
    return [
        rel
        for rel, found in _tree(root).items()
        if found is not None
        and not rel.endswith(TEMP_SUFFIX)
        and (expected.get(rel) is None or found[0] != expected[rel][0])  # type: ignore[index]
    ]


@pytest.mark.slow
def test_k1_export_killed_inside_a_file_write_leaves_no_torn_file(
    tmp_path: Path, store_url: str, workers: list[subprocess.Popen[bytes]]
) -> None:
    _, crash, expected_tree, expected_rows = _exported(tmp_path, store_url)

    with Brain(crash) as brain:
        job_id = brain.start("export", worker=False)
        mark = tmp_path / "paused-in-write"
        # half-way through the third chunk's writes, in the middle of one file
        paused = _paused_worker(crash, 2 * CHUNK + CHUNK // 2, mark, workers)
        _kill_in_the_third_chunk(brain, job_id, paused)
        written = [rel for rel in _tree(crash.root) if rel.endswith(".md")]
        assert 2 * CHUNK < len(written) < 3 * CHUNK
        # the half-written bytes are in a temp file: no file under its own name is torn
        assert _torn(crash.root, expected_tree) == []
        assert Path(mark.read_text()).name.endswith(TEMP_SUFFIX)

        _start_worker(crash, workers)
        job = brain.jobs(worker=False).wait(job_id, timeout=120)
        assert job.state is JobState.SUCCEEDED, job.error
        assert job.result is not None and job.result.errors == []
        assert job.result.conflicts == [] and job.result.created + job.result.unchanged == N
        assert _rows(brain) == expected_rows
        # the next run on the folder removes the dead writer's temp file
        again = brain.export()
        assert (again.created, again.updated, again.unchanged) == (0, 0, N)
    assert _tree(crash.root) == expected_tree


@pytest.mark.slow
def test_k1_import_killed_inside_a_chunk_transaction_commits_none_of_it(
    tmp_path: Path, store_url: str, workers: list[subprocess.Popen[bytes]]
) -> None:
    _, crash, expected_rows = _imported(tmp_path, store_url)

    with Brain(crash) as brain:
        job_id = brain.start("import", worker=False)
        mark = tmp_path / "paused-in-transaction"
        paused = _paused_worker(crash, 3, mark, workers, "commit")  # the third chunk
        _kill_in_the_third_chunk(brain, job_id, paused)
        # the third chunk's rows were written, never committed: none of them is there
        assert brain.store.count() == 2 * CHUNK

        _start_worker(crash, workers)
        job = brain.jobs(worker=False).wait(job_id, timeout=120)
        assert job.state is JobState.SUCCEEDED, job.error
        assert job.result is not None and job.result.errors == []
        assert job.result.created == N
        assert _rows(brain) == expected_rows
