"""Session-state and widget keys, defined once so pages never disagree on a name."""

from __future__ import annotations

LANGUAGE = "language"
LANGUAGE_CHOSEN = "language_chosen"  # True once the language was changed before signing in
PENDING_LANGUAGE = "language_pending"  # the account's language, applied before the next run

# Accounts (ui.auth)
SESSION = "auth_session"  # geo.auth.Session of the signed-in user
SIGN_IN_NOTICE = "auth_notice"  # why the last session ended, shown once on the sign-in form
SIGN_IN_FORM = "auth_sign_in"
SIGN_IN_USER = "auth_user"
SIGN_IN_PASSWORD = "auth_password"
FIRST_ADMIN_FORM = "auth_first_admin"
FIRST_ADMIN_USER = "auth_first_user"
FIRST_ADMIN_PASSWORD = "auth_first_password"
FIRST_ADMIN_AGAIN = "auth_first_again"
SIGN_OUT = "auth_sign_out"
OIDC_SIGN_IN = "auth_oidc_sign_in"

# Accounts and audit (ui.admin)
ADMIN_DONE = "admin_done"  # what the last account change did, shown after the rerun
ADMIN_ADD_FORM = "admin_add"
ADMIN_ADD_USER = "admin_add_user"
ADMIN_ADD_NAME = "admin_add_name"
ADMIN_ADD_ROLE = "admin_add_role"
ADMIN_ADD_PASSWORD = "admin_add_password"
ADMIN_PICK = "admin_pick"
ADMIN_ROLE = "admin_role"
#: (account, its role) the role box was last set from (ui.admin._render_change).
ADMIN_ROLE_OF = "admin_role_of"
ADMIN_SET_ROLE = "admin_set_role"
ADMIN_PASSWORD = "admin_password"
ADMIN_SET_PASSWORD = "admin_set_password"
ADMIN_DISABLE = "admin_disable"
ADMIN_ENABLE = "admin_enable"
ADMIN_UNLOCK = "admin_unlock"
ADMIN_AUDIT_ACTIONS = "admin_audit_actions"
ADMIN_AUDIT_ACTOR = "admin_audit_actor"
ONLINE_TILES = "online_tiles"
OVERVIEW_MAP = "overview_map"
BASE_MAP = "overview_base_map"  # (signature, ui.mapview.RenderedBase) of this session

# Map explorer: filters (sidebar)
MONTHS = "filter_months"  # (first, last) month of the time window
MONTHS_SLIDER = "filter_months_slider"  # the slider's key prefix (see ui.filters._set_months)
MONTHS_REV = "filter_months_rev"
PLAYING = "filter_playing"
PLAY_BUTTON = "filter_play"
PLAY_STEP = "filter_play_step"  # a tick of the play control asks for one step
PLAY_LAST = "filter_play_last"  # time.monotonic() of the last step
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
VIEW = "explore_view"  # (lon, lat, zoom) the map opens at (from a shared link)
VIEW_TOKEN = "explore_view_token"  # names this session's map (its remembered view)
MOVE = "explore_move"  # (lat, lon, zoom, n): a move asked by "go to" or a table row, once
MOVE_COUNT = "explore_move_count"
MOVE_SENT = "explore_move_sent"  # n of the last move handed to the map
FOLLOW_VIEW = "explore_follow_view"  # figures, charts and table keep only the map view
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
CANDIDATES_TABLE = "explore_candidates_table"
ROUTES_TABLE = "explore_routes_table"
LAST_TABLE_PICK = "explore_last_table_pick"

# Runway alerts
REVIEWER = "alerts_reviewer"  # the signed-in user name, recorded in the audit log
QUEUE_STATES = "alerts_queue_states"
QUEUE_MIN_SCORE = "alerts_queue_min_score"
QUEUE_MINE = "alerts_queue_mine"
QUEUE_COUNTRIES = "alerts_queue_countries"
QUEUE_AREA = "alerts_queue_area"  # name of a saved area ("" for anywhere)
QUEUE_IMAGERY = "alerts_queue_imagery"  # states of the strip on the imagery
QUEUE_FILTERS = "alerts_queue_filters"  # the filters' fold
INBOX_OPEN = "alerts_inbox_open"  # key prefix: ":<notification id>"
INBOX_READ_ALL = "alerts_inbox_read_all"
INBOX_READ_GROUP = "alerts_inbox_read_group"  # key prefix: ":<newest notification id>"
FOLLOW_FORM = "alerts_follow_form"
FOLLOW_AREA = "alerts_follow_area"
FOLLOW_EMAIL = "alerts_follow_email"
FOLLOW_WEBHOOK = "alerts_follow_webhook"
FOLLOW_MESSAGE = "alerts_follow_message"
UNFOLLOW = "alerts_unfollow"  # key prefix: ":<subscription id>"
QUEUE_TABLE = "alerts_queue_table"
QUEUE_MAP = "alerts_queue_map"
ALERT_MAP = "alerts_alert_map"
ALERT_BACK = "alerts_back"
ALERT_MESSAGE = "alerts_message"
ALERT_COMMENT = "alerts_comment"
ALERT_VERDICT = "alerts_verdict"
ALERT_ASSIGN = "alerts_assign"
ALERT_COMMENT_ONLY = "alerts_comment_only"
ALERT_AUDIT = "alerts_audit"

# Imagery
IMAGERY_DATES = "imagery_dates"
IMAGERY_IN_VIEW = "imagery_in_view"  # the scene list keeps only scenes in the map view
IMAGERY_SCENE = "imagery_scene"
IMAGERY_COMBO = "imagery_combo"
IMAGERY_STRETCH = "imagery_stretch"
IMAGERY_COMPARE = "imagery_compare"
IMAGERY_OTHER = "imagery_other"  # the second date of the swipe
IMAGERY_MAP = "imagery_map"
IMAGERY_VIEW = "imagery_view"  # (scene id, (west, south, east, north), zoom) last reported
IMAGERY_MOVE = "imagery_move"  # (lat, lon, zoom, n): "back to the scene", sent once
IMAGERY_MOVES = "imagery_moves"  # how many moves were asked (told apart by a tiny offset)
IMAGERY_MOVE_SENT = "imagery_move_sent"  # n of the last move handed to the map
IMAGERY_BACK = "imagery_back"  # the "back to the scene" button
IMAGERY_CHIPS = "imagery_chips"
IMAGERY_BASE = "imagery_base"  # (signature, ui.mapview.RenderedBase) of the page's base map

# Background jobs (ui.jobs)
JOBS_DETECT_FORM = "jobs_detect_form"
JOBS_SCENES = "jobs_scenes"
JOBS_RULES_ONLY = "jobs_rules_only"
JOBS_AERODROMES = "jobs_aerodromes"
JOBS_AREA = "jobs_area"  # a saved area's id, or "" for the whole scenes
JOBS_SUBMIT = "jobs_submit"
JOBS_NOTICE = "jobs_notice"  # (kind, message) of the last cancel, shown once
JOBS_CANCEL = "jobs_cancel"  # key prefix: ":<job id>"
JOBS_CARD = "jobs_card"  # container key prefix: ":<job id>" (CSS class st-key-jobs_card-<id>)
JOBS_REFRESH = "jobs_refresh"
JOBS_MINE = "jobs_mine"  # list only the signed-in user's jobs

# Risk analysis (ui.analysis)
ANALYSIS_GRID_KIND = "analysis_grid_kind"  # "h3" or "square"
ANALYSIS_LEVEL = "analysis_level"  # key prefix: ":<kind>"; "zoom" or a resolution / size
ANALYSIS_ALPHA = "analysis_alpha"
ANALYSIS_RECENT = "analysis_recent_months"
ANALYSIS_BANDWIDTH = "analysis_bandwidth_km"
ANALYSIS_WEIGHT = "analysis_weight"  # key prefix: ":<factor>" (geo.risk.RiskWeights)
ANALYSIS_RESET = "analysis_reset_weights"
ANALYSIS_MAP = "analysis_map"
ANALYSIS_BASE = "analysis_base"  # (signature, ui.mapview.RenderedBase) of this session
ANALYSIS_MOVED = "analysis_moved"  # the corridor the map was last moved to (its key)
ANALYSIS_LINE_SOURCE = "analysis_line_source"  # "route" or "drawn"
ANALYSIS_ROUTE = "analysis_route"
ANALYSIS_DRAWN = "analysis_drawn_line"  # GeoJSON geometry of the last line drawn
ANALYSIS_BUFFER = "analysis_buffer_km"
ANALYSIS_EXPORT = "analysis_export"
ANALYSIS_EXPORT_RESULT = "analysis_export_result"  # {"id": ...} or {"error": ...}
ANALYSIS_AREA = "analysis_area"
ANALYSIS_SINCE = "analysis_since"  # {area_id: previous visit} read once per session
ANALYSIS_SEEN = "analysis_mark_seen"
RELABELLED = "relabelled_choices"  # keys of choices relabelled on a language switch (sidebar)
