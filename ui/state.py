"""Session-state and widget keys, defined once so pages never disagree on a name."""

from __future__ import annotations

LANGUAGE = "language"
ONLINE_TILES = "online_tiles"
OVERVIEW_MAP = "overview_map"

# Map explorer: filters (sidebar)
MONTHS = "filter_months"
PLAYING = "filter_playing"
PLAY_BUTTON = "filter_play"
EVENT_TYPES = "filter_event_types"
COMMODITIES = "filter_commodities"
COUNTRIES = "filter_countries"
SOURCES = "filter_sources"
MIN_CONFIDENCE = "filter_min_confidence"
ROUTE_MODES = "filter_route_modes"
CANDIDATE_STATES = "filter_candidate_states"
MIN_SCORE = "filter_min_score"
RESET_FILTERS = "filter_reset"

# Map explorer: view, display, area of interest, table
DISPLAY = "explore_display"
GOTO = "explore_goto"
GOTO_ERROR = "explore_goto_error"
VIEW = "explore_view"  # (lon, lat, zoom) the map opens at
VIEW_TOKEN = "explore_view_token"  # changes when the server moves the map (go to)
URL_LOADED = "explore_url_loaded"
URL_PROBLEMS = "explore_url_problems"
AOI = "explore_aoi"  # active area of interest (shapely geometry) or None
LAST_DRAWING = "explore_last_drawing"
AREA_SELECT = "explore_area_select"
AREA_NAME = "explore_area_name"
AREA_SAVE = "explore_area_save"
AREA_CLEAR = "explore_area_clear"
AREA_MESSAGE = "explore_area_message"
EVENTS_TABLE = "explore_events_table"
LAST_TABLE_PICK = "explore_last_table_pick"
