"""Entity types from plugins: registered through the hook, exported to their own folder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from brainsync import Brain, EntityType, InvalidEntityError, Settings, hookimpl
from brainsync.config import load_settings
from brainsync.errors import ConfigError


class RecipeType(EntityType):
    """Recipes need a positive number of servings."""

    name = "recipe"

    def validate(self, metadata: Mapping[str, Any]) -> None:
        servings = metadata.get("servings")
        if not isinstance(servings, int) or servings < 1:
            raise InvalidEntityError("recipe needs a positive integer 'servings'")


class RecipePlugin:
    @hookimpl
    def brainsync_entity_types(self) -> list[EntityType]:
        return [RecipeType()]


class ClashingPlugin:
    @hookimpl
    def brainsync_entity_types(self) -> list[EntityType]:
        return [RecipeType()]


def _settings(tmp_path: Path) -> Settings:
    (tmp_path / "brain").mkdir(exist_ok=True)
    return Settings(directory=tmp_path / "brain", home=tmp_path / "state")


def test_plugin_type_round_trips_through_its_folder(tmp_path: Path) -> None:
    with Brain(_settings(tmp_path), plugins=[RecipePlugin()]) as brain:
        assert set(brain.types) == {"note", "post", "recipe"}
        brain.put_entity("recipe", "soup:tomato", metadata={"servings": 4}, content="Simmer.\n")
        with pytest.raises(InvalidEntityError, match="servings"):
            brain.put_entity("recipe", "bad", metadata={"servings": 0})
        assert brain.export().created == 1
        path = tmp_path / "brain" / "recipe" / "soup" / "tomato.md"
        assert path.read_text() == "---\nservings: 4\n---\nSimmer.\n"
        path.write_text("---\nservings: 0\n---\nSimmer.\n")
        report = brain.import_()
        assert [e.path for e in report.errors] == ["recipe/soup/tomato.md"]
        assert brain.get_entity("recipe", "soup:tomato").metadata == {"servings": 4}


def test_without_the_plugin_its_folder_holds_notes(tmp_path: Path) -> None:
    (tmp_path / "brain" / "recipe").mkdir(parents=True)
    (tmp_path / "brain" / "recipe" / "cake.md").write_text("just a note\n")
    with Brain(_settings(tmp_path)) as brain:
        assert brain.import_().created == 1
        assert brain.get_entity("note", "recipe:cake").content == "just a note\n"
    # the type appears later: the synced note is reported, never silently re-typed
    with Brain(_settings(tmp_path), plugins=[RecipePlugin()]) as brain:
        report = brain.sync()
        assert [s.path for s in report.skipped] == ["recipe/cake.md"]
        assert "now a registered type" in report.skipped[0].reason
        assert brain.get_entity("note", "recipe:cake").content == "just a note\n"
        assert brain.store.count_by_type() == {"note": 1}


def test_two_plugins_claiming_one_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        Brain(_settings(tmp_path), plugins=[RecipePlugin(), ClashingPlugin()])


def test_builtin_types_off_makes_a_post_folder_hold_notes(tmp_path: Path) -> None:
    # a vault with its own post/ folder of plain notes (no title): not the built-in type
    (tmp_path / "brain" / "post").mkdir(parents=True)
    (tmp_path / "brain" / "post" / "x.md").write_text("just a note\n")
    with Brain(_settings(tmp_path)) as brain:
        assert [e.path for e in brain.import_().errors] == ["post/x.md"]
    settings = replace(_settings(tmp_path), home=tmp_path / "state-2", builtin_types=False)
    with Brain(settings) as brain:
        assert set(brain.types) == {"note"}
        report = brain.import_()
        assert (report.created, report.errors) == (1, [])
        assert brain.get_entity("note", "post:x").content == "just a note\n"
        # and back: the note goes to the same path, not to an escaped %70ost/ folder
        brain.put_entity("note", "post:y", content="another\n")
        assert brain.export().created == 1
    assert (tmp_path / "brain" / "post" / "y.md").read_text() == "another\n"


def test_builtin_types_is_a_setting(tmp_path: Path) -> None:
    assert load_settings({}, {"BRAINSYNC_BUILTIN_TYPES": "false"}).builtin_types is False
    assert load_settings({}, {}).builtin_types is True
