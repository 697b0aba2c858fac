"""Deterministic sample world: events, routes, runway candidates, aerodromes and scenes.

``python -m geo.sample --seed 7 --events 20000 --out data`` writes every layer the dashboard
reads. The same seed gives the same bytes in every file; nothing depends on the clock.
"""

from __future__ import annotations
