"""The command line's output: plain text stays as given (controls escaped); rich draws the rest."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from brainsync.interfaces.render import print_report
from brainsync.interfaces.terminal import Terminal
from brainsync.report import ItemError, Report


def test_a_plain_line_is_written_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = Terminal(), Terminal(stderr=True)
    # rich would read these as a style tag and an emoji code
    out.print("notes/[draft] :smile: 1 created")
    out.print("a", "b", end="")
    err.print("error: [bold]x[/bold]")
    captured = capsys.readouterr()
    assert captured.out == "notes/[draft] :smile: 1 created\na b"
    assert captured.err == "error: [bold]x[/bold]\n"


def test_control_characters_are_shown_escaped_and_tabs_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # an escape sequence in a file name must not recolour the terminal or move the cursor
    Terminal().print("notes/\x1b[31mred\x1b[0m.md\r\x07\x7f\tnote\nnext")
    assert capsys.readouterr().out == "notes/\\x1b[31mred\\x1b[0m.md\\x0d\\x07\\x7f\tnote\nnext\n"


class _CountingFlushes(io.StringIO):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_every_plain_line_is_flushed_for_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    # `brainsync watch | tee log` shows each line when it happens, not when a buffer fills
    stream = _CountingFlushes()
    monkeypatch.setattr("sys.stdout", stream)
    Terminal().print("one")
    Terminal().print("two")
    assert stream.getvalue() == "one\ntwo\n" and stream.flushes == 2


def test_tables_and_markup_go_through_rich(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a colour-forcing environment would add escape codes around the words asserted on
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    out = Terminal()
    table = Table(title="counts")
    table.add_column("type")
    table.add_row("note")
    out.print(table)
    out.print("[bold red]refused:[/] why", markup=True)
    printed = capsys.readouterr().out
    assert "counts" in printed and "note" in printed and "┃" in printed
    assert "refused: why" in printed and "[bold red]" not in printed


def test_the_stream_is_looked_up_at_each_write(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Terminal()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", first)
    out.print("one")
    monkeypatch.setattr("sys.stdout", second)
    out.print("two")
    assert (first.getvalue(), second.getvalue()) == ("one\n", "two\n")
    assert not out.is_terminal  # a StringIO is nobody's terminal


def test_a_dry_run_report_says_so_whatever_its_title(capsys: pytest.CaptureFixture[str]) -> None:
    # `job show` of a job an agent started with dry_run=True: its title is only "report"
    out = Terminal()
    print_report(out, "  report", Report(created=2, dry_run=True))
    print_report(out, "sync", Report(dry_run=True))  # a command's own dry run
    print_report(out, "pending (next sync)", Report(dry_run=True))
    print_report(out, "pending as of the last scan, 1 s ago", Report(dry_run=True))
    print_report(out, "sync", Report(updated=1))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("  report (dry run): 2 created")
    assert lines[1].startswith("sync (dry run): 0 created")
    assert lines[2].startswith("pending (next sync): 0 created")
    assert lines[3].startswith("pending as of the last scan, 1 s ago: 0 created")
    assert lines[4].startswith("sync: 0 created, 1 updated")


def test_identical_errors_are_listed_once_with_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    errors = [ItemError(f"n{i}.md", "No space left on device") for i in range(130)]
    errors.append(ItemError("odd.md", "Permission denied"))
    print_report(Terminal(), "export", Report(errors=errors))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "  error: No space left on device: 130 files (n0.md, ...)",
        "  error: odd.md: Permission denied",
    ]
