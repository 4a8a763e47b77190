"""Entity keys to relative file paths and back, and the checks that keep paths inside.

Notes live at the root (note ``a:b`` is ``a/b.md``); other types under a folder named
after the type (post ``x:y`` is ``post/x/y.md``). A first folder that is not a registered
type holds notes. The ``:`` of an id separates folders.

Each id segment is escaped with ``%XX`` (uppercase hex of each UTF-8 byte) where a file
system or the scan would misread it:

- anywhere: ``< > : " / \\ | ? *``, control characters U+0000-U+001F and U+007F, and a
  ``%`` that is followed by two hex digits (so ``100%`` stays ``100%.md`` but ``%41`` is
  ``%2541.md``);
- first character: ``.`` (hidden files, ``.`` and ``..``), the first letter of a Windows
  device name (``CON``, ``PRN``, ``AUX``, ``NUL``, ``COM1-9``, ``LPT1-9``, any case, also
  before an extension: ``con.txt``), and ``_`` in folders only (the scan skips ``_``
  folders, not ``_`` files);
- last character: ``.`` or space (Windows drops them);
- the ``.`` of a file name ending in ``.conflict-<8 hex>`` (the scan's conflict copies);
- in a file name that an ignore rule of :mod:`brainsync.sync.ignore` would leave out
  (``~$x.md``, ``x_BASE_12.md``), its first character and every ``_ . ~ $``, so that
  every file export writes is one the scan reads back (``~.md`` and ``{.md`` are notes);
- the first character of a note's first folder when it equals a registered type name,
  so ``note:post:x`` is ``%70ost/x.md`` and reads back as a note.

Decoding turns every ``%XX`` run that is valid UTF-8 back into text and keeps any other
``%`` literally. So every key maps to one path and back, and a path that :meth:`to_key`
accepts maps back to itself when it is in canonical form. Hand-made names that are not
(``%41.md``, ``%3c.md``, ``CON.md``, ``a<b.md``) still import, but :meth:`to_path` of
their key is a different, canonical path: callers that must rewrite the same file use the
path recorded at import.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from brainsync.entities import NOTE, EntityKey, validate_type_name
from brainsync.errors import InvalidInputError, UnsafePathError
from brainsync.sync.ignore import builtin_dir_rule, builtin_file_rule

__all__ = [
    "MAX_NAME_BYTES",
    "PathGuard",
    "PathMapper",
    "clash_key",
    "ensure_inside",
]

#: Longest file or folder name most file systems allow, in bytes.
MAX_NAME_BYTES = 255
_SUFFIX = ".md"
_ALWAYS = frozenset('<>:"/\\|?*') | frozenset(chr(c) for c in [*range(0x20), 0x7F])
#: Escaped, with the first character, in a file name an ignore rule would leave out.
_RULE_BREAKERS = frozenset("_.~$")
_HEX = frozenset("0123456789abcdefABCDEF")
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)]
)
#: A segment with no character that may need an escape and no "." first: most ids.
_PLAIN = re.compile(r'[^<>:"/\\|?*\x00-\x1f\x7f%.][^<>:"/\\|?*\x00-\x1f\x7f%]*')
_CONFLICT = re.compile(r"\.(conflict-[0-9a-f]{8})$")
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


class PathMapper:
    """Maps entity keys to paths relative to the sync root, and paths back to keys."""

    def __init__(self, type_names: Iterable[str]) -> None:
        types = {validate_type_name(name) for name in type_names}
        # Notes sit at the root, so only the other types own a folder.
        self._folders = frozenset(types - {NOTE})
        self._types = frozenset(types | {NOTE})

    @property
    def type_folders(self) -> frozenset[str]:
        """The registered types that own a folder (every type but ``note``)."""
        return self._folders

    def to_path(self, key: EntityKey) -> PurePosixPath:
        """The relative ``.md`` path of ``key``, e.g. ``post/a/b.md`` for post ``a:b``."""
        if key.type not in self._types:
            raise InvalidInputError(f"unknown entity type {key.type!r}")
        if not key.id:
            raise InvalidInputError("empty entity id")
        _require_utf8(key.id, "id")
        segments = key.id.split(":")
        if "" in segments:
            raise InvalidInputError(f"id {key.id!r} has an empty ':' segment")
        names = [_encode(seg, folder=True) for seg in segments[:-1]]
        names.append(_encode_file(segments[-1]))
        if key.type == NOTE and len(names) > 1 and names[0] in self._folders:
            names[0] = _pct(names[0][0]) + names[0][1:]
        for name in names:
            size = len((name + _SUFFIX).encode("utf-8"))
            if size > MAX_NAME_BYTES:
                raise InvalidInputError(
                    f"id segment {name[:40]!r}... is too long for a file name: {size} bytes, "
                    f"over the limit of {MAX_NAME_BYTES} bytes per name (NAME_MAX)"
                )
        if key.type != NOTE:
            names.insert(0, key.type)
        names[-1] += _SUFFIX
        return PurePosixPath(_checked(names))

    def to_key(self, rel: PurePosixPath | str) -> EntityKey:
        """The key of the entity stored at ``rel``; raise if it is not an entity file."""
        parts = _split(rel)
        if not parts[-1].endswith(_SUFFIX) or parts[-1] == _SUFFIX:
            raise InvalidInputError(f"{str(rel)!r} is not a .md file")
        stem = parts[-1][: -len(_SUFFIX)]
        if _CONFLICT.search(stem):
            raise InvalidInputError(f"{str(rel)!r} is a conflict copy, not an entity file")
        folders = parts[:-1]
        # The scan never reports these; a caller passing one has a bug or a stale path.
        hidden = any(builtin_dir_rule(name) is not None for name in folders)
        if hidden or builtin_file_rule(parts[-1]) is not None:
            raise InvalidInputError(f"{str(rel)!r} is a path the scan ignores")
        type_name = NOTE
        if folders and folders[0] in self._folders:
            type_name, folders = folders[0], folders[1:]
        segments = [_decode(name) for name in [*folders, stem]]
        if any(":" in seg for seg in segments):
            raise InvalidInputError(f"{str(rel)!r}: a name may not contain ':' (id separator)")
        return EntityKey(type_name, ":".join(segments))

    def type_folder_of(self, rel: PurePosixPath | str) -> str | None:
        """The first folder of file path ``rel`` when it is literally a registered type."""
        parts = PurePosixPath(rel).parts
        if len(parts) > 1 and parts[0] in self._folders:
            return parts[0]
        return None


def clash_key(rel: PurePosixPath | str) -> str:
    """A form of ``rel`` that is equal for paths that collide on case-insensitive or
    normalising file systems (``Note.md`` and ``note.md``, NFC and NFD forms)."""
    text = str(rel)
    if text.isascii():
        return text.lower()  # the same result as below, without two normalisations
    # Canonical caseless matching: NFD, casefold, then one normal form for comparison.
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def ensure_inside(root: Path, rel: PurePosixPath | str) -> Path:
    """``root / rel`` after checking it cannot lead outside ``root`` (see :class:`PathGuard`)."""
    return Path(PathGuard(root).check(rel))


class PathGuard:
    """Containment checks for one sync root, remembering the folders already verified.

    ``rel`` must be relative, without ``..`` or NUL, and the real path of its parent
    folders (symlinks resolved, as far as they exist) must lie inside the root. The last
    component itself is not followed: readers open it with ``O_NOFOLLOW`` and writers
    replace it. A guard lives for one chunk: resolving every parent of every file was
    half the cost of an export, and a folder verified a moment ago is verified still.
    Folders are verified one level at a time below the deepest one already verified: a
    folder is resolved once and remembered, and a missing one (an export into a new
    folder) costs one ``lstat`` per look instead of resolving its whole path each time.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._prefix = os.path.join(self.root, "")  # the root with its separator, to prepend
        self._verified: set[str] = set()
        try:
            self._real_root = os.path.realpath(root, strict=True)
            self._verified.add("")
        except OSError:
            self._real_root = os.path.realpath(root)

    def check(self, rel: PurePosixPath | str) -> str:
        """The absolute path of ``rel`` as a string, or UnsafePathError."""
        text = _relative(rel)
        parent = text.rpartition("/")[0]
        if parent not in self._verified:
            self._verify(parent, text)
        return self._prefix + text

    def locate(self, rel: str) -> str | None:
        """Like :meth:`check`, but None when a parent folder is missing: then the file is
        too, and a reader need not ask the file system again."""
        text = _relative(rel)
        parent = text.rpartition("/")[0]
        if parent not in self._verified and not self._verify(parent, text):
            return None
        return self._prefix + text

    def make_parent(self, rel: str) -> str:
        """Like :meth:`check`, creating the parent folders first when they are missing."""
        target = self.check(rel)  # before creating anything: no folder is made through a link
        if rel.rpartition("/")[0] in self._verified:
            return target  # verified folders existed when they were verified
        os.makedirs(os.path.dirname(target), exist_ok=True)
        return self.check(rel)  # the folders now exist: none may be a link out

    def missing_parents(self, rel: str) -> list[str]:
        """The parent folders of ``rel`` that do not exist yet, deepest first (what
        :meth:`make_parent` would make, and :meth:`remove_empty` takes back)."""
        parent = _relative(rel).rpartition("/")[0]
        missing: list[str] = []
        while (
            parent and parent not in self._verified and not os.path.lexists(self._prefix + parent)
        ):
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        return missing

    def remove_empty(self, folders: list[str]) -> None:
        """Remove those of ``folders`` (deepest first) that are empty: a failed write
        leaves no folders behind that it made."""
        for folder in folders:
            self._verified.discard(folder)
            try:
                os.rmdir(self._prefix + folder)
            except OSError as exc:
                if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    return  # not empty: another write uses it
                # never made (ENOENT, ENAMETOOLONG): making a folder above it failed

    def _verify(self, parent: str, text: str) -> bool:
        """Verify ``parent`` level by level below the deepest verified folder; False when a
        level is missing (nothing below it exists, so nothing there can be followed out).

        A missing level costs one ``lstat``; a level found is resolved whole, links and
        all, like any folder met for the first time, and remembered.
        """
        parts = parent.split("/") if parent else []
        depth = len(parts)
        while depth > 0 and "/".join(parts[:depth]) not in self._verified:
            depth -= 1
        if depth == 0 and "" not in self._verified:
            return self._resolve(parent, text)  # the root was missing when the guard began
        for level in range(depth, len(parts)):
            folder = "/".join(parts[: level + 1])
            try:
                mode = os.lstat(self._prefix + folder).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return False
            except OSError as exc:
                raise UnsafePathError(f"path {text!r} cannot be resolved: {exc}") from exc
            if not (stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                return False  # a file where a folder should be: the path cannot exist
            if not self._resolve(folder, text):
                return False  # a link to nowhere (yet)
        return True

    def _resolve(self, parent: str, text: str) -> bool:
        """Verify ``parent`` by its real path (all links resolved); True when it exists."""
        folder = os.path.join(self.root, parent) if parent else self.root
        try:
            real = os.path.realpath(folder, strict=True)
            exists = True
        except FileNotFoundError:
            real, exists = os.path.realpath(folder), False
        except OSError as exc:  # ELOOP: a symlink loop
            raise UnsafePathError(f"path {text!r} cannot be resolved: {exc}") from exc
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise UnsafePathError(f"path {text!r} leads outside {self.root!r} through a symlink")
        if exists:
            self._verified.add(parent)
        return exists


def _relative(rel: PurePosixPath | str) -> str:
    """``rel`` as text, when it is a relative path that stays below its root by its name."""
    text = str(rel)
    if "\x00" in text:
        raise UnsafePathError(f"path {text!r} contains a NUL byte")
    if text.startswith("/"):
        raise UnsafePathError(f"path {text!r} is absolute")
    if ".." in text.split("/"):
        raise UnsafePathError(f"path {text!r} contains '..'")
    if not text or text == ".":
        raise UnsafePathError("empty path")
    return text


def _split(rel: PurePosixPath | str) -> list[str]:
    """The parts of a relative path given to :meth:`PathMapper.to_key`, strictly checked."""
    text = str(rel)
    if "\x00" in text or "\\" in text:
        raise UnsafePathError(f"path {text!r} contains an unsafe character")
    if text.startswith("/"):
        raise UnsafePathError(f"path {text!r} is absolute")
    _require_utf8(text, "path")
    parts = text.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePathError(f"path {text!r} has an empty, '.' or '..' segment")
    return parts


def _checked(names: list[str]) -> str:
    """Defence in depth: the containment guarantee of :meth:`PathMapper.to_path`."""
    text = "/".join(names)
    odd_name = "" in names or "." in names or ".." in names or text.count("/") >= len(names)
    if odd_name or ":" in text or "\x00" in text or "\\" in text:  # pragma: no cover
        raise UnsafePathError(f"refusing unsafe path {text!r}")
    return text


def _require_utf8(text: str, what: str) -> None:
    # Lone surrogates: an id that cannot be stored, or a file name that was not UTF-8 on
    # disk (os.fsdecode's surrogateescape); neither can become a file name and back.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} {text!r} is not valid unicode text") from exc


def _pct(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def _encode(segment: str, *, folder: bool) -> str:
    """Escape one id segment so it is a safe, scan-visible file or folder name."""
    if (
        _PLAIN.fullmatch(segment)
        and segment[-1] not in ". "
        and not (folder and segment[0] == "_")
        and not _is_device(segment)
    ):
        return segment  # nothing to escape: the common case, without the loop below
    last = len(segment) - 1
    out: list[str] = []
    for index, char in enumerate(segment):
        escape = char in _ALWAYS
        if char == "%":
            escape = set(segment[index + 1 : index + 3]) <= _HEX and index + 2 <= last
        elif index == 0:
            escape = escape or char == "." or (folder and char == "_") or _is_device(segment)
        if index == last and char in ". ":
            escape = True
        out.append(_pct(char) if escape else char)
    return "".join(out)


def _encode_file(segment: str) -> str:
    name = _encode(segment, folder=False)
    conflict = _CONFLICT.search(name)
    if conflict:
        name = name[: conflict.start()] + "%2E" + conflict.group(1)
    if builtin_file_rule(name + _SUFFIX) is not None:
        # a name the scan would leave out (an editor's lock, a merge leftover): escape
        # enough of it that no rule matches, so what export writes, import reads back
        head = _pct(name[0]) if name[0] != "%" else name[0]
        name = head + "".join(_pct(c) if c in _RULE_BREAKERS else c for c in name[1:])
    return name


def _is_device(segment: str) -> bool:
    """True when Windows would take the name for a device (``CON``, ``com1.txt``, ...)."""
    return segment.split(".", 1)[0].rstrip(" ").upper() in _RESERVED


def _decode(name: str) -> str:
    """Undo :func:`_encode`: each ``%XX`` run that is valid UTF-8 becomes text again."""
    return _ESCAPE_RUN.sub(_decode_run, name)


def _decode_run(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        return bytes.fromhex(run.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return run  # not something we wrote: keep the hand-made name as it is
