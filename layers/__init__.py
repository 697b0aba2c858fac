"""Data to map: GeoDataFrames in, folium/Leaflet objects out.

No streamlit, no file I/O. This package is the only place where (lon, lat) becomes Leaflet's
[lat, lon], and the only place user text is escaped for HTML and JavaScript
(:func:`layers.escape.escape_text`).
"""

from __future__ import annotations

from layers.render import install as _install_render

# Rendered layer output is never read again as a Jinja template (see layers.render).
_install_render()
