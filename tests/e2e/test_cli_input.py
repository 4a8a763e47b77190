"""Input a user gives the command line: files, versions, the environment, ``--version``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brainsync import __version__
from cli_runner import brainsync


def _one_line(result_stderr: str) -> str:
    lines = result_stderr.splitlines()
    assert len(lines) == 1, result_stderr
    assert "internal error" not in lines[0] and "Traceback" not in result_stderr
    return lines[0]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p, "no such file"),
        (lambda p: p.mkdir() or p, "is a directory"),
        (lambda p: p.write_bytes(b"title \xff\xfe\n") and p, "not UTF-8"),
    ],
    ids=["missing", "directory", "not-utf8"],
)
def test_entity_put_file_problems_are_input_errors(
    tmp_path: Path, make: object, problem: str
) -> None:
    target = tmp_path / "idea.md"
    make(target)  # type: ignore[operator]
    result = brainsync(tmp_path, "entity", "put", "note", "idea", "--file", str(target))
    assert result.returncode == 2, result.stderr
    line = _one_line(result.stderr)
    assert str(target) in line and problem in line


def test_entity_put_from_stdin_that_is_not_utf8(tmp_path: Path) -> None:
    code = (
        "import io, sys; from brainsync.interfaces.cli import main; "
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b'\\xff')); sys.argv[0] = 'brainsync'; main()"
    )
    result = brainsync(tmp_path, "entity", "put", "note", "idea", code=code)
    assert result.returncode == 2, result.stderr
    assert "stdin" in _one_line(result.stderr)


def test_entity_put_and_delete_if_version(tmp_path: Path) -> None:
    put = ("entity", "put", "note", "idea")
    assert brainsync(tmp_path, *put, "--if-version", "0", stdin="one\n").returncode == 0
    stale = brainsync(tmp_path, *put, "--if-version", "0", stdin="two\n")
    assert stale.returncode == 4 and "version 1, not 0" in _one_line(stale.stderr)
    assert brainsync(tmp_path, *put, "--if-version", "1", stdin="two\n").returncode == 0
    delete = ("entity", "delete", "note", "idea")
    refused = brainsync(tmp_path, *delete, "--if-version", "1")
    assert refused.returncode == 4 and "version 2, not 1" in _one_line(refused.stderr)
    assert brainsync(tmp_path, "entity", "get", "note", "idea").stdout == "two\n"
    assert brainsync(tmp_path, *delete, "--if-version", "2").returncode == 0
    gone = brainsync(tmp_path, "entity", "get", "note", "idea", "--json")
    assert gone.returncode == 3 and json.loads(gone.stdout)["error"]["exit_code"] == 3


def test_version_option(tmp_path: Path) -> None:
    result = brainsync(tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"brainsync {__version__}"
    assert not list(tmp_path.iterdir())  # nothing opened, nothing created


def test_unknown_environment_variable_warns_once_and_the_command_runs(tmp_path: Path) -> None:
    env = {"BRAINSYNC_TOKEN_OF_ANOTHER_TOOL": "x", "BRAINSYNC_CHUNK_SIZE": "7"}
    result = brainsync(tmp_path, "entity", "put", "note", "idea", stdin="one\n", env=env)
    assert result.returncode == 0, result.stderr
    warning = _one_line(result.stderr)
    assert warning.startswith("warning:") and "BRAINSYNC_TOKEN_OF_ANOTHER_TOOL" in warning
    assert "CHUNK_SIZE" not in warning


def test_unknown_key_in_the_config_file_stays_an_error(tmp_path: Path) -> None:
    (tmp_path / "brainsync.toml").write_text("chunk_sise = 3\n")
    result = brainsync(tmp_path, "status")
    assert result.returncode == 8 and "chunk_sise" in result.stderr


def test_entity_put_larger_than_the_file_limit_is_refused(tmp_path: Path) -> None:
    env = {"BRAINSYNC_MAX_FILE_BYTES": "100"}
    result = brainsync(tmp_path, "entity", "put", "note", "big", stdin="x" * 101, env=env)
    assert result.returncode == 2, result.stderr
    assert "100-byte limit (max_file_bytes)" in _one_line(result.stderr)
