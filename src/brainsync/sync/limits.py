"""The longest file name and path the file system of a folder can hold (B13).

An id is refused when its file could not be written: at ``put`` with the usual limits
(255 bytes per name, 4096 per path), and at export with the folder's own, asked of the
system once per plan. The path counts the temp file a write makes beside its target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from brainsync.errors import InvalidInputError
from brainsync.sync.files import temp_name

__all__ = ["DEFAULT_LIMITS", "PathLimits"]


@dataclass(frozen=True)
class PathLimits:
    """A file system's longest name (``NAME_MAX``) and path (``PATH_MAX``), in bytes."""

    name_max: int = 255
    #: With the terminating NUL byte, as the system counts it.
    path_max: int = 4096

    @classmethod
    def of(cls, folder: Path) -> PathLimits:
        """The limits of the file system ``folder`` is on (the usual ones when it does not
        exist yet or the system does not say)."""
        name_max = _ask(folder, "PC_NAME_MAX", cls.name_max)
        return cls(name_max, _ask(folder, "PC_PATH_MAX", cls.path_max))

    def check(self, key: object, rel: str, root: Path | None = None) -> None:
        """Raise InvalidInputError, naming the limit, when the file ``rel`` of ``key``
        (under ``root``, when known) cannot be held."""
        key = _short(str(key))
        names = rel.split("/")
        for name in names:
            size = len(name.encode("utf-8"))
            if size > self.name_max:
                raise InvalidInputError(
                    f"{key}: its file name {name[:40]!r}... would be {size} bytes, over the "
                    f"file system's limit of {self.name_max} bytes per name (NAME_MAX)"
                )
        folder = "/".join(names[:-1])
        prefix = f"{root}/" if root is not None else ""
        longest = max(names[-1], temp_name(names[-1]), key=lambda n: len(n.encode("utf-8")))
        size = len(f"{prefix}{folder}/{longest}".encode())
        if size >= self.path_max:
            raise InvalidInputError(
                f"{key}: its file path would be {size} bytes, over the file system's limit "
                f"of {self.path_max} bytes per path, end byte included (PATH_MAX)"
            )


def _short(text: str) -> str:
    """``text`` cut for a message: an id near the limits is thousands of bytes long."""
    return text if len(text) <= 60 else f"{text[:57]}..."


def _ask(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):
        return default  # missing folder, an unknown name, or no pathconf (Windows)
    return value if value > 0 else default


#: The limits assumed where the folder is not known (a ``put``).
DEFAULT_LIMITS = PathLimits()
