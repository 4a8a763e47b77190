"""The file format: markdown with an optional YAML frontmatter block.

A document is an optional BOM, then optionally a frontmatter block (a line ``---``, YAML,
a line ``---`` or ``...``), then the body. The block is split by hand so the body is kept
byte for byte. YAML goes through libyaml only (the pure-Python parser is 7x slower), with
a resolver that keeps YAML 1.1 surprises out: ``no``, ``on``, ``2024-01-05``, ``1:30`` and
``0755`` stay strings. Untrusted input is bounded before any value is built: no anchors or
aliases (billion laughs), no nesting deeper than :data:`MAX_DEPTH`, no tags beyond the
JSON-like core, and a size cap on the block.

:func:`render` is canonical: insertion-ordered keys, block style, no line wrapping. With
empty metadata it emits the body alone, unless the body itself would read as a document
with frontmatter (it starts with ``---`` as a line, or with a BOM): then it emits an empty
block first, ``"---\\n---\\n" + body``, so that ``parse(render(m, b))`` is ``(m, b)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import yaml
from yaml._yaml import CParser
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    NodeEvent,
)
from yaml.nodes import MappingNode
from yaml.resolver import BaseResolver

from brainsync.errors import InvalidDocumentError, InvalidInputError

__all__ = [
    "MAX_DEPTH",
    "ParsedDocument",
    "decode_file",
    "is_probably_incomplete",
    "parse",
    "render",
]

if not yaml.__with_libyaml__:  # pragma: no cover - depends on how PyYAML was built
    raise ImportError(
        "brainsync needs PyYAML built with libyaml (CParser); reinstall PyYAML "
        "with libyaml available, the pure-Python parser is too slow and is not supported"
    )

#: Deepest nesting of mappings and lists accepted in frontmatter.
MAX_DEPTH = 64
_BOM = "\ufeff"
#: File line number of the first YAML line (YAML marks count from 0, after the fence).
_FIRST_LINE = 2
_T = "tag:yaml.org,2002:"
_SAFE_TAGS = frozenset(_T + name for name in ("str", "int", "float", "bool", "null", "map", "seq"))
# An opening fence is the first line; a closing fence is any later line, LF or CRLF.
_OPEN = re.compile(r"---(?:\r?\n|\Z)")
_CLOSE = re.compile(r"^(?:---|\.\.\.)(?:\r?\n|\Z)", re.MULTILINE)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# YAML 1.2 core ints, minus leading-zero decimals: YAML 1.1 readers take 0755 as octal.
_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$")
# YAML 1.2 core floats that need a dot or an exponent (so 0755 is not 755.0).
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9]+[eE][-+]?[0-9]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_DIGITS = list("-+0123456789")
_CORE_RESOLVERS: list[tuple[str, re.Pattern[str], list[str]]] = [
    (_T + "null", _NULL, ["~", "n", "N", ""]),
    (_T + "bool", _BOOL, list("tTfF")),
    (_T + "int", _INT, _DIGITS),
    (_T + "float", _FLOAT, [*_DIGITS, "."]),
]


class _CoreResolver(BaseResolver):
    """Plain scalars resolve as YAML 1.2 core (narrowed), everything else is a string."""


class _Loader(CParser, SafeConstructor, _CoreResolver):
    """libyaml parser, safe constructors, core resolver; duplicate keys are errors."""

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        SafeConstructor.__init__(self)
        _CoreResolver.__init__(self)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) != len(node.value):
            # PyYAML keeps the last value silently; a lost value must be reported instead.
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return mapping


class _Dumper(yaml.CSafeDumper):
    """libyaml emitter, safe representer, standard resolver plus the core one.

    The standard (YAML 1.1) resolver quotes ``no``, ``2024-01-05`` and ``1:30`` so YAML 1.1
    readers keep them as strings; the core resolver is added so strings that *our* loader
    would read as numbers (``1e3``) are quoted too.
    """


for _tag, _regexp, _first in _CORE_RESOLVERS:
    _CoreResolver.add_implicit_resolver(_tag, _regexp, _first)
    _Dumper.add_implicit_resolver(_tag, _regexp, _first)


@dataclass(frozen=True)
class ParsedDocument:
    """A document split into its frontmatter mapping and its exact body text."""

    metadata: dict[str, Any]
    body: str
    has_frontmatter: bool


def parse(text: str, *, max_frontmatter_bytes: int = 256 * 1024) -> ParsedDocument:
    """Split ``text`` into metadata and body; raise InvalidDocumentError when unsafe."""
    if text.startswith(_BOM):
        text = text[1:]
    opening = _OPEN.match(text)
    if opening is None:
        return ParsedDocument({}, text, has_frontmatter=False)
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        raise InvalidDocumentError("frontmatter opened with '---' is never closed")
    source = text[opening.end() : closing.start()]
    if len(source.encode("utf-8")) > max_frontmatter_bytes:
        raise InvalidDocumentError(
            f"frontmatter larger than {max_frontmatter_bytes} bytes; refusing to parse it"
        )
    metadata = _load(source)
    return ParsedDocument(metadata, text[closing.end() :], has_frontmatter=True)


def render(metadata: Mapping[str, Any], body: str) -> str:
    """The canonical document text for ``metadata`` and ``body`` (deterministic)."""
    plain = _plain(metadata, "metadata")
    if not plain:
        # An empty block keeps a body that looks like frontmatter from being read as such.
        return "---\n---\n" + body if _needs_block(body) else body
    try:
        source = yaml.dump(
            plain,
            Dumper=_Dumper,
            allow_unicode=True,
            default_flow_style=False,
            sort_keys=False,
            width=2**31 - 1,
        )
    except (yaml.YAMLError, UnicodeEncodeError) as exc:
        # the YAML text quotes the value, which is note content (catalogue P2)
        raise InvalidInputError(
            f"metadata cannot be written as YAML ({type(exc).__name__})"
        ) from exc
    if _CLOSE.search(source):  # pragma: no cover - libyaml indents or quotes these
        raise InvalidInputError("metadata would render a line that closes the frontmatter")
    return "---\n" + source + "---\n" + body


def is_probably_incomplete(text: str) -> bool:
    """True for text a writer may be in the middle of: empty, blank, or a lone ``---``
    (what becomes of it once it settles: :func:`brainsync.sync.work.mid_write`)."""
    stripped = text.removeprefix(_BOM).strip()
    return stripped in ("", "---")


def decode_file(data: bytes) -> str:
    """Decode a file's bytes as strict UTF-8, keeping a BOM; reject binary data."""
    if b"\x00" in data:
        raise InvalidDocumentError(f"binary data (NUL byte at offset {data.index(0)})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(f"not valid UTF-8 (byte offset {exc.start})") from exc


def _needs_block(body: str) -> bool:
    return body.startswith(_BOM) or _OPEN.match(body) is not None


def _load(source: str) -> dict[str, Any]:
    """Check the event stream for bombs, then build the mapping from the YAML text."""
    try:
        if _NEEDS_EVENT_CHECK.search(source):
            # only anchors, aliases and tags need the event walk; depth is checked below
            _check_events(source)
        loader = _Loader(source)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        # the construct that failed starts at the context mark; the problem mark is often
        # where the parser gave up, the start of the next line
        mark = exc.context_mark or exc.problem_mark
        where = f" at line {mark.line + _FIRST_LINE}" if mark is not None else ""
        problem = exc.problem or exc.context or "error"
        raise InvalidDocumentError(f"invalid YAML frontmatter{where}: {problem}") from exc
    except yaml.YAMLError as exc:
        raise InvalidDocumentError(f"invalid YAML frontmatter: {exc}") from exc
    except (ValueError, TypeError) as exc:  # e.g. an integer longer than Python allows
        raise InvalidDocumentError(f"invalid YAML frontmatter: {exc}") from exc
    except RecursionError as exc:
        raise InvalidDocumentError(f"frontmatter nested deeper than {MAX_DEPTH} levels") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidDocumentError(
            f"frontmatter must be a mapping of keys to values, not {type(data).__name__}"
        )
    _check_keys(data, "frontmatter")
    return data


_NEEDS_EVENT_CHECK = re.compile(r"[&*!]")


def _check_events(source: str) -> None:
    """Reject anchors, aliases, unknown tags and deep nesting before building anything.

    Walking libyaml's events costs little and never expands an alias, so a billion-laughs
    document fails at its first anchor with bounded memory.
    """
    loader = _Loader(source)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if event is None:  # pragma: no cover - check_event said there is one
                break
            _check_event(event)
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    _fail(event, f"nesting deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _check_event(event: Event) -> None:
    if isinstance(event, AliasEvent):
        _fail(event, "aliases ('*name') are not allowed")
    if isinstance(event, NodeEvent) and event.anchor is not None:
        _fail(event, "anchors ('&name') are not allowed")
    tag = getattr(event, "tag", None)
    if tag is not None and tag not in _SAFE_TAGS:
        _fail(event, f"tag {tag!r} is not allowed")


def _fail(event: Event, problem: str) -> NoReturn:
    mark = event.start_mark
    where = f" at line {mark.line + _FIRST_LINE}" if mark is not None else ""
    raise InvalidDocumentError(f"invalid YAML frontmatter{where}: {problem}")


def _check_keys(value: Any, where: str, depth: int = 1) -> None:
    """Metadata must be JSON-like (every key a string) and at most MAX_DEPTH deep."""
    if isinstance(value, dict | list) and depth > MAX_DEPTH:
        raise InvalidDocumentError(
            f"invalid YAML frontmatter: nesting deeper than {MAX_DEPTH} levels"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidDocumentError(f"{where}: key {key!r} is not a string")
            _check_keys(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, f"{where}[{index}]", depth + 1)


def _plain(value: Any, where: str) -> Any:
    """Copy ``value`` as plain dicts, lists and scalars, or raise if it is not JSON-like."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(f"{where}: key {key!r} is not a string")
            plain[key] = _plain(item, f"{where}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise InvalidInputError(f"{where}: {type(value).__name__} is not a JSON-like value")
