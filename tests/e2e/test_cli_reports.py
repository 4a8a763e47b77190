"""What a run's report and refusal say, as a user sees them: every word true.

A refusal names an option the command has, a dry run names the paths it would touch (and
says when the real run would be refused), a preview of an export into a new folder works,
and a run that policy ``fail`` stopped never reads "succeeded".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_runner import SAMPLE, brainsync

#: Two deletions already trip the share guard: the sample has six files.
GUARD = {"BRAINSYNC_MASS_DELETE_MIN": "2"}
NOTES = [
    "welcome.md",
    "ideas/reading-list.md",
    "ideas/2024/tiny-habits.md",
    "journal/windows-note.md",
]


@pytest.fixture
def synced(tmp_path: Path) -> Path:
    """The sample notes, synced once."""
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    assert brainsync(tmp_path, "sync").returncode == 0
    return tmp_path / "brain-data"


def _delete_entities(tmp_path: Path) -> None:
    for key in ("welcome", "ideas:reading-list", "ideas:2024:tiny-habits", "journal:windows-note"):
        assert brainsync(tmp_path, "entity", "delete", "note", key).returncode == 0


def test_export_refusal_names_an_option_export_has(tmp_path: Path, synced: Path) -> None:
    _delete_entities(tmp_path)
    refused = brainsync(tmp_path, "export", env=GUARD)
    assert refused.returncode == 5
    assert "--force-deletes" in refused.stderr
    assert (synced / "welcome.md").exists()
    # the advice works: the same command with the option it named
    forced = brainsync(tmp_path, "export", "--force-deletes", "--json", env=GUARD)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["deleted"] == 4
    assert not (synced / "welcome.md").exists()


def test_import_refusal_names_an_option_import_has(tmp_path: Path, synced: Path) -> None:
    for path in NOTES:
        (synced / path).unlink()
    refused = brainsync(tmp_path, "import", env=GUARD)
    assert refused.returncode == 5 and "--force-deletes" in refused.stderr
    forced = brainsync(tmp_path, "import", "--force-deletes", "--json", env=GUARD)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["deleted"] == 4


def test_dry_run_lists_every_path_in_json_and_a_sample_in_text(tmp_path: Path) -> None:
    root = tmp_path / "brain-data"
    root.mkdir()
    names = [f"n{i:02}.md" for i in range(25)]
    for name in names:
        (root / name).write_text(f"note {name}\n")
    as_json = brainsync(tmp_path, "sync", "--dry-run", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["created_paths"] == names and report["created"] == 25
    text = brainsync(tmp_path, "import", "--dry-run").stdout
    assert text.count("  would create: ") == 20
    assert "  would create: n00.md" in text and "n24.md" not in text
    assert "... and 5 more paths created (use --json)" in text
    assert brainsync(tmp_path, "entity", "list").stdout == ""  # nothing was imported


def test_dry_run_shows_what_a_refused_mass_delete_would_delete(
    tmp_path: Path, synced: Path
) -> None:
    for path in NOTES:
        (synced / path).unlink()
    dry = brainsync(tmp_path, "sync", "--dry-run", env=GUARD)
    assert dry.returncode == 5  # the real run would be refused: a script sees it
    assert "the real run would be refused" in dry.stdout and "--force-deletes" in dry.stderr
    assert sorted(
        line.removeprefix("  would delete: ")
        for line in dry.stdout.splitlines()
        if line.startswith("  would delete: ")
    ) == sorted(NOTES)
    as_json = brainsync(tmp_path, "sync", "--dry-run", "--json", env=GUARD)
    report = json.loads(as_json.stdout)
    assert sorted(report["deleted_paths"]) == sorted(NOTES)
    assert "would be refused" in report["refused"]
    # nothing changed, and the check done, forcing does what the dry run listed
    assert len(json.loads(brainsync(tmp_path, "entity", "list", "--json").stdout)) == 6
    forced = brainsync(tmp_path, "sync", "--dry-run", "--force-deletes", "--json", env=GUARD)
    assert forced.returncode == 0 and json.loads(forced.stdout)["refused"] is None
    done = brainsync(tmp_path, "sync", "--force-deletes", "--json", env=GUARD)
    assert json.loads(done.stdout)["deleted"] == 4


def test_status_pending_lists_the_paths(tmp_path: Path, synced: Path) -> None:
    for path in NOTES:
        (synced / path).unlink()
    (synced / "fresh.md").write_text("new\n")
    status = json.loads(brainsync(tmp_path, "status", "--pending", "--json", env=GUARD).stdout)
    assert status["pending"]["created_paths"] == ["fresh.md"]
    assert sorted(status["pending"]["deleted_paths"]) == sorted(NOTES)
    assert "would be refused" in status["problem"]
    text = brainsync(tmp_path, "status", "--pending", env=GUARD)
    assert text.returncode == 0
    assert "  would create: fresh.md" in text.stdout
    assert "  would delete: welcome.md" in text.stdout
    assert text.stdout.count("would be refused") == 1


def test_dry_run_export_into_a_new_folder_previews_the_restore(
    tmp_path: Path, synced: Path
) -> None:
    store = f"sqlite:///{tmp_path / '.brainsync' / 'brain-data.sqlite'}"
    target = tmp_path / "restored"
    args = ("--dir", str(target), "--db", store)
    dry = brainsync(tmp_path, *args, "export", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["created"] == 6 and report["errors"] == []
    assert not target.exists()  # a preview creates nothing
    real = brainsync(tmp_path, *args, "export", "--json")
    assert real.returncode == 0, real.stderr
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*.md"))
    assert written == sorted(report["created_paths"])


def test_policy_fail_never_says_succeeded(tmp_path: Path, synced: Path) -> None:
    (synced / "welcome.md").write_text("edited on disk\n")
    put = brainsync(tmp_path, "entity", "put", "note", "welcome", stdin="edited in the db\n")
    assert put.returncode == 0, put.stderr
    failed = brainsync(tmp_path, "sync", "--conflict", "fail")
    assert failed.returncode == 4  # the README's code for policy fail
    assert "succeeded" not in failed.stdout
    assert "1 conflict left unresolved by policy fail" in failed.stdout
    assert "--conflict" in failed.stderr and "left unresolved" in failed.stderr
    as_json = brainsync(tmp_path, "sync", "--conflict", "fail", "--json")
    assert as_json.returncode == 4 and len(json.loads(as_json.stdout)["conflicts"]) == 1


def test_a_pipe_gets_plain_progress_lines_while_the_job_runs(tmp_path: Path) -> None:
    root = tmp_path / "brain-data"
    root.mkdir()
    for i in range(4):
        (root / f"n{i}.md").write_text(f"note {i}\n")
    # four chunks with a pause before each: the run outlasts the (test-sized) interval
    env = {
        "BRAINSYNC_CHUNK_SIZE": "1",
        "BRAINSYNC_CHUNK_PAUSE_SECONDS": "0.5",
        "BRAINSYNC_PROGRESS_SECONDS": "0.1",
    }
    result = brainsync(tmp_path, "import", env=env)  # stderr is a pipe here
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("import ")]
    assert lines[0].startswith(("import queued: ", "import running: "))
    assert lines[-1].startswith("import succeeded: 4/4 items")
    assert any(line.startswith("import running: ") for line in lines[1:-1])
    assert "\x1b" not in result.stderr  # plain text: no bar, no cursor moves
    quiet = brainsync(tmp_path, "import", "--json", env=env)
    assert json.loads(quiet.stdout)["unchanged"] == 4 and "import " not in quiet.stderr


#: The command line as the installed ``brainsync`` script runs it (completion is named so).
AS_INSTALLED = (
    "import sys; sys.argv[0] = 'brainsync'; from brainsync.interfaces.entry import main; main()"
)


@pytest.mark.parametrize(
    ("words", "env", "expected"),
    [
        ("brainsync sync --conflict ", {}, "merge keep-both file-wins db-wins fail"),
        ("brainsync sync --conflict k", {}, "keep-both"),
        ("brainsync jobs --state ", {}, "queued running succeeded failed cancelled"),
        ("brainsync export --type ", {}, "note post"),
        ("brainsync entity list --type p", {}, "post"),
        ("brainsync import -t ", {"BRAINSYNC_BUILTIN_TYPES": "false"}, "note"),
    ],
)
def test_shell_completion_offers_the_values(
    tmp_path: Path, words: str, env: dict[str, str], expected: str
) -> None:
    cword = str(len(words.split()) - (0 if words.endswith(" ") else 1))
    shell = {"_BRAINSYNC_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
    result = brainsync(tmp_path, code=AS_INSTALLED, env={**shell, **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == expected.split()
