"""A refused file's message is a Message: the same English text, written again per language."""

from __future__ import annotations

import io
import zipfile

import pytest

from geo.i18n import Message, Translator, localize, message_of
from geo.ingest import FileRefusedError, Limits, read_source, receive_file

CAP = Limits(max_rows=12_345)
TOO_MANY_ROWS = ("id\n" + "1\n" * 12_346).encode()


@pytest.mark.parametrize("isolated", [False, True], ids=["in-process", "worker-process"])
def test_a_row_cap_refusal_is_a_message_with_local_numbers(isolated: bool) -> None:
    """Also read in the capped worker process: the Message survives its pipe (pickled)."""
    from geo.ingest import read_source_isolated

    read = read_source_isolated if isolated else read_source
    with receive_file(TOO_MANY_ROWS, name="grande.csv", limits=CAP) as up, \
            pytest.raises(FileRefusedError) as err:
        read(up, limits=CAP)
    message = message_of(err.value)
    assert isinstance(message, Message)
    assert message.template == "{name} has more than {n} rows; split it"
    assert str(err.value) == "grande.csv has more than 12,345 rows; split it"
    assert localize(err.value, Translator("es")) == "grande.csv tiene más de 12.345 filas; divídalo"


def test_a_shapefile_without_two_parts_names_both_in_one_template() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("zonas.shp", b"\x00" * 100)
        zf.writestr("zonas.prj", b'GEOGCS["WGS 84"]')
    with receive_file(buf.getvalue(), name="zonas.zip") as up, \
            pytest.raises(FileRefusedError) as err:
        read_source(up)
    assert isinstance(message_of(err.value), Message)
    assert str(err.value) == ("zonas.zip: the shapefile zonas.shp comes without .shx and .dbf; "
                              "zip all its parts together")
    assert localize(err.value, Translator("es")) == (
        "zonas.zip: el shapefile zonas.shp viene sin .shx ni .dbf; comprima todas sus partes "
        "juntas")


def test_an_unknown_extension_is_a_message_with_a_translatable_word() -> None:
    with pytest.raises(FileRefusedError) as err:
        receive_file(b"lat,lon\n", name="datos")
    message = message_of(err.value)
    assert isinstance(message, Message)
    assert str(err.value).startswith("datos: files ending (no extension) are not imported; ")
    assert isinstance(message.values["ext"], Message)
    assert "(sem extensão)" in localize(err.value, Translator("pt"))
