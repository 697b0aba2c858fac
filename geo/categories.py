"""Names shown for the category values of the data contracts, in the interface language.

One list serves the map and tables (``ui.labels.map_labels``) and the importer
(:mod:`geo.ingest.validate`), which accepts a value written as the app shows it in any of
its languages ("pasta base de cocaína", "Voo suspeito") as well as its code
(:func:`codes_by_name`; the field package's verdicts are read the same way).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from geo.i18n import Translator, translator


def normalise_name(name: str) -> str:
    """Lower-case ASCII with underscores: ``"Código OACI"`` -> ``"codigo_oaci"``.

    Examples
    --------
    >>> normalise_name(" Fecha de Incautación ")
    'fecha_de_incautacion'
    """
    ascii_ = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_.lower()).strip("_")


def codes_by_name(names: Callable[[Translator], Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    """Normalised name -> codes, for every name ``names`` gives a code in any language.

    ``names(t)`` is code -> name in ``t``'s language (:func:`category_labels`,
    :func:`geo.store.states.state_names`). A name shared by two codes maps to both, in the
    order met; the caller decides which one its column allows.
    """
    from geo.settings import LANGUAGES

    out: dict[str, tuple[str, ...]] = {}
    for language in LANGUAGES:
        for code, name in names(translator(language)).items():
            key = normalise_name(name)
            if code not in out.get(key, ()):
                out[key] = (*out.get(key, ()), code)
    return out


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
