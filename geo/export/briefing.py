"""The filters in words, the counts and top tables, and the briefing page printed to PDF.

:func:`describe_filters` is also the manifest's ``filters_text``, so the PDF, the manifest and
the export panel say the same thing in the snapshot's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import shapely

from geo.export.spec import SnapshotSpec
from geo.i18n import Translator
from geo.schema import shown_score

__all__ = ["TopTable", "briefing_html", "describe_filters", "top_tables"]

TOP_ROWS = 10


def _choice(values: Sequence[str] | None, labels: Mapping[str, str], some: str, every: str,
            none: str) -> str:
    """One filter's line: ``some`` filled with the chosen values, or ``every`` or ``none``."""
    if values is None:
        return every
    if not values:
        return none
    return some.format(values=", ".join(labels.get(v, v) for v in values))


def _day(when: datetime, *, end: bool) -> str:
    # ``end`` is exclusive: a window ending at midnight is shown by its last whole day.
    if end and when.hour == when.minute == when.second == when.microsecond == 0:
        when = when - timedelta(days=1)
    return f"{when:%Y-%m-%d}"


def describe_filters(spec: SnapshotSpec, t: Translator,
                     labels: Mapping[str, str] | None = None) -> list[str]:
    """Return one sentence per filter, in the spec's language (``t``), defaults included.

    Examples
    --------
    >>> from geo.filters import Filters
    >>> from datetime import UTC
    >>> spec = SnapshotSpec(filters=Filters(start=datetime(2023, 1, 1, tzinfo=UTC),
    ...                     end=datetime(2024, 1, 1, tzinfo=UTC), event_types=["seizure"]))
    >>> describe_filters(spec, Translator("en"))[:2]
    ['Time window: 2023-01-01 to 2023-12-31', 'Event types: seizure']
    """
    f, names = spec.filters, labels or {}
    if f.start is None and f.end is None:
        window = t("all dates")
    else:
        window = t("{start} to {end}").format(
            start=_day(f.start, end=False) if f.start else "…",
            end=_day(f.end, end=True) if f.end else "…")
    # "all" and "none" agree with each list's noun in Spanish and Portuguese: one template each
    out = [t("Time window: {window}").format(window=window),
           _choice(f.event_types, names, t("Event types: {values}"), t("Event types: all"),
                   t("Event types: none")),
           _choice(f.commodities, names, t("Commodities: {values}"), t("Commodities: all"),
                   t("Commodities: none")),
           _choice(f.countries, {c: t.country(c) for c in f.countries or ()},
                   t("Countries: {values}"), t("Countries: all"),
                   t("Countries: none")),
           _choice(f.sources, names, t("Sources: {values}"), t("Sources: all"),
                   t("Sources: none")),
           t("Minimum confidence: {value}").format(value=t.number(f.min_confidence, digits=2)),
           _choice(f.route_modes, names, t("Route modes: {values}"), t("Route modes: all"),
                   t("Route modes: none")),
           _choice(f.candidate_states, names, t("Runway candidate states: {values}"),
                   t("Runway candidate states: all"), t("Runway candidate states: none")),
           t("Minimum runway score: {value}").format(value=t.number(f.min_score, digits=2))]
    if f.aoi is None:
        out.append(t("Area of interest: none"))
    else:
        w, s, e, n = f.aoi.bounds
        out.append(t("Area of interest: polygon of {n} vertices within {box}").format(
            n=_vertices(f.aoi), box=_box(w, s, e, n, t)))
    extent = spec.bbox or f.bounds
    out.append(t("Map extent: {box}").format(box=_box(*extent, t)) if extent
               else t("Map extent: whole region"))
    out.append(t("Layers: {values}").format(values=", ".join(
        names.get(x, x) for x in spec.layers)))
    if spec.location_cell_deg is not None and "events" in spec.layers:
        from geo.auth.precision import precision_sentence

        out.append(precision_sentence(spec.location_cell_deg).localized(t))
    return out


def _vertices(area: shapely.Geometry) -> int:
    """Corners of a (multi)polygon: each ring's closing point repeats its first one.

    Examples
    --------
    >>> _vertices(shapely.box(0, 0, 1, 1))
    4
    """
    parts = shapely.get_parts(area)
    rings = int(sum(1 + shapely.get_num_interior_rings(p) for p in parts))
    return int(shapely.get_num_coordinates(area)) - rings


def _box(w: float, s: float, e: float, n: float, t: Translator) -> str:
    """Write a box's corners in degrees, four decimals, with the reader's decimal sign."""
    def lon(v: float) -> str:
        return f"{t.number(abs(v), digits=4)}°{'W' if v < 0 else 'E'}"

    def lat(v: float) -> str:
        return f"{t.number(abs(v), digits=4)}°{'S' if v < 0 else 'N'}"

    return f"{lon(w)} {lat(s)} – {lon(e)} {lat(n)}"


@dataclass(frozen=True)
class TopTable:
    """A small ranked table: its title, column headers and rows of text."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _ranked(frame: pd.DataFrame, column: str, title: str, t: Translator,
            labels: Mapping[str, str], *, kg: bool,
            label: Callable[[str], str] | None = None) -> TopTable:
    """Rows per value of ``column``, most first, each named by ``label`` or ``labels``."""
    name = label or (lambda k: labels.get(k, k))
    groups = frame.groupby(frame[column].astype(object).fillna("—"), sort=False)
    table = pd.DataFrame({"n": groups.size()})
    if kg:
        table["kg"] = groups["quantity_kg"].sum(min_count=1)
    table = table.sort_values("n", ascending=False, kind="stable").head(TOP_ROWS)
    rows = []
    for key, rec in table.iterrows():
        row = [name(str(key)), t.number(int(rec["n"]))]
        if kg:
            row.append("" if pd.isna(rec["kg"]) else t.number(float(rec["kg"]), digits=0))
        rows.append(tuple(row))
    headers = (labels.get(column, column), t("Count"), *((t("Quantity (kg)"),) if kg else ()))
    return TopTable(title, headers, tuple(rows))


def top_tables(layers: Mapping[str, gpd.GeoDataFrame], t: Translator,
               labels: Mapping[str, str] | None = None) -> list[TopTable]:
    """Rank what the snapshot holds: counts per layer, then the top tables.

    Top event types, countries and commodities (count and kg), route modes, candidate states,
    and the best-scoring runway candidates.
    """
    names = labels or {}
    out = [TopTable(t("Features per layer"), (t("Layer"), t("Count")),
                    tuple((names.get(k, k), t.number(len(v))) for k, v in layers.items()))]
    events = layers.get("events")
    if events is not None and len(events):
        for column, title in (("event_type", t("Events by type")),
                              ("country", t("Top countries")),
                              ("commodity", t("Top commodities"))):
            out.append(_ranked(events, column, title, t, names, kg=True,
                               label=t.country if column == "country" else None))
    routes = layers.get("routes")
    if routes is not None and len(routes):
        out.append(_ranked(routes, "mode", t("Routes by mode"), t, names, kg=False))
    cands = layers.get("candidates")
    if cands is not None and len(cands):
        out.append(_ranked(cands, "state", t("Runway candidates by state"), t, names, kg=False))
        best = cands.sort_values("score", ascending=False, kind="stable").head(TOP_ROWS)
        out.append(TopTable(t("Best-scoring runway candidates"),
                            (t("Candidate"), t("Score"), t("Length (m)"), t("State")),
                            tuple((str(r.candidate_id),
                                   t.number(shown_score(float(r.score)), digits=2),
                                   t.number(float(r.length_m), digits=0),
                                   names.get(str(r.state), str(r.state)))
                                  for r in best.itertuples())))
    return out


_CSS = """
body{font:12px/1.45 Arial,Helvetica,sans-serif;color:#111;margin:0}
h1{font-size:20px;margin:0 0 4px}h2{font-size:14px;margin:14px 0 6px;
 border-bottom:1px solid #999;page-break-after:avoid}
.meta{color:#333;margin-bottom:8px}.map{width:100%;box-sizing:border-box;border:1px solid #555}
table{border-collapse:collapse;margin:4px 12px 10px 0;page-break-inside:avoid;
 display:inline-table;vertical-align:top}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left}td.n{text-align:right}
th{background:#eee}.legend{columns:2;font-size:11px}ul{margin:4px 0;padding-left:18px}
.block{page-break-inside:avoid}
"""


def _table_html(table: TopTable) -> str:
    from layers.escape import escape_text as esc

    head = "".join(f"<th>{esc(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(
        f'<td class="{"n" if i else ""}">{esc(v)}</td>' for i, v in enumerate(row)) + "</tr>"
        for row in table.rows)
    return f"<table><caption><b>{esc(table.title)}</b></caption><tr>{head}</tr>{body}</table>"


def briefing_html(spec: SnapshotSpec, *, when: datetime, snapshot_id: str, version: str,
                  filters_text: Sequence[str], tables: Sequence[TopTable],
                  map_png: bytes | None, labels: Mapping[str, str], t: Translator,
                  layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> str:
    """Build the briefing page (self-contained: the map is a ``data:`` PNG; no URL is loaded).

    ``layers``: the exported frames; the legend then lists only what they hold (every
    category of the exported layers when None).
    """
    import base64

    from layers.escape import escape_text as esc
    from layers.legend import legend_html
    from layers.map import legend_sections

    present = None if layers is None else {k: v for k, v in layers.items() if k in spec.layers}
    sections = [s for key, s in legend_sections(labels, present=present).items()
                if key in spec.layers]
    image = ("" if map_png is None else '<img class="map" alt="map" src="data:image/png;base64,'
             + base64.b64encode(map_png).decode("ascii") + '">')
    meta = t("{when} UTC · prepared by {user} · Atalaya {version} · snapshot {id}").format(
        when=f"{when:%Y-%m-%d %H:%M}", user=spec.user, version=version, id=snapshot_id)
    # Headings looked up outside the f-string: the message extractor does not see calls
    # inside f-strings.
    h_legend, h_filters = esc(t("Legend")), esc(t("Filters"))
    h_counts = esc(t("Counts and top tables"))
    return (
        f'<!DOCTYPE html><html lang="{spec.language}"><head><meta charset="utf-8">'
        f"<title>{esc(spec.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{esc(spec.title)}</h1><div class=\"meta\">{esc(meta)}</div>{image}"
        f'<div class="block"><h2>{h_legend}</h2><div class="legend">'
        f"{legend_html(sections)}</div></div>"
        f'<div class="block"><h2>{h_filters}</h2><ul>'
        + "".join(f"<li>{esc(line)}</li>" for line in filters_text) + "</ul></div>"
        f"<h2>{h_counts}</h2>"
        + "".join(_table_html(table) for table in tables)
        + "</body></html>")
