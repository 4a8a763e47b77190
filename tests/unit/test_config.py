"""Settings precedence: defaults < config file < BRAINSYNC_* environment < arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainsync.config import Settings, load_settings, unknown_env_warning
from brainsync.errors import ConfigError


def test_defaults_put_state_beside_the_directory(tmp_path: Path) -> None:
    settings = Settings(directory=tmp_path / "brain")
    assert settings.state_home == tmp_path / ".brainsync"
    assert settings.store_url == f"sqlite:///{tmp_path / '.brainsync' / 'brain.sqlite'}"
    assert not settings.state_home.is_relative_to(settings.root)


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "brainsync.toml"
    config.write_text('[brainsync]\nchunk-size = 7\nio_threads = 3\ndirectory = "from-file"\n')
    env = {"BRAINSYNC_CHUNK_SIZE": "9", "BRAINSYNC_DIR": "from-env", "OTHER": "x"}
    settings = load_settings({"directory": Path("from-args")}, env, config)
    assert settings.chunk_size == 9  # env beats file
    assert settings.io_threads == 3  # file beats default
    assert settings.directory == Path("from-args")  # arguments beat everything


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text("propagate_deletes = false\ndelete_share = 0.25\n")
    settings = load_settings({}, {"BRAINSYNC_CONFIG": str(config)})
    assert settings.propagate_deletes is False
    assert settings.delete_share == 0.25


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"chunk_sise": 3}, "unknown setting"),
        ({"conflict_policy": "newest"}, "conflict policy"),
        ({"chunk_size": "many"}, "cannot use"),
        ({"delete_share": 2}, "delete_share"),
    ],
)
def test_bad_settings_are_errors(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(arguments, {})


def test_unknown_environment_variables_are_left_out_with_a_warning(tmp_path: Path) -> None:
    env = {
        "BRAINSYNC_CHUNK_SIZE": "9",
        "BRAINSYNC_DIR": "d",
        "BRAINSYNC_CONFIG": "",
        "BRAINSYNC_API_KEY": "other tool",
        "BRAINSYNC_CHUNK_SISE": "3",
    }
    settings = load_settings({}, env)
    assert (settings.chunk_size, settings.directory) == (9, Path("d"))
    warning = unknown_env_warning(env)
    assert warning is not None
    assert "BRAINSYNC_API_KEY, BRAINSYNC_CHUNK_SISE" in warning and "CHUNK_SIZE," not in warning
    assert unknown_env_warning({"BRAINSYNC_DIR": "d", "BRAINSYNC_CONFIG": "c.toml"}) is None


def test_unknown_key_in_the_config_file_is_still_an_error(tmp_path: Path) -> None:
    config = tmp_path / "brainsync.toml"
    config.write_text("chunk_sise = 3\n")
    with pytest.raises(ConfigError, match="chunk_sise"):
        load_settings({}, {}, config)
