"""Entity keys to relative paths and back, and the containment checks."""

from __future__ import annotations

import os
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brainsync.entities import EntityKey
from brainsync.errors import InvalidInputError, UnsafePathError
from brainsync.sync.paths import (
    MAX_NAME_BYTES,
    PathGuard,
    PathMapper,
    clash_key,
    ensure_inside,
)

TYPES = ["note", "post", "site-content"]
MAPPER = PathMapper(TYPES)
PROPS = settings(max_examples=200, deadline=None)


def note(entity_id: str) -> EntityKey:
    return EntityKey("note", entity_id)


@pytest.mark.parametrize(
    ("key", "path"),
    [
        (note("a:b:c"), "a/b/c.md"),
        (note("x"), "x.md"),
        (EntityKey("post", "x:y"), "post/x/y.md"),
        (EntityKey("site-content", "home:hero"), "site-content/home/hero.md"),
        (note("ideas:2024:x"), "ideas/2024/x.md"),
        (note("note:x"), "note/x.md"),  # notes have no folder, so "note/" is an ordinary one
        (note("post"), "post.md"),  # a file at the root is never a type folder
        (note("post:x"), "%70ost/x.md"),
        (note("..:x"), "%2E%2E/x.md"),
        (note(".:x"), "%2E/x.md"),
        (note(".hidden"), "%2Ehidden.md"),
        (note("a/b"), "a%2Fb.md"),
        (note("a\\b"), "a%5Cb.md"),
        (note("a\x00b"), "a%00b.md"),
        (note("a\nb\x7f"), "a%0Ab%7F.md"),
        (note('<>"|?*'), "%3C%3E%22%7C%3F%2A.md"),
        (note("/etc:passwd"), "%2Fetc/passwd.md"),
        (note("C:x"), "C/x.md"),
        (note("CON"), "%43ON.md"),
        (note("con.txt"), "%63on.txt.md"),
        (note("aux:x"), "%61ux/x.md"),
        (note("Lpt9"), "%4Cpt9.md"),
        (note("com10"), "com10.md"),
        (note("console"), "console.md"),
        (note("x."), "x%2E.md"),
        (note("x :y"), "x%20/y.md"),
        (note("a b"), "a b.md"),
        (note("_drafts:x"), "%5Fdrafts/x.md"),
        (note("_x"), "_x.md"),
        (note("a{b}"), "a{b}.md"),
        (note("~x"), "~x.md"),
        (note("~"), "~.md"),
        (note("{"), "{.md"),
        (note("#1"), "#1.md"),
        (note("a~"), "a~.md"),
        (note("~$lock"), "%7E%24lock.md"),
        (note("x_BASE_12"), "%78%5FBASE%5F12.md"),
        (note("x.REMOTE.7"), "%78%2EREMOTE%2E7.md"),
        (note("100%"), "100%.md"),
        (note("%41"), "%2541.md"),
        (note("50%off"), "50%off.md"),
        (note("%ab:%a"), "%25ab/%a.md"),
        (note("é:日本"), "é/日本.md"),
        (note("x.conflict-0123abcd"), "x%2Econflict-0123abcd.md"),
    ],
)
def test_key_to_path_and_back(key: EntityKey, path: str) -> None:
    assert MAPPER.to_path(key) == PurePosixPath(path)
    assert MAPPER.to_key(path) == key


@pytest.mark.parametrize("entity_id", ["", ":", "a::b", ":a", "a:"])
def test_empty_ids_and_segments_are_rejected(entity_id: str) -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        MAPPER.to_path(note(entity_id))


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unknown entity type 'page'"):
        MAPPER.to_path(EntityKey("page", "x"))


def test_segment_length_limit_counts_encoded_bytes() -> None:
    fits = "a" * (MAX_NAME_BYTES - 3)
    assert str(MAPPER.to_path(note(fits))) == fits + ".md"
    with pytest.raises(InvalidInputError, match="too long"):
        MAPPER.to_path(note(fits + "a"))
    with pytest.raises(InvalidInputError, match="too long"):
        MAPPER.to_path(note("é" * 127 + ":x"))  # 254 bytes + ".md"
    with pytest.raises(InvalidInputError, match="too long"):
        MAPPER.to_path(note("<" * 90))  # 270 bytes once escaped


def test_surrogates_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="not valid unicode"):
        MAPPER.to_path(note("a\ud800"))
    undecodable = os.fsdecode(b"bad\xff.md")  # a non-UTF-8 name as os.listdir returns it
    with pytest.raises(InvalidInputError, match="not valid unicode"):
        MAPPER.to_key(undecodable)


def test_mapper_validates_type_names() -> None:
    with pytest.raises(InvalidInputError, match="invalid entity type name"):
        PathMapper(["note", "../x"])


def test_note_is_always_known() -> None:
    assert PathMapper(["post"]).to_path(note("a:b")) == PurePosixPath("a/b.md")


@pytest.mark.parametrize(
    "path",
    [
        "/abs/x.md",
        "../x.md",
        "a/../x.md",
        "./x.md",
        "a//b.md",
        "a/",
        "a\\b.md",
        "a\x00.md",
    ],
)
def test_to_key_rejects_unsafe_paths(path: str) -> None:
    with pytest.raises(UnsafePathError):
        MAPPER.to_key(path)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("x.txt", "not a .md file"),
        ("x.MD", "not a .md file"),
        ("x", "not a .md file"),
        ("post/.md", "not a .md file"),
        (".md", "not a .md file"),
        (".git/x.md", "scan ignores"),
        (".x.md", "scan ignores"),
        ("_drafts/x.md", "scan ignores"),
        ("post/_drafts/x.md", "scan ignores"),
        ("~$x.md", "scan ignores"),
        ("x_LOCAL_123.md", "scan ignores"),
        ("x.BASE.99.md", "scan ignores"),
        ("x.conflict-0123abcd.md", "conflict copy"),
        ("a:b.md", "':'"),
        ("a%3Ab.md", "':'"),
        ("C:/x.md", "':'"),
    ],
)
def test_to_key_rejects_non_entity_paths(path: str, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason):
        MAPPER.to_key(path)


@pytest.mark.parametrize(
    ("path", "key", "canonical"),
    [
        ("_x.md", note("_x"), "_x.md"),
        ("100%.md", note("100%"), "100%.md"),
        ("%41.md", note("A"), "A.md"),
        ("%3c.md", note("<"), "%3C.md"),
        ("%FF.md", note("%FF"), "%25FF.md"),
        ("CON.md", note("CON"), "%43ON.md"),
        ("a<b.md", note("a<b"), "a%3Cb.md"),
        ("Post/x.md", note("Post:x"), "Post/x.md"),
        ("post/post/x.md", EntityKey("post", "post:x"), "post/post/x.md"),
        ("ideas/~x/a.md", note("ideas:~x:a"), "ideas/~x/a.md"),
        ("a{1}/x{1}.md", note("a{1}:x{1}"), "a{1}/x{1}.md"),
        ("ideas/%7Ex/a.md", note("ideas:~x:a"), "ideas/~x/a.md"),
    ],
)
def test_hand_made_paths_import(path: str, key: EntityKey, canonical: str) -> None:
    assert MAPPER.to_key(path) == key
    assert MAPPER.to_key(PurePosixPath(path)) == key
    assert MAPPER.to_path(key) == PurePosixPath(canonical)


def test_unregistered_type_folder_holds_notes_until_registered() -> None:
    assert MAPPER.to_key("blog/x.md") == note("blog:x")
    assert PathMapper([*TYPES, "blog"]).to_key("blog/x.md") == EntityKey("blog", "x")


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("post/x.md", "post"),
        (PurePosixPath("site-content/a/b.md"), "site-content"),
        ("post.md", None),
        ("note/x.md", None),
        ("%70ost/x.md", None),
        ("Post/x.md", None),
        ("ideas/x.md", None),
    ],
)
def test_type_folder_of(path: str | PurePosixPath, folder: str | None) -> None:
    assert MAPPER.type_folder_of(path) == folder


def test_clash_key_folds_case_and_normalisation() -> None:
    nfc = unicodedata.normalize("NFC", "Café/Ärger.md")
    nfd = unicodedata.normalize("NFD", "café/ärger.md")
    assert nfc != nfd
    assert clash_key(nfc) == clash_key(nfd)
    assert clash_key("Note.md") == clash_key("note.md")
    assert clash_key(PurePosixPath("STRASSE.md")) == clash_key("straße.md")
    assert clash_key("a.md") != clash_key("b.md")


# --- ensure_inside -----------------------------------------------------------------------


def test_ensure_inside_returns_path_under_root(tmp_path: Path) -> None:
    assert ensure_inside(tmp_path, "a/b.md") == tmp_path / "a" / "b.md"
    assert ensure_inside(tmp_path, PurePosixPath("x.md")) == tmp_path / "x.md"


@pytest.mark.parametrize("rel", ["/etc/passwd", "../x.md", "a/../../x.md", "a\x00.md", "", "."])
def test_ensure_inside_rejects_unsafe_relative_paths(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path, rel)


def test_ensure_inside_rejects_symlinked_folder_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        ensure_inside(root, "evil/x.md")
    with pytest.raises(UnsafePathError, match="outside"):
        ensure_inside(root, "evil/deeper/x.md")
    assert list(outside.iterdir()) == []


def test_ensure_inside_allows_symlink_that_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert ensure_inside(tmp_path, "alias/x.md") == tmp_path / "alias" / "x.md"


def test_ensure_inside_accepts_symlinked_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert ensure_inside(tmp_path / "link", "a/x.md") == tmp_path / "link" / "a" / "x.md"


def test_ensure_inside_rejects_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path, "loop/x.md")


def test_guard_locate_is_none_below_a_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    guard = PathGuard(tmp_path)
    assert guard.locate("a/x.md") == str(tmp_path / "a" / "x.md")
    assert guard.locate("a/missing/x.md") is None
    (tmp_path / "file.md").write_text("x")
    assert guard.locate("file.md/x.md") is None  # a file where a folder should be


def test_guard_stats_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    guard = PathGuard(tmp_path)
    seen: list[str] = []
    real_lstat = os.lstat

    def spy(path: str) -> os.stat_result:
        seen.append(path)
        return real_lstat(path)

    monkeypatch.setattr(os, "lstat", spy)
    assert guard.locate("missing/x.md") is None
    assert guard.locate("missing/y.md") is None
    assert len(seen) == 2  # a missing folder: one lstat per look, never remembered
    guard.check("a/b/x.md")
    seen.clear()
    for name in ("y.md", "z.md"):
        guard.check(f"a/b/{name}")
    guard.check("a/other.md")
    assert seen == []  # verified folders are not looked at again


def test_guard_refuses_a_link_below_a_verified_folder(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    guard = PathGuard(root)
    guard.check("a/x.md")
    (root / "a" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        guard.check("a/evil/x.md")


def test_guard_resolves_a_new_folder_below_one_swapped_for_a_link(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    (outside / "b").mkdir(parents=True)
    guard = PathGuard(root)
    guard.check("a/x.md")
    (root / "a").rmdir()
    (root / "a").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        guard.check("a/b/x.md")


def test_guard_does_not_remember_a_missing_folder(tmp_path: Path) -> None:
    """A folder found missing is looked at again: it may come back as a link out."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    guard = PathGuard(root)
    assert guard.locate("late/x.md") is None
    (root / "late").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="outside"):
        guard.locate("late/x.md")
    with pytest.raises(UnsafePathError, match="outside"):
        guard.make_parent("late/deeper/x.md")
    assert list(outside.iterdir()) == []


# --- properties --------------------------------------------------------------------------

SPECIAL = [*'.%_~{}<>:"/\\|?* \x00\n\x7f', "CON", "aux", "nul.txt", "post", "..", "%41"]
segment_st = st.one_of(
    st.text(
        alphabet=st.one_of(
            st.characters(exclude_characters=":", exclude_categories=["Cs"]),
            st.sampled_from(SPECIAL[:-6]),
        ),
        min_size=1,
        max_size=20,
    ).filter(lambda s: ":" not in s),
    st.sampled_from([s for s in SPECIAL if ":" not in s]),
)
id_st = st.lists(segment_st, min_size=1, max_size=4).map(":".join)
type_st = st.sampled_from(TYPES)


@PROPS
@given(type_st, id_st)
def test_round_trip_for_any_valid_id(type_name: str, entity_id: str) -> None:
    key = EntityKey(type_name, entity_id)
    path = MAPPER.to_path(key)
    assert MAPPER.to_key(path) == key
    assert MAPPER.to_key(str(path)) == key


def _assert_contained(path: PurePosixPath) -> None:
    text = str(path)
    assert not path.is_absolute() and not text.startswith("/")
    assert "\x00" not in text and "\\" not in text and ":" not in text
    assert all(part not in ("", ".", "..") for part in text.split("/"))
    assert all(len(part.encode()) <= MAX_NAME_BYTES for part in path.parts)
    assert text.endswith(".md")


@PROPS
@given(type_st, st.text(max_size=60))
def test_any_key_maps_inside_or_is_rejected(type_name: str, entity_id: str) -> None:
    try:
        path = MAPPER.to_path(EntityKey(type_name, entity_id))
    except InvalidInputError:
        return
    _assert_contained(path)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = ensure_inside(root, path)
        assert root.resolve() in target.resolve().parents


path_pieces = st.sampled_from([*"ab/._~{%3AcCF:\\ é", "%41", "%25", "%3A", "post/"])


@PROPS
@given(st.lists(path_pieces, min_size=1, max_size=15).map(lambda p: "".join(p) + ".md"))
def test_accepted_paths_are_canonical_or_map_to_a_canonical_one(text: str) -> None:
    try:
        key = MAPPER.to_key(text)
    except InvalidInputError:
        return
    try:
        canonical = MAPPER.to_path(key)
    except InvalidInputError:
        return  # e.g. a hand-made name too long once escaped
    assert MAPPER.to_key(canonical) == key
    assert MAPPER.to_path(MAPPER.to_key(canonical)) == canonical


@PROPS
@given(type_st, id_st)
def test_canonical_paths_read_back_to_themselves(type_name: str, entity_id: str) -> None:
    path = MAPPER.to_path(EntityKey(type_name, entity_id))
    assert MAPPER.to_path(MAPPER.to_key(path)) == path


@PROPS
@given(id_st)
def test_clash_key_ignores_case_and_normal_form(entity_id: str) -> None:
    text = str(MAPPER.to_path(note(entity_id)))
    folded = clash_key(text)
    assert clash_key(unicodedata.normalize("NFC", text)) == folded
    assert clash_key(unicodedata.normalize("NFD", text)) == folded
    assert clash_key(text.casefold()) == folded
    if text.isascii():
        assert clash_key(text.upper()) == folded


def test_ensure_inside_property_on_a_real_symlink_escape() -> None:
    """Every path below an outward symlink is refused, whatever its name."""

    @PROPS
    @given(id_st)
    def check(entity_id: str) -> None:
        rel = PurePosixPath("escape") / MAPPER.to_path(note(entity_id))
        with pytest.raises(UnsafePathError):
            ensure_inside(root, rel)

    with tempfile.TemporaryDirectory() as tmp:
        root, outside = Path(tmp, "root"), Path(tmp, "outside")
        root.mkdir()
        outside.mkdir()
        os.symlink(outside, root / "escape")
        check()
        assert list(outside.iterdir()) == []
