"""Cached loaders shared by every page and every session of the process."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from geo.settings import Settings, load_settings
from geo.world import World, data_version, read_world


def get_settings() -> Settings:
    """Process settings from the environment (cheap: read on every run, never stale)."""
    return load_settings()


# A World is never mutated after reading, so one copy is shared by all sessions
# (cache_resource) instead of being pickled into each (cache_data); the key holds the folder's
# fingerprint, so rewriting a layer file loads it anew.
@st.cache_resource(show_spinner=False, max_entries=4)
def _load_world(data_dir: str, _version: tuple[tuple[str, int, int], ...],
                version_key: str) -> World:
    return read_world(Path(data_dir))


def load_world(data_dir: Path) -> World:
    """Return the validated layers of ``data_dir``, reloaded when any layer file changes."""
    version = data_version(data_dir)
    return _load_world(str(data_dir), version, repr(version))
