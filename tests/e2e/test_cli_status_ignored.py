"""``brainsync status --ignored``: what the ignore rules leave out, by rule, as a user sees it."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import brainsync


def test_status_counts_and_lists_ignored_paths(tmp_path: Path) -> None:
    root = tmp_path / "brain-data"
    for rel in ["note.md", "note.md~", "_drafts/d.md", "photo.png"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("---\ntitle: t\n---\nbody\n")

    result = brainsync(tmp_path, "status", "--ignored", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["ignored"] == {"backup": 1, "underscore-folder": 1, "not-markdown": 1}
    assert [(p["path"], p["rule"]) for p in status["ignored_paths"]] == [
        ("_drafts", "underscore-folder"),
        ("note.md~", "backup"),
    ]

    text = brainsync(tmp_path, "status", "--ignored")
    assert text.returncode == 0, text.stderr
    assert "not synced (ignore rules): backup 1, not-markdown 1, underscore-folder 1" in text.stdout
    assert "ignored: note.md~ [backup]" in text.stdout
    plain = brainsync(tmp_path, "status", "--pending")
    assert "not synced (ignore rules)" in plain.stdout
    assert "ignored: note.md~" not in plain.stdout
