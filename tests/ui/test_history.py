"""An alert's audit history reads as names and values, not the store's codes and JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from geo.i18n import Translator
from geo.store.audit import AuditEntry
from geo.store.chips import CHIP_KIND
from ui.history import history_table

AT = datetime(2026, 12, 3, 13, 55, 12, tzinfo=UTC)
WKT = ("POLYGON ((-74.60415 -9.40461, -74.59033 -9.40614, -74.59035 -9.40632, "
       "-74.60417 -9.40479, -74.60415 -9.40461))")


def _entry(action: str, field: str | None, old: object, new: object,
           actor: str = "detector") -> AuditEntry:
    return AuditEntry(id=1, at=AT, actor=actor, alert_id=7, action=action, field=field,
                      old_value=old, new_value=new, request_id=None)


ENTRIES = [
    _entry("create", "state", None, "new", actor="detector (data folder)"),
    _entry("create", "country", None, "PE"),
    _entry("create", "geometry", None, WKT),
    _entry("merge", "score", 0.9875, 0.9787),
    _entry("merge", "detection_state", "active", "overgrown"),
    _entry("merge", "last_seen", "2023-07-15T15:20:00+00:00", "2024-08-02T15:20:00+00:00"),
    _entry("merge", "length_m", 1533.4, 1473.2),
    _entry("merge", "aerodrome_km", 40.71, 40.66),
    _entry("attach", CHIP_KIND, None, {"id": 4, "label": "ucayali_2024-08-02 false_colour",
                                       "sha256": "ab" * 32}, actor="analyst"),
    _entry("update", "priority", "high", "medium", actor="ana"),
    _entry("field_export", "package", None,
           {"package_id": "08a5a8856463492f9e", "version": 4}, actor="ana"),
]


def test_a_score_moved_within_its_shown_hundredth_reads_with_four_decimals():
    """The page showed 0.99, the history 1.00 and then "1.00 → 1.00"."""
    table = history_table([_entry("merge", "score", 0.9979, 0.9981),
                           _entry("merge", "score", 0.9981, 0.9981)], Translator("pt"))
    assert table.iloc[:, -2:].values.tolist() == [["0,9979", "0,9981"], ["0,99", "0,99"]]


@pytest.mark.parametrize(("language", "expected"), [
    ("en", [["Created", "State", "", "New"],
            ["Created", "Country", "", "Peru (PE)"],
            ["Created", "Coordinates", "", "-9.40547, -74.59725"],
            ["Detected again", "Score", "0.98", "0.97"],  # cut, as shown everywhere
            ["Detected again", "On the imagery", "Active", "Overgrown"],
            ["Detected again", "Last seen", "2023-07-15", "2024-08-02"],
            ["Detected again", "Length (m)", "1,533", "1,473"],
            ["Detected again", "Nearest registered aerodrome", "40.7 km", "40.7 km"],
            ["Image chip cut on opening the alert", "Image", "",
             "False colour (near infrared) · ucayali_2024-08-02"],
            ["Changed", "Priority", "High", "Medium"],
            ["Field package exported", "Field package", "", "package 08a5a885, alert version 4"]]),
    ("es", [["Creada", "Estado", "", "Nueva"],
            ["Creada", "País", "", "Perú (PE)"],
            ["Creada", "Coordenadas", "", "-9.40547, -74.59725"],
            ["Detectada de nuevo", "Puntuación", "0,98", "0,97"],
            ["Detectada de nuevo", "En las imágenes", "Activa", "Con rebrote"],
            ["Detectada de nuevo", "Visto por última vez", "2023-07-15", "2024-08-02"],
            ["Detectada de nuevo", "Longitud (m)", "1.533", "1.473"],
            ["Detectada de nuevo", "Aeródromo registrado más cercano", "40,7 km", "40,7 km"],
            ["Recorte de imagen generado al abrir la alerta", "Imagen", "",
             "Falso color (infrarrojo cercano) · ucayali_2024-08-02"],
            ["Modificado", "Prioridad", "Alta", "Media"],
            ["Paquete de campo exportado", "Paquete de campo", "",
             "paquete 08a5a885, versión 4 de la alerta"]]),
])
def test_history_names_fields_and_values_in_the_readers_language(language, expected):
    t = Translator(language)
    table = history_table(ENTRIES, t, actors={"detector (data folder)": "detector (datos)"})
    columns = [t("What"), t("Field"), t("Before"), t("After")]
    assert table[columns].values.tolist() == expected
    assert table[t("Who")].tolist()[:2] == ["detector (datos)", "detector"]
    assert table[t("When (UTC)")].iloc[0] == "2026-12-03 13:55:12"


def test_the_chips_of_one_opening_make_one_line():
    """Four chips cut when ana opened the alert: one line, not four above the verdicts."""
    def chip(scene: str, composite: str, actor: str = "ana") -> AuditEntry:
        return _entry("attach", CHIP_KIND, None, {"label": f"{scene} {composite}"}, actor=actor)

    entries = [_entry("update", "state", "new", "confirmed", actor="ana"),
               chip("s1", "true_colour"), chip("s1", "false_colour"),
               chip("s2", "true_colour"), chip("s2", "false_colour"),
               chip("s3", "true_colour", actor="luis"),
               _entry("create", "state", None, "new")]
    t = Translator("es")
    table = history_table(entries, t)
    assert table[t("What")].tolist() == [
        "Modificado", "4 recortes de imagen generados al abrir la alerta",
        "Recorte de imagen generado al abrir la alerta", "Creada"]
    assert table[t("Who")].tolist() == ["ana", "ana", "luis", "detector"]
    assert table[t("After")].iloc[1] == (
        "Color verdadero · s1; Falso color (infrarrojo cercano) · s1; "
        "Color verdadero · s2; Falso color (infrarrojo cercano) · s2")


def test_values_it_cannot_read_are_shown_as_they_are():
    t = Translator("en")
    odd = [_entry("merge", "geometry", "not WKT", None), _entry("merge", "last_seen", 5, "x"),
           _entry("merge", "score", "high", None), _entry("merge", "some_new_field", [1], 2),
           _entry("comment", None, None, "<b>look</b>")]
    rows = history_table(odd, t)[["Field", "Before", "After"]].values.tolist()
    assert rows == [["Coordinates", "not WKT", ""], ["Last seen", "5", "x"],
                    ["Score", "high", ""], ["some_new_field", "[1]", "2"],
                    ["", "", "<b>look</b>"]]


def test_changes_and_comments_from_a_returned_field_package_say_so():
    from dataclasses import replace

    from geo.store.fieldpkg import FIELD_REQUEST_PREFIX

    request = FIELD_REQUEST_PREFIX + "0" * 40
    entries = [replace(_entry("update", "state", "needs_field_visit", "confirmed", actor="ana"),
                       request_id=request),
               replace(_entry("comment", None, None, "[field visit: luis] verdict: confirmed",
                              actor="ana"), request_id=request),
               _entry("comment", None, None, "seen from the road", actor="ana")]
    t = Translator("es")
    table = history_table(entries, t)
    assert table[t("What")].tolist() == ["Modificado (paquete de campo)",
                                         "Comentario (paquete de campo)", "Comentario"]
    assert table[t("After")].tolist() == ["Confirmada",
                                          "[visita de campo: luis] veredicto: Confirmada",
                                          "seen from the road"]
