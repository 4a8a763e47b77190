"""The ignore rules: a name ending in ``.md`` is a note unless a documented rule names it.

The rules that can name a ``.md`` file are restated here from the README's table, on
purpose without the module's regular expressions, so that a rule widened by accident (as
``~x.md`` and ``{.md`` once were, catalogue B11) fails this property.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from brainsync.sync.ignore import REASONS, IgnoreRule, builtin_dir_rule, builtin_file_rule

_GIT_SIDES = ("BACKUP", "BASE", "LOCAL", "REMOTE", "DIFF3", "LOCAL_LCONFL", "REMOTE_RCONFL")


def _numbered(name: str, prefix: str) -> bool:
    """True when ``name`` is ``<something><prefix><digits>.md``."""
    head = name[: -len(".md")].rstrip(string.digits)
    numbered = len(head) < len(name) - len(".md")
    return numbered and head.endswith(prefix) and len(head) > len(prefix)


def documented_md_rule(name: str) -> IgnoreRule | None:
    """The README's rules for names ending in ``.md``, written out by hand, in order."""
    stem = name[: -len(".md")]
    hex_tail = all(c in "0123456789abcdef" for c in stem[-8:])
    if len(stem) > 18 and stem[-18:-8] == ".conflict-" and hex_tail:
        return IgnoreRule.CONFLICT_COPY
    if any(_numbered(name, f"_{side}_") for side in _GIT_SIDES):
        return IgnoreRule.MERGE_LEFTOVER
    if any(_numbered(name, f".{side}.") for side in _GIT_SIDES[:4]):
        return IgnoreRule.MERGE_LEFTOVER
    if name.startswith((".#", "~$")):
        return IgnoreRule.EDITOR_LOCK
    if name.startswith("."):
        return IgnoreRule.DOT_FILE
    return None


_tricky = st.sampled_from([*"~{}#$._- %:", "BASE", "_BASE_", "_LOCAL_", ".conflict-", "12"])
_any_char = st.characters(exclude_categories=["Cs"], exclude_characters="/\x00")
_pieces = st.one_of(
    _tricky, _any_char, st.sampled_from(["🦊", "日本語", "ملاحظة", "a b", "0a1b2c3d"])
)
md_names = st.lists(_pieces, max_size=12).map(lambda parts: "".join(parts) + ".md")


@given(md_names)
@example("~.md")
@example("{.md")
@example("#1.md")
@example("a b.md")
@example("~lock.md")
@example("merge{1}.md")
@example("#tag#.md")
@example("x~.md")
@example("4913.md")
@example("_BASE_1.md")
@example("x_BASE_.md")
@example(".x_BASE_1.md")
@example("_BASE__BASE_1.md")
@example("a.conflict-0123abcd.md")
@example(".conflict-0123abcd.md")
@example("~$.md")
@example(".md")
def test_a_md_name_is_a_note_unless_a_documented_rule_names_it(name: str) -> None:
    assert builtin_file_rule(name) == documented_md_rule(name), name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("x.md~", IgnoreRule.BACKUP),
        ("x.md.~2~", IgnoreRule.BACKUP),
        ("x.md.bak", IgnoreRule.BACKUP),
        ("x.md.save", IgnoreRule.BACKUP),
        ("#x.md#", IgnoreRule.EDITOR_TEMP),
        (".x.md.swp", IgnoreRule.EDITOR_TEMP),
        ("x.md.swo", IgnoreRule.EDITOR_TEMP),
        ("x.md.TMP", IgnoreRule.EDITOR_TEMP),
        ("x.md___jb_tmp___", IgnoreRule.EDITOR_TEMP),
        ("x.md___jb_old___", IgnoreRule.EDITOR_TEMP),
        ("4913", IgnoreRule.EDITOR_TEMP),
        (".x.md.kate-swp", IgnoreRule.EDITOR_TEMP),
        ("x.md.part", IgnoreRule.EDITOR_TEMP),
        (".#x.md", IgnoreRule.EDITOR_LOCK),
        (".~lock.x.md#", IgnoreRule.EDITOR_LOCK),
        ("~$x.md", IgnoreRule.EDITOR_LOCK),
        ("x_BASE_4242.md", IgnoreRule.MERGE_LEFTOVER),
        ("x_REMOTE_RCONFL_4242.md", IgnoreRule.MERGE_LEFTOVER),
        ("x.md.LOCAL.4242.md", IgnoreRule.MERGE_LEFTOVER),
        ("x.md.orig", IgnoreRule.MERGE_LEFTOVER),
        ("x.md.rej", IgnoreRule.MERGE_LEFTOVER),
        ("x.conflict-0123abcd.md", IgnoreRule.CONFLICT_COPY),
        (".x.md.5bce98f7-12-0123abcd.brainsync-tmp", IgnoreRule.BRAINSYNC_TEMP),
        ("x.md.invalid", IgnoreRule.QUARANTINED),
        (".DS_Store", IgnoreRule.DOT_FILE),
        (".foo.tmp", IgnoreRule.EDITOR_TEMP),
        ("x.MD", IgnoreRule.NOT_MARKDOWN),
        ("photo.png", IgnoreRule.NOT_MARKDOWN),
    ],
)
def test_what_each_tool_writes_is_named_by_its_rule(name: str, rule: IgnoreRule) -> None:
    assert builtin_file_rule(name) is rule


def test_folder_rules() -> None:
    assert builtin_dir_rule(".obsidian") is IgnoreRule.DOT_FOLDER
    assert builtin_dir_rule("_drafts") is IgnoreRule.UNDERSCORE_FOLDER
    for name in ["{tmpl}", "~x", "#1", "a b", "日本語"]:
        assert builtin_dir_rule(name) is None, name


def test_every_rule_has_a_reason() -> None:
    assert set(REASONS) == set(IgnoreRule)
    assert all(re.fullmatch(r"[^\n]{10,80}", reason) for reason in REASONS.values())
