"""Risk analysis: grids per cell and month, hot spots, emerging trends, corridors, scores.

Pure functions (no streamlit, no folium) over the layers of :mod:`geo.schema`, in EPSG:4326;
distances are measured in metres in a projection suited to the data and reported in km.

Modules
-------
grids        counts and kilograms per cell (H3 or square) and calendar month
neighbours   study areas and sparse contiguity weights
hotspots     kernel density (metric grid), Getis-Ord Gi*, Benjamini-Hochberg FDR
trends       Mann-Kendall per cell, emerging-hotspot labels
geodesic     geodesic distances, densification, local equidistant projections
corridor     features within a distance of a line, in a time window
proximity    distances from runway candidates to rivers, borders, routes, seizures...
score        RiskWeights and explainable scores (breakdown, one-line explanation)
cell_risk    the per-cell score from the layers
changes      what is new in an area since a given time
"""

from __future__ import annotations

from geo.risk.cell_risk import compute_cell_risk, window_months
from geo.risk.changes import Changes, what_changed
from geo.risk.corridor import Corridor, corridor_pieces, corridor_query, within_corridor
from geo.risk.geodesic import aeqd_crs, densify_geodesic, geodesic_km
from geo.risk.grids import (
    CellGrid,
    MonthlyCells,
    aggregate_cells_by_month,
    cell_codes,
    cell_names,
    grid_for_zoom,
    monthly_cell_matrix,
)
from geo.risk.hotspots import (
    DensityGrid,
    GiStar,
    benjamini_hochberg,
    classify_hotspots,
    compute_hotspots,
    count_hotspot_test,
    getis_ord_gi_star,
    kernel_density,
)
from geo.risk.neighbours import cell_areas_km2, neighbour_matrix, study_cells
from geo.risk.proximity import (
    candidate_proximity,
    count_within_km,
    land_borders,
    nearest_line_km,
    nearest_point_km,
    recent_seizures,
)
from geo.risk.score import Contribution, RiskWeights, explain, score_candidates, score_cells
from geo.risk.trends import (
    MannKendall,
    compute_emerging_hotspots,
    emerging_labels,
    mann_kendall,
)

__all__ = [
    "CellGrid",
    "Changes",
    "Contribution",
    "Corridor",
    "DensityGrid",
    "GiStar",
    "MannKendall",
    "MonthlyCells",
    "RiskWeights",
    "aeqd_crs",
    "aggregate_cells_by_month",
    "benjamini_hochberg",
    "candidate_proximity",
    "cell_areas_km2",
    "cell_codes",
    "cell_names",
    "classify_hotspots",
    "compute_cell_risk",
    "compute_emerging_hotspots",
    "compute_hotspots",
    "corridor_pieces",
    "corridor_query",
    "count_hotspot_test",
    "count_within_km",
    "densify_geodesic",
    "emerging_labels",
    "explain",
    "geodesic_km",
    "getis_ord_gi_star",
    "grid_for_zoom",
    "kernel_density",
    "land_borders",
    "mann_kendall",
    "monthly_cell_matrix",
    "nearest_line_km",
    "nearest_point_km",
    "neighbour_matrix",
    "recent_seizures",
    "score_candidates",
    "score_cells",
    "study_cells",
    "what_changed",
    "window_months",
    "within_corridor",
]
