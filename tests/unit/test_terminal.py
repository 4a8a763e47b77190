"""The command line's output streams: plain text stays as given; rich draws the rest."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from brainsync.interfaces.terminal import Terminal


def test_a_plain_line_is_written_as_given(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = Terminal(), Terminal(stderr=True)
    # rich would read these as a style tag and an emoji code
    out.print("notes/[draft] :smile: 1 created")
    out.print("a", "b", end="")
    err.print("error: [bold]x[/bold]")
    captured = capsys.readouterr()
    assert captured.out == "notes/[draft] :smile: 1 created\na b"
    assert captured.err == "error: [bold]x[/bold]\n"


def test_tables_and_markup_go_through_rich(capsys: pytest.CaptureFixture[str]) -> None:
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
