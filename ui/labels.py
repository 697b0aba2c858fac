"""Translated labels handed to ``layers/`` (which knows no language)."""

from __future__ import annotations

from geo.i18n import Translator


def map_labels(t: Translator) -> dict[str, str]:
    """Every string the map shows (layer names, legend, popup field names), translated."""
    return {
        "events": t("Events"),
        "routes": t("Trafficking routes"),
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
        "ident": t("Code"),
        "name": t("Name"),
        "runway_length_m": t("Runway length (m)"),
        "surface": t("Surface"),
        # category values
        "seizure": t("Seizure"),
        "interdiction": t("Interdiction"),
        "incident": t("Incident"),
        "suspicious_flight": t("Suspicious flight"),
        "lab_dismantled": t("Lab dismantled"),
        "air": t("Air"),
        "maritime": t("Maritime"),
        "land": t("Land"),
        "river": t("River"),
        "intermodal": t("Intermodal"),
        "new": t("New"),
        "active": t("Active"),
        "overgrown": t("Overgrown"),
        "destroyed": t("Destroyed"),
        "reopened": t("Reopened"),
    }
