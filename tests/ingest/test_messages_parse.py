"""Refused coordinates and locations are :class:`geo.i18n.Message`s.

Their English text is what it was, they pickle, and they are written again in the reader's
language (translated words, the language's number separators).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from geo.coords import LocationError, parse_location
from geo.i18n import Message, Translator, localize, message_of
from geo.ingest.errors import CommitError, MappingError
from geo.ingest.mapping import Mapping
from geo.ingest.parse import ValueParseError, parse_coordinate, parse_coordinate_columns

#: (latitude cell, longitude cell, the English reason, as it was before messages were localized;
#: only counts of 1,000 or more are now grouped, as the other counts already were)
ROWS = [
    ("", "", "no coordinates"),
    ("N 9 S", "-74.6", "'N 9 S' has two hemisphere letters"),
    ("9 E", "-74.6", "'9 E' is a longitude (E) in the latitude column: columns swapped?"),
    ("-9.4", "74 N", "'74 N' is a latitude (N) in the longitude column: columns swapped?"),
    ("-9 S", "-74.6", "'-9 S' has both a minus sign and the letter S"),
    ("9 61 S", "-74.6", "'9 61 S': minutes and seconds must be below 60"),
    ("9.5 30 S", "-74.6", "'9.5 30 S': only the last number may have decimals"),
    ("abc", "-74.6", "cannot read 'abc' as a latitude; write -9.4 or 9°24'30\"S"),
    ("-9.4", "abc", "cannot read 'abc' as a longitude; write -9.4 or 9°24'30\"S"),
    ("95 N", "-74.6", "latitude 95 N is outside -90..90 (latitude and longitude columns "
                      "swapped?)"),
    ("-9.4", "190 W", "longitude 190 W is outside -180..180"),
    ("95", "10", "latitude 95 is outside -90..90 but fits as a longitude: latitude and "
                 "longitude swapped?"),
    ("512345.5", "9300000", "coordinates (512346, 9.3e+06) are out of range for degrees "
                            "(metres of a projected CRS?)"),
    ("1" * 12345, "-74.6", "12,345 characters is too long for a coordinate"),
]

#: (typed location, the English error, as it was before messages were localized, counts grouped)
LOCATIONS = [
    ("-120.5, 5.2", "'-120.5, 5.2': latitude -120.5 is outside -90..90. Did you write "
                    "longitude first? Try '5.2, -120.5'."),
    ("95 N 10 E", "'95 N 10 E': latitude 95 is outside -90..90."),
    ("9 S 200 W", "'9 S 200 W': longitude -200 is outside -180..180"),
    ("9S 10S", "'9S 10S': both coordinates are latitudes (S and S); give one of N/S and one "
               "of E/W"),
    ("9 24 61 S 74 W", "'9 24 61 S 74 W': seconds must be between 0 and 60, got 61"),
    ("9.5 24 S 74 W", "'9.5 24 S 74 W': 9.5 has decimals but is followed by minutes; only the "
                      "last number may have decimals"),
    ("1 2 3 4 S 74 W", "'1 2 3 4 S 74 W': 4 numbers in one coordinate; expected degrees, "
                       "minutes and seconds at most"),
    ("-9S 74W", "'-9S 74W': both a minus sign and the letter S; use one or the other"),
    ("S N 9", "'S N 9': two hemisphere letters in a row"),
    ("12", "'12': found 1 coordinate, expected two (latitude and longitude); separate them "
           "with a comma or add hemisphere letters (9°24'S 74°36'W)"),
    ("9 ? 74", "'9 ? 74': cannot read ' ? 74'; write '-9.4, -74.6', '9°24'S 74°36'W' or an "
               "aerodrome code"),
    ("SKXX", "'SKXX': no aerodrome has this code; check the spelling or type coordinates"),
    ("", "nothing to read: write coordinates such as '-9.4, -74.6' or an aerodrome code such "
         "as SPJC"),
    ("9" * 12345, "12,345 characters is too long for a location"),
]


def _reason(lat: str, lon: str) -> str | None:
    _xs, _ys, why = parse_coordinate_columns(pd.Series([lat], dtype=object),
                                             pd.Series([lon], dtype=object))
    return why[0]


def _location_error(text: str) -> LocationError:
    with pytest.raises(LocationError) as err:
        parse_location(text, codes={"SPJC": (-77.11, -12.02)})
    return err.value


@pytest.mark.parametrize(("lat", "lon", "english"), ROWS, ids=[r[2][:40] for r in ROWS])
def test_row_reasons_are_messages_with_the_same_english(lat: str, lon: str,
                                                        english: str) -> None:
    reason = _reason(lat, lon)
    assert isinstance(reason, Message)
    assert reason == english
    assert f"coordinates: {reason}" == f"coordinates: {english}"  # as validate.py writes it


@pytest.mark.parametrize(("text", "english"), LOCATIONS, ids=[r[1][:40] for r in LOCATIONS])
def test_location_errors_are_messages_with_the_same_english(text: str, english: str) -> None:
    exc = _location_error(text)
    assert str(exc) == english
    assert isinstance(message_of(exc), Message)


def test_the_single_cell_parser_raises_a_message() -> None:
    with pytest.raises(ValueParseError) as err:
        parse_coordinate("", axis="lat")
    assert isinstance(message_of(err.value), Message)
    assert str(err.value) == "empty coordinate"


@pytest.mark.parametrize("reason", [_reason(lat, lon) for lat, lon, _ in ROWS])
def test_reasons_pickle_with_template_and_values(reason: str) -> None:
    assert isinstance(reason, Message)
    back = pickle.loads(pickle.dumps(reason))
    assert isinstance(back, Message)
    assert back == reason
    assert back.template == reason.template
    assert back.values == reason.values


def test_nested_messages_pickle() -> None:
    reason = _reason("9 E", "-74.6")
    assert isinstance(reason, Message)
    back = pickle.loads(pickle.dumps(reason))
    assert isinstance(back, Message)
    for key in ("other", "axis"):
        word, before = back.values[key], reason.values[key]
        assert isinstance(word, Message)
        assert isinstance(before, Message)
        assert word.template == before.template


def test_errors_pickle_with_their_message() -> None:
    """A job in another process hands its error back pickled: the Message survives."""
    exc = _location_error("9°61'S 74W")
    back = pickle.loads(pickle.dumps(exc))
    assert isinstance(back, LocationError)
    assert str(back) == str(exc) == "\"9°61'S 74W\": minutes must be between 0 and 60, got 61"
    msg = message_of(back)
    assert isinstance(msg, Message)
    assert msg.template == "{source}: {unit} must be between 0 and 60, got {number}"
    assert isinstance(msg.values["unit"], Message)


def test_spanish_without_entries_keeps_english_words_and_localizes_numbers(
        tmp_path: Path) -> None:
    es = Translator("es", locale_dir=tmp_path)  # no catalogue: English words, Spanish numbers
    too_long = _reason("1" * 12345, "-74.6")
    assert localize(too_long, es) == "12.345 characters is too long for a coordinate"
    assert localize(_location_error("9" * 12345), es) == \
        "12.345 characters is too long for a location"
    # nested words are written (in English until translated); coordinates keep their point
    assert localize(_reason("9 E", "-74.6"), es) == \
        "'9 E' is a longitude (E) in the latitude column: columns swapped?"
    assert localize(_location_error("-120.5, 5.2"), es) == (
        "'-120.5, 5.2': latitude -120.5 is outside -90..90. Did you write longitude first? "
        "Try '5.2, -120.5'.")
    assert localize(_reason("95", "10"), Translator("pt", locale_dir=tmp_path)).startswith(
        "latitude 95 is outside")


def test_the_catalogues_translate_reasons_nested_words_included() -> None:
    es = Translator("es")
    assert localize(_reason("1" * 12345, "-74.6"), es) == \
        "una coordenada de 12.345 caracteres es demasiado larga"
    assert localize(_reason("9 E", "-74.6"), es) == \
        "'9 E' es una longitud (E) en la columna de latitud: ¿columnas intercambiadas?"
    assert localize(_location_error("-120.5, 5.2"), es) == (
        "'-120.5, 5.2': la latitud -120.5 está fuera de -90..90. ¿Escribió primero la "
        "longitud? Pruebe '5.2, -120.5'.")


def _catalogue(folder: Path, entries: dict[str, str]) -> Path:
    po = folder / "es" / "LC_MESSAGES" / "atalaya.po"
    po.parent.mkdir(parents=True)
    body = "".join(f'msgid "{k}"\nmsgstr "{v}"\n\n' for k, v in entries.items())
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' + body,
                  encoding="utf-8")
    return folder


def test_a_catalogue_translates_the_template_and_the_nested_words(tmp_path: Path) -> None:
    es = Translator("es", locale_dir=_catalogue(tmp_path, {
        "latitude": "latitud",
        "longitude": "longitud",
        "minutes": "los minutos",
        "{value} is a {other} ({letter}) in the {axis} column: columns swapped?":
            "{value} es una {other} ({letter}) en la columna {axis}: ¿columnas invertidas?",
        "{source}: {unit} must be between 0 and 60, got {number}":
            "{source}: {unit} deben estar entre 0 y 60, no {number}",
        "{count} characters is too long for a coordinate":
            "{count} caracteres son demasiados para una coordenada",
    }))
    assert localize(_reason("9 E", "-74.6"), es) == \
        "'9 E' es una longitud (E) en la columna latitud: ¿columnas invertidas?"
    assert localize(_location_error("9°61'S 74W"), es) == \
        "\"9°61'S 74W\": los minutos deben estar entre 0 y 60, no 61"
    assert localize(_reason("1" * 12345, "-74.6"), es) == \
        "12.345 caracteres son demasiados para una coordenada"


def test_mapping_and_commit_errors_are_messages() -> None:
    with pytest.raises(MappingError) as err:
        Mapping("events", quantity_unit="stone").check()
    assert str(err.value) == "unknown quantity unit 'stone'; expected one of kg, g, t, lb"
    assert isinstance(message_of(err.value), Message)

    from geo.ingest.commit import _check_ids

    ids = [f"E{i:05d}" for i in range(12345)]
    frame = pd.DataFrame({"event_id": ids})
    with pytest.raises(CommitError) as clash:
        _check_ids(frame, frame, "events")
    english = ("nothing stored: 12,345 identifiers are already stored (E00000, E00001, E00002, "
               "E00003, E00004 (+12,340 more)). Skip the duplicates, or map the file's own "
               "identifier column")
    assert str(clash.value) == english
    assert localize(clash.value, Translator("es")) == (
        "no se almacenó nada: 12.345 identificadores ya están almacenados (E00000, E00001, "
        "E00002, E00003, E00004 (+12.340 más)). Omita los duplicados o asigne la columna de "
        "identificador propia del archivo")
    with pytest.raises(CommitError) as one:
        _check_ids(frame.iloc[:1], frame, "events")
    assert str(one.value).startswith("nothing stored: 1 identifier is already stored (E00000). "
                                     "Skip the duplicate,")
    assert localize(one.value, Translator("pt")).startswith(
        "nada foi armazenado: 1 identificador já está armazenado (E00000). Ignore o duplicado")
