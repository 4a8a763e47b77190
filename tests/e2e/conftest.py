"""Fixtures for the end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_runner import SAMPLE


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A copy of the sample notes in ``tmp_path/"brain-data"``, the folder the CLI runs on."""
    shutil.copytree(SAMPLE, tmp_path / "brain-data")
    return tmp_path / "brain-data"
