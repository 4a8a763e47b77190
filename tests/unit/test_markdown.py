"""The markdown file format: frontmatter split, safe YAML, canonical rendering."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from brainsync.errors import InvalidDocumentError, InvalidInputError
from brainsync.sync.markdown import (  # _CORE_RESOLVERS: to write hand-made forms
    _CORE_RESOLVERS,
    MAX_DEPTH,
    ParsedDocument,
    _Dumper,
    decode_file,
    is_probably_incomplete,
    parse,
    render,
)

TRICKY = [
    "no", "No", "NO", "yes", "on", "off", "y", "n", "true", "False", "null", "Null", "~", "",
    "2024-01-05", "2024-01-05T10:00:00Z", "1:30", "0755", "0o17", "0x1F", "1e3", "1_000",
    ".inf", ".nan", "-0", "+1", "12", "1.5", "=", "<<", "---", "...", "--- x", "- a",
    "a: b", "#c", "x #y", " lead", "trail ", "a\nb", "a\n", "\n", "a\r\nb", "'q'", '"q"',
    "{a}", "[a]", "&a", "*a", "!tag", "%x", "@x", "`x", "é", "日本語", "\u2028", "\x85",
    "tab\there", "\ufeff", "🙂",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
keys = st.one_of(st.sampled_from(TRICKY), st.text(max_size=20))


def _values(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return scalars
    inner = _values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    )


metadata_st = st.dictionaries(keys, _values(3), max_size=6)
body_lines = st.one_of(
    st.sampled_from(["---", "...", "```yaml", "```", "a: b", "", "  ", "# title", "- x"]),
    st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s),
)
body_st = st.tuples(
    st.lists(body_lines, max_size=8), st.sampled_from(["\n", "\r\n"]), st.booleans()
).map(lambda t: t[1].join(t[0]) + (t[1] if t[2] else ""))
body_st = st.one_of(body_st, st.text(max_size=80))
PROPS = settings(max_examples=200, deadline=None)


@PROPS
@given(metadata_st, body_st)
def test_parse_gives_back_what_render_wrote(metadata: dict[str, Any], body: str) -> None:
    parsed = parse(render(metadata, body))
    assert parsed.metadata == metadata
    assert parsed.body == body
    assert list(parsed.metadata) == list(metadata)  # key order is kept too


@PROPS
@given(metadata_st, body_st)
def test_render_of_parse_is_identity(metadata: dict[str, Any], body: str) -> None:
    text = render(metadata, body)
    parsed = parse(text)
    assert render(parsed.metadata, parsed.body) == text


class _HandDumper(yaml.SafeDumper):
    """Pure-Python emitter: libyaml writes a bare ``!`` for tagged quoted scalars."""


for _tag, _regexp, _first in _CORE_RESOLVERS:
    _HandDumper.add_implicit_resolver(_tag, _regexp, _first)


def _noncanonical(metadata: dict[str, Any], body: str, style: int) -> str:
    """A hand-written form of ``metadata``: other key order, quoting, layout or newlines."""
    reordered = dict(reversed(list(metadata.items())))
    options: list[dict[str, Any]] = [
        {"default_flow_style": True},
        {"default_style": '"'},
        {"indent": 4, "explicit_end": False},
        {"line_break": "\r\n"},
    ]
    dumper = _HandDumper if style == 1 else _Dumper
    source: str = yaml.dump(reordered, Dumper=dumper, allow_unicode=True, **options[style])
    newline = "\r\n" if style == 3 else "\n"
    blank = newline + "# a comment" + newline + newline
    return "---" + newline + blank + source + blank + "..." + newline + body


@PROPS
@given(metadata_st, body_st, st.integers(0, 3))
def test_hand_written_forms_parse_to_the_same_values(
    metadata: dict[str, Any], body: str, style: int
) -> None:
    parsed = parse(_noncanonical(metadata, body, style))
    assert parsed.metadata == metadata
    assert parsed.body == body


def test_hand_written_document_with_odd_layout() -> None:
    text = (
        "---\r\n"
        "\r\n"
        'title:   "Hello: world"\r\n'
        "tags: [b, 'a']\r\n"
        "\r\n"
        "date: 2024-01-05\r\n"
        "count: 0x10\r\n"
        "---\r\n"
        "Body\r\n"
    )
    parsed = parse(text)
    assert parsed.metadata == {
        "title": "Hello: world",
        "tags": ["b", "a"],
        "date": "2024-01-05",
        "count": 16,
    }
    assert parsed.body == "Body\r\n"
    assert render(parsed.metadata, parsed.body) == (
        "---\ntitle: 'Hello: world'\ntags:\n- b\n- a\ndate: '2024-01-05'\ncount: 16\n---\nBody\r\n"
    )


def test_crlf_frontmatter_keeps_crlf_body() -> None:
    parsed = parse("---\r\na: 1\r\n---\r\nline\r\n\r\n")
    assert parsed == ParsedDocument({"a": 1}, "line\r\n\r\n", has_frontmatter=True)


def test_bom_is_dropped_before_the_fence() -> None:
    assert parse("\ufeff---\na: x\n---\nbody") == ParsedDocument({"a": "x"}, "body", True)
    assert parse("\ufeffjust text") == ParsedDocument({}, "just text", False)


def test_dashes_in_body_and_code_fence_are_kept() -> None:
    body = "intro\n---\n```yaml\n---\nkey: value\n...\n```\n---\ntrailing  \n"
    parsed = parse("---\ntitle: t\n---\n" + body)
    assert parsed.metadata == {"title": "t"}
    assert parsed.body == body


def test_dot_dot_dot_closes_the_frontmatter() -> None:
    assert parse("---\na: 1\n...\nbody\n") == ParsedDocument({"a": 1}, "body\n", True)


def test_closing_fence_at_end_of_text() -> None:
    assert parse("---\na: 1\n---") == ParsedDocument({"a": 1}, "", True)


def test_fence_lines_must_be_exact() -> None:
    # "--- " and "----" are not fences, so this document has no frontmatter at all.
    assert parse("--- \na: 1\n").has_frontmatter is False
    assert parse("----\na: 1\n----\n").body == "----\na: 1\n----\n"
    with pytest.raises(InvalidDocumentError, match="never closed"):
        parse("---\na: 1\n--- \nbody\n")


def test_no_frontmatter() -> None:
    assert parse("# Title\n\ntext\n") == ParsedDocument({}, "# Title\n\ntext\n", False)
    assert parse("") == ParsedDocument({}, "", False)


def test_empty_frontmatter_is_empty_mapping() -> None:
    assert parse("---\n---\nbody") == ParsedDocument({}, "body", True)
    assert parse("---\n# only a comment\n---\n") == ParsedDocument({}, "", True)


@pytest.mark.parametrize("text", ["---\na: 1\n", "---\n", "---", "---\r\na: 1\r\n"])
def test_unclosed_fence_is_rejected(text: str) -> None:
    with pytest.raises(InvalidDocumentError, match="never closed"):
        parse(text)


@pytest.mark.parametrize(
    ("source", "kind"), [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")]
)
def test_frontmatter_that_is_not_a_mapping_is_rejected(source: str, kind: str) -> None:
    with pytest.raises(InvalidDocumentError, match=f"must be a mapping.*{kind}"):
        parse(f"---\n{source}---\nbody")


def test_yaml_11_surprises_stay_strings() -> None:
    source = "a: no\nb: on\nc: yes\nd: 2024-01-05\ne: 1:30\nf: 0755\ng: 2024-01-05 10:00:00\n"
    parsed = parse("---\n" + source + "---\n")
    assert parsed.metadata == {
        "a": "no",
        "b": "on",
        "c": "yes",
        "d": "2024-01-05",
        "e": "1:30",
        "f": "0755",
        "g": "2024-01-05 10:00:00",
    }


def test_core_scalars() -> None:
    source = "t: True\nf: FALSE\nn: ~\ne:\ni: -12\no: 0o17\nh: 0x1f\nx: 1.5e3\ns: '12'\n"
    parsed = parse("---\n" + source + "---\n")
    assert parsed.metadata == {
        "t": True,
        "f": False,
        "n": None,
        "e": None,
        "i": -12,
        "o": 15,
        "h": 31,
        "x": 1500.0,
        "s": "12",
    }


def test_ambiguous_strings_are_quoted_for_yaml_11_readers() -> None:
    text = render({"a": "no", "b": "2024-01-05", "c": "1:30", "d": "1e3", "e": "0755"}, "")
    assert text == "---\na: 'no'\nb: '2024-01-05'\nc: '1:30'\nd: '1e3'\ne: '0755'\n---\n"


def test_render_is_canonical_and_does_not_wrap() -> None:
    long = "word " * 100 + "end"
    text = render({"z": 1, "a": {"k": [1, "x"]}, "long": long, "u": "é"}, "body\n")
    assert text == f"---\nz: 1\na:\n  k:\n  - 1\n  - x\nlong: {long}\nu: é\n---\nbody\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("plain\n", "plain\n"),
        ("", ""),
        ("---\nnot: meta\n---\n", "---\n---\n---\nnot: meta\n---\n"),
        ("---", "---\n---\n---"),
        ("\ufeffbom first", "---\n---\n\ufeffbom first"),
        ("----\n", "----\n"),
    ],
)
def test_render_empty_metadata(body: str, expected: str) -> None:
    assert render({}, body) == expected
    assert parse(expected).metadata == {}
    assert parse(expected).body == body


def test_render_rejects_what_is_not_json_like() -> None:
    with pytest.raises(InvalidInputError, match="not a string"):
        render({"a": {1: "x"}}, "")
    with pytest.raises(InvalidInputError, match="set is not a JSON-like value"):
        render({"a": {1, 2}}, "")


def test_render_accepts_mappings_and_tuples() -> None:
    from types import MappingProxyType

    text = render(MappingProxyType({"a": ("x", 1)}), "")
    assert parse(text).metadata == {"a": ["x", 1]}


def test_non_string_keys_are_rejected() -> None:
    with pytest.raises(InvalidDocumentError, match="key 1 is not a string"):
        parse("---\n1: one\n---\n")
    with pytest.raises(InvalidDocumentError, match=r"frontmatter\.a: key None"):
        parse("---\na:\n  null: x\n---\n")


def test_duplicate_keys_are_rejected_with_line() -> None:
    with pytest.raises(InvalidDocumentError, match="line 4: duplicate key 'a'"):
        parse("---\na: 1\nb: 2\na: 3\n---\n")


def test_syntax_error_reports_file_line() -> None:
    with pytest.raises(InvalidDocumentError, match="line 3: mapping values are not allowed"):
        parse("---\na: 1\n b: 2\nc: 3\n---\n")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("---\ntitle: a\nbad line\nok: 1\n---\n", 3),  # no ':' on line 3
        ("---\ntitle: a\nx: [1, 2\nok: 1\n---\n", 3),  # a list opened on line 3
        ('---\ntitle: "a\nok: 1\n---\n', 2),  # a quote opened on line 2
        ("---\ntitle: a\nx: {a: 1\n---\n", 3),
    ],
)
def test_syntax_error_points_at_the_line_that_is_wrong(text: str, line: int) -> None:
    with pytest.raises(InvalidDocumentError, match=f"at line {line}:"):
        parse(text)


def test_billion_laughs_is_rejected() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, 10):
        prev = chr(ord("a") + n - 1)
        here = chr(ord("a") + n)
        lines.append(f"{here}: &{here} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(InvalidDocumentError, match="anchors"):
        parse("---\n" + "\n".join(lines) + "\n---\n")


def test_alias_without_anchor_is_rejected() -> None:
    with pytest.raises(InvalidDocumentError):
        parse("---\na: *missing\n---\n")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200])
def test_deep_nesting_is_rejected(depth: int) -> None:
    deep = "x: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(InvalidDocumentError, match=f"deeper than {MAX_DEPTH}"):
        parse("---\n" + deep + "---\n")


def test_very_deep_nesting_is_rejected() -> None:
    # libyaml itself stops at its own limit before handing us the events.
    deep = "x: " + "[" * 1000 + "]" * 1000 + "\n"
    with pytest.raises(InvalidDocumentError, match="nesting"):
        parse("---\n" + deep + "---\n")


def test_deep_block_nesting_is_rejected() -> None:
    deep = "".join("  " * level + f"k{level}:\n" for level in range(100)) + "  " * 100 + "v\n"
    with pytest.raises(InvalidDocumentError, match=f"deeper than {MAX_DEPTH}"):
        parse("---\n" + deep + "---\n")


def test_nesting_up_to_the_limit_is_accepted() -> None:
    source = "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    value: Any = parse("---\n" + source + "---\n").metadata["x"]
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    assert depth == MAX_DEPTH - 1


def test_python_tags_never_run(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    source = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(InvalidDocumentError, match=r"tag .* is not allowed"):
        parse("---\n" + source + "---\n")
    assert not marker.exists()


@pytest.mark.parametrize("tagged", ["!!binary aGk=", "!!timestamp 2024-01-05", "!!set {a}", "!x y"])
def test_non_json_tags_are_rejected(tagged: str) -> None:
    with pytest.raises(InvalidDocumentError, match="not allowed"):
        parse(f"---\na: {tagged}\n---\n")


def test_core_tags_are_accepted() -> None:
    assert parse("---\na: !!str 12\nb: !!int '7'\n---\n").metadata == {"a": "12", "b": 7}


def test_frontmatter_size_limit() -> None:
    text = "---\na: " + "x" * 100 + "\n---\nbody"
    assert parse(text, max_frontmatter_bytes=200).metadata == {"a": "x" * 100}
    with pytest.raises(InvalidDocumentError, match="larger than 50 bytes"):
        parse(text, max_frontmatter_bytes=50)


def test_size_limit_counts_utf8_bytes() -> None:
    text = "---\na: " + "é" * 40 + "\n---\n"  # 40 characters, 80 bytes
    with pytest.raises(InvalidDocumentError, match="larger than 60 bytes"):
        parse(text, max_frontmatter_bytes=60)


@pytest.mark.parametrize("text", ["", "  ", "\n\n", " \t\r\n", "---", "---\n", " --- \n", "\ufeff"])
def test_probably_incomplete(text: str) -> None:
    assert is_probably_incomplete(text)


@pytest.mark.parametrize("text", ["x", "---\n---\n", "---\na: 1\n", "- --", "----"])
def test_not_incomplete(text: str) -> None:
    assert not is_probably_incomplete(text)


def test_decode_file_keeps_bom() -> None:
    assert decode_file("\ufeff---\nä".encode()) == "\ufeff---\nä"


def test_decode_file_rejects_invalid_utf8() -> None:
    with pytest.raises(InvalidDocumentError, match=r"not valid UTF-8 \(byte offset 3\)"):
        decode_file(b"abc\xff\xfe")
    with pytest.raises(InvalidDocumentError, match="not valid UTF-8"):
        decode_file("é".encode("latin-1"))


def test_decode_file_rejects_nul_bytes() -> None:
    with pytest.raises(InvalidDocumentError, match="binary data"):
        decode_file(b"---\na: 1\n---\n\x00\x01")
    with pytest.raises(InvalidDocumentError, match="binary data"):
        decode_file("text".encode("utf-16"))
