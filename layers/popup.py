"""Popup and tooltip content: formatted, escaped cell values and field names.

Every value is escaped here with :func:`layers.escape.escape_text`, once; the strings returned
are safe to place as HTML and inside folium's JavaScript strings and template literals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import folium
import pandas as pd

from layers.escape import escape_text
from layers.labels import label

__all__ = ["add_tip_and_popup", "escaped_column", "field_aliases", "format_value"]


def format_value(value: object, *, digits: int = 1,
                 symbols: tuple[str, str] | None = None) -> str:
    """Format one cell for display and escape it.

    Timestamps become ``YYYY-MM-DD HH:MM UTC`` (date only at midnight), floats are rounded to
    ``digits`` decimals, missing values (None, NaN, NaT, pd.NA) become the empty string.
    With ``symbols`` (the language's decimal sign and thousands separator, see
    :func:`layers.labels.number_symbols`) floats are written as the reader writes them;
    whole numbers (identifiers, years) are left as they are.

    Examples
    --------
    >>> format_value(pd.Timestamp("2024-03-01T14:05Z")), format_value(1234.56), format_value(None)
    ('2024-03-01 14:05 UTC', '1234.6', '')
    >>> format_value(1234.56, symbols=(",", "."))
    '1.234,6'
    """
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else escape_text(value)
    if isinstance(value, datetime):
        ts = pd.Timestamp(value)
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC")
        if (ts.hour, ts.minute, ts.second) == (0, 0, 0):
            return ts.strftime("%Y-%m-%d")
        return ts.strftime("%Y-%m-%d %H:%M") + (" UTC" if ts.tzinfo is not None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if symbols is None:
            return escape_text(f"{value:.{digits}f}")
        decimal, group = symbols  # one pass, so neither sign is replaced twice
        return escape_text(f"{value:,.{digits}f}".translate({ord(","): group, ord("."): decimal}))
    return escape_text(value)


def escaped_column(series: pd.Series, *, digits: int = 1,
                   labels: Mapping[str, str] | None = None,
                   symbols: tuple[str, str] | None = None) -> list[str]:
    """Format and escape a whole column; with ``labels``, values are translated first.

    Parameters
    ----------
    series
        Any column of a layer.
    digits
        Decimals kept for float values.
    labels
        When given, each value is looked up as a label key (category values such as
        ``"seizure"``) before escaping.
    symbols
        The reader's decimal sign and thousands separator for floats (:func:`format_value`).
    """
    if labels is not None:
        return [
            "" if pd.isna(v) else escape_text(label(labels, str(v))) for v in series.tolist()
        ]
    return [format_value(v, digits=digits, symbols=symbols) for v in series.tolist()]


def field_aliases(fields: Sequence[str], labels: Mapping[str, str] | None) -> list[str]:
    """Escaped, translated names of ``fields`` for popup headers."""
    return [escape_text(label(labels, f)) for f in fields]


def add_tip_and_popup(layer: folium.GeoJson, fields: Sequence[str],
                      labels: Mapping[str, str] | None, *, max_width: int = 320,
                      sticky: bool = False) -> folium.GeoJson:
    """Give a GeoJson layer its ``_tip`` tooltip and a popup of ``fields`` (values escaped).

    Nothing is added to a layer without features (folium's tooltip fails on an empty one).
    """
    if layer.data["features"]:
        folium.GeoJsonTooltip(fields=["_tip"], labels=False, sticky=sticky).add_to(layer)
        folium.GeoJsonPopup(fields=list(fields), aliases=field_aliases(fields, labels),
                            max_width=max_width).add_to(layer)
    return layer
