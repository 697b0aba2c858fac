"""Names shown for the category values of the data contracts, in the interface language.

One list serves the map and tables (``ui.labels.map_labels``) and the importer
(:mod:`geo.ingest.validate`), which accepts a value written as the app shows it in any of
its languages ("pasta base de cocaína", "Voo suspeito") as well as its code.
"""

from __future__ import annotations

from geo.i18n import Translator


def category_labels(t: Translator) -> dict[str, str]:
    """Code -> translated name of every category value (event types, commodities, modes...)."""
    return {
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
        "cocaine": t("Cocaine"),
        "cocaine_base": t("Cocaine base paste"),
        "cannabis": t("Cannabis"),
        "heroin": t("Heroin"),
        "methamphetamine": t("Methamphetamine"),
        "fentanyl": t("Fentanyl"),
        "precursors": t("Chemical precursors"),
        "cash": t("Cash"),
        "weapons": t("Weapons"),
        "gold": t("Illegal gold"),
        "fuel": t("Fuel"),
        "unknown": t("Unknown"),
        "high": t("High"),
        "medium": t("Medium"),
        "low": t("Low"),
    }
