"""Session-state and widget keys, defined once so pages never disagree on a name."""

from __future__ import annotations

LANGUAGE = "language"
ONLINE_TILES = "online_tiles"
OVERVIEW_MAP = "overview_map"
