"""The command line leaves without the interpreter's teardown, but as a normal exit would."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from brainsync.interfaces.entry import _status_of, leave

#: Buffered output, an atexit function, then leave(3): all of it must still happen.
LEAVING = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
from brainsync.interfaces.entry import leave
sys.stdout.write("buffered, no newline")
leave({code!r})
"""


def _run(code: object) -> subprocess.CompletedProcess[str]:
    script = LEAVING.format(code=code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (130, 130), (-1, 255)])
def test_leaving_keeps_the_status_the_output_and_the_exit_functions(
    code: int | None, status: int
) -> None:
    result = _run(code)
    assert result.returncode == status
    assert result.stdout == "buffered, no newline"
    assert result.stderr == "atexit ran\n"


def test_a_message_leaves_the_usual_way() -> None:
    result = _run("refused: why")
    assert result.returncode == 1
    assert result.stdout == "buffered, no newline"
    assert result.stderr == "refused: why\natexit ran\n"


def test_a_thread_still_at_work_is_waited_for_the_usual_way() -> None:
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=False)
    worker.start()
    try:
        with pytest.raises(SystemExit) as left:
            leave(4)  # in-process: a normal exit raises, where leave's own would not return
        assert left.value.code == 4
    finally:
        release.set()
        worker.join()


def test_the_status_of_each_kind_of_code() -> None:
    assert [_status_of(c) for c in (None, 0, 2, 256, -1, True)] == [0, 0, 2, 0, 255, 1]
    assert _status_of("a message") is None
