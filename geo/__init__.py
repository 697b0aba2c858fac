"""Atalaya's pure geospatial core.

Nothing here imports streamlit or folium, and nothing happens at import time: the modules
can be used from a notebook, a command line or a worker process.
"""

from __future__ import annotations

__version__ = "0.1.0"
