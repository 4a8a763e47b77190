"""Shell completion of option values the command line knows: policies, job states, types.

Typer calls these while the shell completes (``brainsync --install-completion`` installs
it); each returns the values that begin with what was typed so far.
"""

from __future__ import annotations

import os

from brainsync.config import CONFLICT_POLICIES, load_settings
from brainsync.errors import BrainsyncError
from brainsync.jobs.records import JobState

__all__ = ["complete_policies", "complete_states", "complete_types"]


def complete_policies(incomplete: str) -> list[str]:
    """The conflict policies (``--conflict``)."""
    return [name for name in CONFLICT_POLICIES if name.startswith(incomplete)]


def complete_states(incomplete: str) -> list[str]:
    """The job states (``--state``)."""
    return [state.value for state in JobState if state.value.startswith(incomplete)]


def complete_types(incomplete: str) -> list[str]:
    """The entity types this configuration registers (``--type``): plugins included."""
    from brainsync.plugins import build_plugin_manager, entity_types

    try:
        builtin = load_settings({}, os.environ).builtin_types
        names = entity_types(build_plugin_manager(builtin_types=builtin))
    except BrainsyncError:  # a broken configuration: its command will say what is wrong
        return []
    return sorted(name for name in names if name.startswith(incomplete))
