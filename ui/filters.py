"""Sidebar filters of the map explorer: one widget per field of ``geo.filters.Filters``.

Every widget has a key in ``ui.state``; an empty multiselect means "all". A shared link's
parameters are copied into the widgets' session state once, before the widgets are drawn.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd
import streamlit as st

from geo.filters import Filters
from geo.i18n import Translator
from geo.querystate import ViewState
from geo.schema import CANDIDATE_STATES, EVENT_TYPES, ROUTE_MODES
from geo.world import World
from ui import state
from ui.labels import map_labels
from ui.sidebar import KEEP, relabelled
from ui.text import choice_texts

__all__ = ["data_months", "filters_from_widgets", "load_widgets_from", "render_filters"]

_PLAY_SECONDS = 1.5


def data_months(world: World) -> list[date]:
    """First day of every month from the first to the last event (at least one month)."""
    when = world["events"]["occurred_at"]
    if len(when) == 0 or when.isna().all():
        today = datetime.now(UTC).date().replace(day=1)
        return [today]
    first, last = when.min().tz_convert("UTC"), when.max().tz_convert("UTC")
    months = pd.date_range(first.strftime("%Y-%m-01"), last.strftime("%Y-%m-01"), freq="MS")
    return [m.date() for m in months]


def _month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _choices(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(values) if values else None


def filters_from_widgets(months: list[date]) -> Filters:
    """Read the sidebar widgets' session state into a :class:`Filters` (no area of interest)."""
    ss = st.session_state
    value = ss.get(state.MONTHS)
    first, last = value if isinstance(value, tuple | list) else (months[0], months[-1])
    start = None if first == months[0] else _utc(first)
    end = None if last == months[-1] else _utc(_month_after(last))
    return Filters(
        start=start, end=end,
        event_types=_choices(ss.get(state.EVENT_TYPES)),
        commodities=_choices(ss.get(state.COMMODITIES)),
        countries=_choices(ss.get(state.COUNTRIES)),
        sources=_choices(ss.get(state.SOURCES)),
        min_confidence=float(ss.get(state.MIN_CONFIDENCE, 0.0)),
        route_modes=_choices(ss.get(state.ROUTE_MODES)),
        candidate_states=_choices(ss.get(state.CANDIDATE_STATES)),
        min_score=float(ss.get(state.MIN_SCORE, 0.0)),
        aoi=ss.get(state.AOI),
    )


def _nearest_month(months: list[date], when: datetime | None, default: date) -> date:
    if when is None:
        return default
    day = when.date().replace(day=1)
    return min(months, key=lambda m: abs((m - day).days))


def load_widgets_from(view: ViewState, months: list[date], world: World) -> None:
    """Copy a shared link's filters into the widgets' session state (first run only)."""
    f, ss = view.filters, st.session_state
    end = None if f.end is None else f.end - pd.Timedelta(days=1)
    _set_months(_nearest_month(months, f.start, months[0]),
                _nearest_month(months, end, months[-1]))
    options = _options(world)
    for key, values in ((state.EVENT_TYPES, f.event_types), (state.COMMODITIES, f.commodities),
                        (state.COUNTRIES, f.countries), (state.SOURCES, f.sources),
                        (state.ROUTE_MODES, f.route_modes),
                        (state.CANDIDATE_STATES, f.candidate_states)):
        if values is not None:
            ss[key] = [v for v in values if v in options[key]]
    ss[state.MIN_CONFIDENCE] = f.min_confidence
    ss[state.MIN_SCORE] = f.min_score
    ss[state.AOI] = f.aoi
    ss[state.DISPLAY] = view.mode


#: (events frame, options) of the last world seen: the frame is shared by every session, and
#: listing the values present in three columns took 30 ms per run at 100,000 events.
_OPTIONS: list[tuple[pd.DataFrame, dict[str, list[str]]]] = []


def _options(world: World) -> dict[str, list[str]]:
    events = world["events"]
    for frame, known in list(_OPTIONS):
        if frame is events:
            return known

    def present(column: str) -> list[str]:
        return sorted(str(v) for v in events[column].dropna().unique())

    options = {
        state.EVENT_TYPES: list(EVENT_TYPES),
        state.COMMODITIES: present("commodity"),
        state.COUNTRIES: present("country"),
        state.SOURCES: present("source"),
        state.ROUTE_MODES: list(ROUTE_MODES),
        state.CANDIDATE_STATES: list(CANDIDATE_STATES),
    }
    _OPTIONS[:] = [(events, options)]
    return options


def _set_months(first: date, last: date) -> None:
    """Set the time window from code (a link, a reset, a play step).

    The slider is a range only when created with a range ``value``; a value set through
    ``st.session_state[key]`` alone comes back from the browser as a single month. So the
    window lives in ``state.MONTHS`` and the slider is created with it as its value, under a
    key that changes whenever code changes the window (a new slider shows the new value).
    """
    ss = st.session_state
    ss[state.MONTHS] = (first, last)
    ss[state.MONTHS_REV] = int(ss.get(state.MONTHS_REV, 0)) + 1


def _slider_key() -> str:
    return f"{state.MONTHS_SLIDER}:{st.session_state.get(state.MONTHS_REV, 0)}"


def _slider_moved() -> None:
    value = st.session_state.get(_slider_key())
    if isinstance(value, tuple | list) and len(value) == 2:
        st.session_state[state.MONTHS] = (value[0], value[1])


def _reset(months: list[date]) -> None:
    ss = st.session_state
    _set_months(months[0], months[-1])
    for key in (state.EVENT_TYPES, state.COMMODITIES, state.COUNTRIES, state.SOURCES,
                state.ROUTE_MODES, state.CANDIDATE_STATES):
        ss[key] = []
    ss[state.MIN_CONFIDENCE] = 0.0
    ss[state.MIN_SCORE] = 0.0
    ss[state.PLAYING] = False


def _step(months: list[date]) -> None:
    """Move the time window one month later, keeping its width; wrap at the end."""
    ss = st.session_state
    value = ss.get(state.MONTHS)
    first, last = value if isinstance(value, tuple | list) else (months[0], months[-1])
    i, j = months.index(first), months.index(last)
    if j + 1 >= len(months):
        i, j = 0, j - i
    else:
        i, j = i + 1, j + 1
    _set_months(months[i], months[j])


def _toggle_play(months: list[date]) -> None:
    """Start or pause the play; a start over every month first narrows it to the first one.

    Stepping a window that spans every month would wrap it onto itself: nothing would move.
    """
    ss = st.session_state
    playing = bool(ss.get(state.PLAYING, False))
    value = ss.get(state.MONTHS)
    if not playing and len(months) > 1 and isinstance(value, tuple | list) \
            and tuple(value) == (months[0], months[-1]):
        _set_months(months[0], months[0])
    if not playing:  # the first step one period from now: the first window is seen too
        ss[state.PLAY_LAST] = time.monotonic()
    ss[state.PLAYING] = not playing


def render_time_window(months: list[date], t: Translator) -> None:
    """Month range slider and a play button that steps the window through the months."""
    ss = st.session_state
    value = ss.get(state.MONTHS)
    if not (isinstance(value, tuple | list) and len(value) == 2 and all(v in months
                                                                       for v in value)):
        _set_months(months[0], months[-1])
    # A tick of the play control asks for a step; it is taken here, before the slider exists.
    if ss.pop(state.PLAY_STEP, False) and ss.get(state.PLAYING):
        _step(months)
    st.sidebar.select_slider(
        t("Time window"), options=months, value=tuple(ss[state.MONTHS]),
        key=relabelled(_slider_key()),
        on_change=_slider_moved, format_func=lambda d: t.date(d, style="MMM y"),
        help=t("From the first to the last month shown, both included (UTC)."))
    playing = bool(ss.get(state.PLAYING, False))
    st.sidebar.button(t("Pause") if playing else t("Play month by month"), key=state.PLAY_BUTTON,
                      on_click=_toggle_play, args=(months,),
                      # no tooltip while playing: under the pointer that pressed the button
                      # it stayed open over the slider, hiding the month being shown
                      help=None if playing else t(
                          "Moves the time window one month later every 1.5 seconds, keeping "
                          "its width; a window over every month starts from the first month "
                          "alone."),
                      icon=":material/pause:" if playing else ":material/play_arrow:")
    if playing:
        @st.fragment(run_every=_PLAY_SECONDS)
        def _tick() -> None:
            # The fragment's body also runs within every full run: step only when a whole
            # period has passed since the last step, or the window would race to the end.
            now = time.monotonic()
            if ss.get(state.PLAYING) and now - ss.get(state.PLAY_LAST, 0.0) >= _PLAY_SECONDS:
                ss[state.PLAY_LAST] = now
                ss[state.PLAY_STEP] = True
                st.rerun(scope="app")

        with st.sidebar:
            _tick()


def country_names(codes: list[str], t: Translator) -> dict[str, str]:
    """Each country code as the language names it, code kept (``Perú (PE)``)."""
    return {code: t.country(code) for code in codes}


def _multiselect(key: str, title: str, options: list[str], names: dict[str, str],
                 t: Translator) -> None:
    st.sidebar.multiselect(title, options=options, key=relabelled(key), persist_state=KEEP,
                           format_func=lambda v: names.get(v, v),
                           **choice_texts(t, empty_means_all=True))


def render_filters(world: World, t: Translator) -> Filters:
    """Draw every filter in the sidebar and return the resulting :class:`Filters`."""
    months = data_months(world)
    names = map_labels(t)
    options = _options(world)
    st.sidebar.subheader(t("Filters"))
    render_time_window(months, t)
    _multiselect(state.EVENT_TYPES, t("Event types"), options[state.EVENT_TYPES], names, t)
    _multiselect(state.COMMODITIES, t("Commodities"), options[state.COMMODITIES], names, t)
    _multiselect(state.COUNTRIES, t("Countries"), options[state.COUNTRIES],
                 country_names(options[state.COUNTRIES], t), t)  # "Perú (PE)": found by name
    _multiselect(state.SOURCES, t("Sources"), options[state.SOURCES], names, t)
    st.sidebar.slider(t("Minimum confidence"), 0.0, 1.0, step=0.05, key=state.MIN_CONFIDENCE,
                      persist_state=KEEP)
    _multiselect(state.ROUTE_MODES, t("Route modes"), options[state.ROUTE_MODES], names, t)
    _multiselect(state.CANDIDATE_STATES, t("Candidate states"),
                 options[state.CANDIDATE_STATES], names, t)
    st.sidebar.slider(t("Minimum candidate score"), 0.0, 1.0, step=0.05, key=state.MIN_SCORE,
                      persist_state=KEEP)
    st.sidebar.button(t("Reset filters"), key=state.RESET_FILTERS, on_click=_reset,
                      args=(months,))
    return filters_from_widgets(months)
