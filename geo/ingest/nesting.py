"""How deep a geometry nests, measured without recursion, so a hostile one never reaches GEOS.

A geometry collection may hold collections, to any depth. No location needs more than a
collection of multipolygons, but GEOS reads, copies and tests nested collections by recursion:
a 1 MB WKT of 50,000 nested ``GEOMETRYCOLLECTION (`` overflowed the stack of the app's own
process (a segfault, every session gone) and 5,000 levels ran Python's recursion out. So a
WKT text is measured by its brackets before it is parsed, and geometries a reader made are
measured level by level (in the reader's worker process, where a crash is only a refusal).
"""

from __future__ import annotations

import re

import numpy as np
import shapely

__all__ = ["MAX_GEOMETRY_DEPTH", "MAX_WKT_DEPTH", "too_deep", "wkt_depth"]

#: Collections inside collections a geometry may hold: a collection of multipolygons is 2.
MAX_GEOMETRY_DEPTH = 3
#: Brackets a WKT text may nest: ``MULTIPOLYGON (((...)))`` is 3, a collection of them 4.
MAX_WKT_DEPTH = 5
_NOT_BRACKET = re.compile(r"[^()]+")
#: shapely's type ids of the collection types (MultiPoint ... GeometryCollection).
_COLLECTIONS = (4, 5, 6, 7)


def wkt_depth(text: str) -> int:
    """Return the deepest bracket nesting of a WKT text (0 without brackets).

    Examples
    --------
    >>> wkt_depth("POINT (1 2)"), wkt_depth("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))")
    (1, 3)
    >>> wkt_depth("GEOMETRYCOLLECTION (" * 9 + "POINT (1 2)" + ")" * 9)
    10
    """
    brackets = np.frombuffer(_NOT_BRACKET.sub("", text).encode("ascii"), dtype=np.uint8)
    if not brackets.size:
        return 0
    return int(np.cumsum(np.where(brackets == ord("("), 1, -1)).max())


def too_deep(geoms: np.ndarray, max_depth: int = MAX_GEOMETRY_DEPTH) -> np.ndarray:
    """Return which geometries (an array of shapely geometries or None) nest too deep.

    A point, line or polygon is depth 0, a multi-geometry or a collection of them 1, a
    collection holding collections 2, and so on; True where that exceeds ``max_depth``.
    Measured one level at a time (no recursion): each level keeps only the parts that are
    collections themselves, with the row they came from.
    """
    out = np.zeros(len(geoms), dtype=bool)
    level = np.asarray(geoms, dtype=object)
    rows = np.arange(len(level))
    for _ in range(max_depth):  # after k steps, ``level`` holds the k-th level's contents
        kinds = shapely.get_type_id(level)
        nested = np.isin(kinds, _COLLECTIONS)
        level, rows = level[nested], rows[nested]
        if not level.size:
            return out
        parts, owner = shapely.get_parts(level, return_index=True)
        level, rows = parts, rows[owner]
    out[np.unique(rows[np.isin(shapely.get_type_id(level), _COLLECTIONS)])] = True
    return out
