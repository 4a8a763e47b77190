"""The curated public API stays complete and sorted (as httpx does it)."""

from __future__ import annotations

import brainsync
from brainsync import errors


def test_all_is_sorted_and_importable() -> None:
    assert brainsync.__all__ == sorted(brainsync.__all__, key=lambda n: (not n.isupper(), n))
    for name in brainsync.__all__:
        assert hasattr(brainsync, name), name


def test_every_error_is_public_and_has_one_root() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert issubclass(value, errors.BrainsyncError)
            assert name in brainsync.__all__
            assert isinstance(value.exit_code, int)
