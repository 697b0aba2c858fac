"""Translated labels handed to ``layers/`` (which knows no language)."""

from __future__ import annotations

from geo.aerodromes import SURFACE_NAMES
from geo.categories import category_labels
from geo.i18n import Translator
from layers.labels import number_labels


def map_labels(t: Translator) -> dict[str, str]:
    """Every string the map shows (layer names, legend, popup field names), translated."""
    return {
        **number_labels(t.number_symbols()),
        "events": t("Events"),
        "routes": t("Trafficking routes"),
        "scenes": t("Imagery footprints"),
        "acquired_at": t("Acquired"),
        "sensor": t("Sensor"),
        "resolution_m": t("Resolution (m)"),
        "bands": t("Bands"),
        "cloud_share": t("Cloud share"),
        "native_crs": t("Native CRS"),
        "candidates": t("Runway candidates"),
        "aerodromes": t("Registered aerodromes"),
        "borders": t("Land and borders (offline)"),
        "online_basemap": t("OpenStreetMap (online)"),
        "legend": t("Legend"),
        "event_type": t("Type"),
        "occurred_at": t("Date"),
        "commodity": t("Commodity"),
        "quantity_kg": t("Quantity (kg)"),
        "country": t("Country"),
        "source": t("Source"),
        "confidence": t("Confidence"),
        "description": t("Description"),
        "mode": t("Mode"),
        "origin": t("Origin"),
        "destination": t("Destination"),
        "first_seen": t("First seen"),
        "last_seen": t("Last seen"),
        "volume_kg_year": t("Volume (kg/year)"),
        "score": t("Score"),
        "length_m": t("Length (m)"),
        "width_m": t("Width (m)"),
        "bearing_deg": t("Bearing (°)"),
        "state": t("State"),
        "priority": t("Priority"),
        "reason": t("Reason"),
        "zoom_in": t("Zoom in"),
        "zoom_out": t("Zoom out"),
        "draw_polygon": t("Draw a polygon"),
        "draw_rectangle": t("Draw a rectangle"),
        "draw_cancel": t("Cancel"),
        "draw_cancel_title": t("Cancel drawing"),
        "draw_finish": t("Finish"),
        "draw_finish_title": t("Finish drawing"),
        "draw_undo": t("Delete last point"),
        "draw_undo_title": t("Delete the last point drawn"),
        "draw_polygon_start": t("Click to start drawing the area."),
        "draw_polygon_cont": t("Click to continue drawing the area."),
        "draw_polygon_end": t("Click the first point to close the area."),
        "draw_rectangle_start": t("Click and drag to draw a rectangle."),
        "draw_release": t("Release the mouse to finish drawing."),
        "draw_cross_error": t("Error: the edges of the area cannot cross."),
        "candidate_id": t("Candidate"),
        "detected_at": t("Detected"),
        "scene_id": t("Scene"),
        "ident": t("Code"),
        "name": t("Name"),
        "runway_length_m": t("Runway length (m)"),
        "surface": t("Surface"),
        "kind": t("Kind"),
        "small_airport": t("Small airport"),
        "medium_airport": t("Medium airport"),
        "large_airport": t("Large airport"),
        "heliport": t("Heliport"),
        "seaplane_base": t("Seaplane base"),
        "balloonport": t("Balloon port"),
        "closed": t("Closed aerodrome"),
        "coordinates": t("Coordinates"),
        "details_below": t("Details below the map"),
        "count": t("Events"),
        "aoi": t("Area of interest"),
        "event_density": t("Event density"),
        "event_counts": t("Events per cell"),
        **category_labels(t),  # category values
        **{key: t(name) for key, name in SURFACE_NAMES.items()},  # runway surfaces
    }


def chip_names(t: Translator) -> dict[str, str]:
    """Names of the image chip composites (``geo.imagechips``) an alert page shows."""
    from geo.imagechips import COMPOSITE_NAMES

    return {code: t(name) for code, name in COMPOSITE_NAMES.items()}


def band_names(t: Translator) -> dict[str, str]:
    """Band roles as the reader names them: colours translated, infrared bands by acronym."""
    return {"blue": t("Blue"), "green": t("Green"), "red": t("Red"), "nir": "NIR",
            "swir1": "SWIR1", "swir2": "SWIR2", "scl": "SCL", "cloud": t("Cloud mask")}
