"""The command line's two output streams, with rich imported only when it draws something.

Most commands print plain lines: a job id, a report's summary, a refusal. Importing
rich costs about 35 ms, a tenth of a short command, so a :class:`Terminal` writes plain
text itself and hands anything else (a table, markup, highlighting, a progress bar) to a
rich console made at first use. Plain lines go out as they are (rich would also read
``:name:`` as an emoji code and ``[word]`` as a style tag, which a file name may contain),
except control characters, which are shown escaped: a file name or a note's title could
otherwise move the cursor or recolour the terminal. Each write is flushed, as rich does,
so that ``brainsync watch | tee log`` shows every line when it happens.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Terminal", "visible"]

#: C0 controls but tab and newline, and DEL: never meant for the terminal in a line of text.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _escaped(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def visible(text: str) -> str:
    """``text`` with its control characters written as ``\\xNN`` escapes."""
    return _CONTROL.sub(_escaped, text)


class Terminal:
    """Standard output or standard error, looked up at each write (tests swap them)."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._rich: Console | None = None

    @property
    def file(self) -> TextIO:
        """The stream itself, for output that must not be reformatted (JSON)."""
        return sys.stderr if self._stderr else sys.stdout

    @property
    def is_terminal(self) -> bool:
        """Whether a person is looking at it (a progress bar is drawn only then)."""
        isatty = getattr(self.file, "isatty", None)
        return bool(isatty is not None and isatty())

    @property
    def rich(self) -> Console:
        """A rich console on this stream, for tables and progress bars."""
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(stderr=self._stderr, soft_wrap=True)
        return self._rich

    def print(
        self, *objects: Any, end: str = "\n", markup: bool = False, highlight: bool = False
    ) -> None:
        """Plain text as given, or, asked for markup or highlighting or given a table,
        rich's print."""
        if not markup and not highlight and all(isinstance(obj, str) for obj in objects):
            self.file.write(visible(" ".join(objects)) + end)
            self.file.flush()
            return
        self.rich.print(*objects, end=end, markup=markup, highlight=highlight)
