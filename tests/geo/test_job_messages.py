"""Job messages are stored in English and shown in the reader's language."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.i18n import Translator
from geo.jobs import messages as msg
from geo.jobs.messages import TEMPLATES, localize


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("language", ["es", "pt"])
def test_every_translation_keeps_the_fields_of_its_template(language):
    t = Translator(language)
    for template in TEMPLATES:
        assert t(template) != template, f"{template!r} has no {language} translation"
        assert _fields(t(template)) == _fields(template), template


def test_a_stored_message_is_shown_translated_with_its_values():
    es = Translator("es")
    assert localize("1234 candidate(s) from 2 scene(s)", es, es.number) == \
        "1.234 candidato(s) en 2 escena(s)"
    absent = msg.DETECT_DONE_ABSENT.format(candidates=1234, scenes=2, absent=1500)
    assert localize(absent, es, es.number) == ("1.234 candidato(s) en 2 escena(s); 1.500 pista(s) "
                                               "conocida(s) no encontrada(s) donde una escena "
                                               "vio el suelo despejado")
    assert localize(msg.DETECT_SCENE.format(k=1, n=3, name="b 2024.tif"), es, es.number) == \
        "escena 1 de 3: b 2024.tif"
    # ids are not counts; a value that is itself a template is translated too
    stopped = msg.STOPPED_BETWEEN.format(id=1234, why=msg.WHY_CANCEL)
    assert localize(stopped, es, es.number) == \
        "la tarea 1234 se detuvo entre dos pasos: se pidió cancelar"
    assert localize("succeeded", Translator("pt"), str) == "concluída"
    # an error around an exception's own text: the frame is translated, the text kept
    crashed = msg.STOPPED_UNASKED.format(error=msg.STOPPED_BETWEEN.format(id=3, why="disk"))
    assert localize(crashed, es, es.number) == \
        "se detuvo sin que se pidiera cancelar: la tarea 3 se detuvo entre dos pasos: disk"
    lost = msg.RUNNER_LOST.format(owner="h:12:ab", attempt=2, attempts=2, beat=msg.NEVER)
    assert "(última señal nunca)" in localize(lost, es, es.number)


@pytest.mark.parametrize("language", ["es", "pt"])
def test_both_forms_of_a_counted_message_are_translated_with_their_fields(language):
    t = Translator(language)
    for (one, many), count, legacy in msg.PLURALS:
        assert count in _fields(one)
        assert _fields(one) == _fields(many) == _fields(legacy)
        assert t.n(one, many, 1) != one, one
        assert t.n(one, many, 2) != many, many
        assert _fields(t.n(one, many, 1)) == _fields(t.n(one, many, 2)) == _fields(one)


def test_a_counted_message_takes_the_form_of_its_count():
    es, en = Translator("es"), Translator("en")
    one = msg.english(msg.INGEST_DONE, "added", added=1, skipped=0)
    many = msg.english(msg.INGEST_DONE, "added", added=1234, skipped=2)
    assert (one, many) == ("1 scene stored, 0 already there", "1234 scenes stored, 2 already there")
    assert localize(one, es, es.number) == "1 escena guardada, 0 ya estaban"
    assert localize(many, es, es.number) == "1.234 escenas guardadas, 2 ya estaban"
    assert localize(one, en, en.number) == one
    # what earlier versions stored ("scene(s)") is shown in the form of its count
    assert localize("1 scene(s) stored, 3 already there", es, es.number) == \
        "1 escena guardada, 3 ya estaban"
    files = msg.english(msg.EXPORT_DONE, "files", snapshot="0a1b2c3d", files=1)
    assert files == "snapshot 0a1b2c3d: 1 file"
    assert localize(files, Translator("pt"), str) == "instantâneo 0a1b2c3d: 1 arquivo"
    assert localize("snapshot 0a1b2c3d: 8 file(s)", Translator("pt"), str) == \
        "instantâneo 0a1b2c3d: 8 arquivos"
    # a plain function as translator (no plural lookup): English's rule picks the form
    def plain(text: str) -> str:
        return text.replace(" file", " FILE")

    assert localize("snapshot 0a1b2c3d: 1 file", plain, str) == "snapshot 0a1b2c3d: 1 FILE"
    assert localize("snapshot 0a1b2c3d: 2 files", plain, str) == "snapshot 0a1b2c3d: 2 FILEs"


def test_a_message_from_no_template_is_shown_as_written():
    es = Translator("es")
    assert localize("the disk is full", es, es.number) == "the disk is full"
    assert localize("scene 1 of 2", es, es.number) == "scene 1 of 2"  # a part of a template
    assert localize("", es, es.number) == ""


_value = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@given(template=st.sampled_from(TEMPLATES), values=st.lists(_value, min_size=6, max_size=6))
def test_english_shows_every_message_exactly_as_stored(template, values):
    """Whatever the values (file and user names hold anything), nothing is lost or changed."""
    names = sorted(_fields(template))
    stored = template.format(**dict(zip(names, values, strict=False)))
    assert localize(stored, Translator("en"), str) == stored


def test_the_writers_use_the_templates():
    """No job message is written as a literal outside geo.jobs.messages."""
    from tests.conftest import ROOT

    literal = re.compile(r"(progress\([^,]+, f?\"|(message|error)=f?\"(?!\")"
                         r"|\"(message|error)\": f?\"(?!\"))")
    for name in ("handlers.py", "queue.py", "runner.py"):
        text = (ROOT / "geo" / "jobs" / name).read_text()
        assert not literal.search(text), f"{name}: {literal.search(text)}"
