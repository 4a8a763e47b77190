"""The three-way merge (brainsync.sync.merge): properties of the line merge and documents."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from brainsync.sync.markdown import parse, render
from brainsync.sync.merge import (
    MergeResult,
    NotMerged,
    Side,
    merge_documents,
    merge_lines,
    merge_metadata,
)

# lines drawn from a small alphabet, so that sides share and repeat lines
LINE = st.sampled_from(["a\n", "b\n", "c\n", "d\n", "e\n", "\n", "f\r\n", "g"])
LINES = st.lists(LINE, max_size=25)
# one block of a structured base: three distinct lines, only the middle one ever edited
EDIT = st.sampled_from(["keep", "replace", "delete", "insert"])
OWNER = st.sampled_from(["none", "file", "store", "both"])


@given(LINES, LINES)
def test_an_unchanged_side_gives_the_other_side(base: list[str], other: list[str]) -> None:
    assert merge_lines(base, base, other).lines == other
    assert merge_lines(base, other, base).lines == other


@given(LINES, LINES)
def test_a_change_merged_with_itself_gives_that_change(base: list[str], change: list[str]) -> None:
    merged = merge_lines(base, change, change)
    assert merged.lines == change
    assert merged.conflicts == ()


def _apply(block: int, edit: str, tag: str) -> list[str]:
    """Block ``block`` of the structured base after ``edit`` by side ``tag``."""
    head, middle, tail = f"{block}.1\n", f"{block}.2\n", f"{block}.3\n"
    body = {
        "keep": [middle],
        "replace": [f"{tag} {block}\n"],
        "delete": [],
        "insert": [f"{tag} {block} new\n", middle],
    }[edit]
    return [head, *body, tail]


@given(st.lists(st.tuples(OWNER, EDIT), min_size=1, max_size=12))
def test_a_clean_merge_contains_both_sides_hunks(plan: list[tuple[str, str]]) -> None:
    base, file, store, expected = [], [], [], []
    for block, (owner, edit) in enumerate(plan):
        base += _apply(block, "keep", "")
        file_edit = edit if owner in ("file", "both") else "keep"
        store_edit = edit if owner in ("store", "both") else "keep"
        file += _apply(block, file_edit, "same" if owner == "both" else "file")
        store += _apply(block, store_edit, "same" if owner == "both" else "store")
        expected += _apply(block, edit if owner != "none" else "keep", owner_tag(owner))
    merged = merge_lines(base, file, store)
    assert merged.lines == expected
    for side, start, end in merged.taken:  # every range taken names a side that changed it
        text = "".join(expected[start - 1 : end])
        assert side.value in text or "same" in text


def owner_tag(owner: str) -> str:
    return "same" if owner == "both" else owner


@given(st.lists(st.tuples(OWNER, EDIT), max_size=8), st.integers(0, 7))
def test_overlapping_hunks_do_not_merge(plan: list[tuple[str, str]], at: int) -> None:
    base, file, store = [], [], []
    for block, (owner, edit) in enumerate(plan):
        base += _apply(block, "keep", "")
        file += _apply(block, edit if owner == "file" else "keep", "file")
        store += _apply(block, edit if owner == "store" else "keep", "store")
    clash = min(at, len(plan))  # a block both sides change differently
    base[clash * 3 : clash * 3] = _apply(99, "keep", "")
    file[_index(file, base, clash) : _index(file, base, clash)] = _apply(99, "replace", "file")
    store[_index(store, base, clash) : _index(store, base, clash)] = _apply(99, "delete", "store")
    merged = merge_lines(base, file, store)
    assert merged.lines is None
    assert merged.conflicts


def _index(side: list[str], base: list[str], block: int) -> int:
    """Where the inserted clash block goes in ``side``: before block ``block``'s head."""
    marker = f"{block}.1\n"
    return side.index(marker) if marker in side else len(side)


# -- frontmatter -----------------------------------------------------------------------------

VALUE = st.one_of(st.integers(-5, 5), st.sampled_from(["x", "y", "z"]), st.lists(st.integers(0, 3)))
MAPPING = st.dictionaries(st.sampled_from(["title", "tags", "status", "rank"]), VALUE)


@given(MAPPING, MAPPING)
def test_metadata_unchanged_side_gives_the_other(
    base: dict[str, Any], other: dict[str, Any]
) -> None:
    for merged, _, clashes in (
        merge_metadata(base, base, other),
        merge_metadata(base, other, base),
        merge_metadata(base, other, other),
    ):
        assert merged == other and clashes == []


@given(MAPPING, VALUE, VALUE, VALUE)
def test_metadata_same_key_changed_differently_is_a_conflict(
    base: dict[str, Any], old: Any, ours: Any, theirs: Any
) -> None:
    if len({repr(old), repr(ours), repr(theirs)}) < 3:
        return
    merged, _, clashes = merge_metadata(
        {**base, "k": old}, {**base, "k": ours}, {**base, "k": theirs}
    )
    assert clashes == ["k"]
    assert "k" not in merged


def test_metadata_keys_changed_apart_both_land() -> None:
    base = {"title": "T", "tags": ["a"]}
    merged, taken, clashes = merge_metadata(
        base, {"title": "New title", "tags": ["a"]}, {"title": "T", "tags": ["a", "b"], "x": 1}
    )
    assert merged == {"title": "New title", "tags": ["a", "b"], "x": 1}
    assert taken == {Side.FILE: ["title"], Side.STORE: ["tags", "x"]}
    assert clashes == []


# -- documents -------------------------------------------------------------------------------

BODY = "# Heading\n\nFirst paragraph.\n\nSecond paragraph.\n\nThird paragraph.\n"


def _doc(metadata: dict[str, Any], body: str = BODY) -> str:
    return render(metadata, body)


def test_agent_frontmatter_and_person_body_merge() -> None:
    base = _doc({"title": "Note", "tags": ["a"]})
    person = base.replace("Second paragraph.", "Second paragraph, rewritten.")
    agent = _doc({"title": "Note", "tags": ["a", "agent"]})
    merged = merge_documents(base, person, agent)
    assert isinstance(merged, MergeResult)
    body = BODY.replace("Second paragraph.", "Second paragraph, rewritten.")
    assert merged.document == _doc({"title": "Note", "tags": ["a", "agent"]}, body)
    assert merged.from_store == ("frontmatter tags",)
    assert merged.from_file == ("line 11",)  # of the merged file: 6 frontmatter lines first


@given(st.sampled_from(["merge", "keep"]), st.booleans())
def test_merged_document_reads_back(kind: str, bom: bool) -> None:
    base = ("\ufeff" if bom else "") + _doc({"title": "Note"})
    person = base.replace("First", "1st")
    agent = _doc({"title": "Note", "rank": 2}, BODY if kind == "keep" else BODY + "Added.\n")
    merged = merge_documents(base, person, agent)
    assert isinstance(merged, MergeResult)
    assert merged.document.startswith("\ufeff") == bom  # the file's BOM stays
    parsed = parse(merged.document)
    assert parsed.metadata == {"title": "Note", "rank": 2}
    assert "1st paragraph." in parsed.body
    assert parsed.body.endswith("Added.\n") == (kind == "merge")


def test_crlf_and_bom_bytes_are_kept_outside_the_merged_hunks() -> None:
    base = "\ufeff---\r\ntitle: Note\r\n---\r\nline one\r\nline two\r\nline three\r\n"
    person = base.replace("line one", "line ONE")
    # an agent rewrote it from parts: LF frontmatter, no BOM, the body's CRLF kept
    agent = "---\ntitle: Note\ntags:\n- x\n---\nline one\r\nline two\r\nline three\r\n"
    merged = merge_documents(base, person, agent)
    assert isinstance(merged, MergeResult)
    assert merged.document == (
        "\ufeff---\r\ntitle: Note\r\ntags:\r\n- x\r\n---\r\nline ONE\r\nline two\r\nline three\r\n"
    )


def test_same_line_on_both_sides_does_not_merge() -> None:
    base = _doc({"title": "Note"})
    outcome = merge_documents(
        base, base.replace("Third", "File's third"), base.replace("Third", "Store's third")
    )
    assert outcome == NotMerged("both sides changed line 10")


def test_same_key_on_both_sides_does_not_merge() -> None:
    base = _doc({"title": "Note"})
    outcome = merge_documents(base, _doc({"title": "File"}), _doc({"title": "Store"}))
    assert outcome == NotMerged("both sides changed frontmatter 'title'")


def test_both_rewrote_the_frontmatter_apart() -> None:
    base = _doc({"title": "Note", "status": "draft", "tags": ["a"]})
    person = _doc({"title": "Better", "status": "draft", "tags": ["a"]})
    agent = _doc({"title": "Note", "status": "draft", "tags": ["a", "b"]})
    merged = merge_documents(base, person, agent)
    assert isinstance(merged, MergeResult)
    assert merged.document == _doc({"title": "Better", "status": "draft", "tags": ["a", "b"]})
    assert (merged.from_file, merged.from_store) == (("frontmatter title",), ("frontmatter tags",))


def test_no_conflict_markers_ever() -> None:
    base = "a\nb\nc\n"
    outcome = merge_documents(base, "a\nB\nc\n", "a\nbee\nc\n")
    assert isinstance(outcome, NotMerged)
    assert "<<<" not in outcome.reason


def test_a_side_that_does_not_parse_does_not_merge() -> None:
    outcome = merge_documents("x\n", "---\ntitle: [\n---\nx\n", "y\n")
    assert isinstance(outcome, NotMerged) and "does not parse" in outcome.reason


# -- documents, generated -------------------------------------------------------------------

DOC_LINE = st.sampled_from(["para one\n", "para two\n", "\n", "- item\n", "# Head\n", "end"])


@st.composite
def documents(draw: st.DrawFn, *, crlf: bool | None = None, bom: bool | None = None) -> str:
    """A valid document: optional BOM, optional frontmatter, some body lines."""
    metadata = draw(MAPPING)
    body = "".join(draw(st.lists(DOC_LINE, max_size=8)))
    text = render(metadata, body)
    if crlf if crlf is not None else draw(st.booleans()):
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    with_bom = bom if bom is not None else draw(st.booleans())
    return ("\ufeff" if with_bom else "") + text


@given(documents(), documents())
def test_a_document_changed_on_the_file_side_only_is_the_file(base: str, file: str) -> None:
    merged = merge_documents(base, file, base)
    assert isinstance(merged, MergeResult) and merged.document == file


@given(documents(crlf=False, bom=False), documents(crlf=False, bom=False))
def test_a_document_changed_on_the_store_side_only_is_the_store(base: str, store: str) -> None:
    merged = merge_documents(base, base, store)
    assert isinstance(merged, MergeResult) and merged.document == store


@given(documents(), documents(), documents())
def test_any_three_documents_merge_or_say_why(base: str, file: str, store: str) -> None:
    outcome = merge_documents(base, file, store)
    if isinstance(outcome, NotMerged):
        assert outcome.reason
        return
    assert "<<<<<<<" not in outcome.document
    assert outcome.document.startswith("\ufeff") == file.startswith("\ufeff")
    parse(outcome.document)  # what is written always reads back
    if file == store:
        assert outcome.document == file
