from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from geo.errors import ConfigError
from geo.i18n import LOCALE_DIR, Translator
from tests.conftest import ROOT


def _source_messages() -> set[tuple[str | None, object]]:
    """(context, message) of every message marked in ``ui`` and ``geo``."""
    found = set()
    for sub in ("ui", "geo"):
        for _f, _l, msg, _c, _ctx in extract_from_dir(
            ROOT / sub, method_map=[("**.py", "python")],
            keywords={"t": None, "n": (1, 2), "ctx": ((1, "c"), 2), "_": None, "marked": None,
                      "Message": None, "plural": (1, 2), "plural_marked": (1, 2)},
        ):
            found.add((_ctx, msg))  # a plural message is its (singular, plural) pair
    return found


@pytest.mark.parametrize("language", ["es", "pt"])
def test_every_message_in_the_code_is_translated(language):
    with (LOCALE_DIR / language / "LC_MESSAGES" / "atalaya.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    translated = {(m.context, m.id) for m in catalog if m.id and not m.fuzzy and (
        all(m.string) if isinstance(m.string, tuple) else m.string)}
    missing = sorted(_source_messages() - translated)
    assert not missing, f"untranslated in {language} (run `make messages`): {missing}"


@pytest.mark.parametrize("language", ["es", "pt"])
def test_every_translation_keeps_the_fields_of_its_message(language):
    """A lost or misspelt ``{field}`` breaks ``format``: an e-mail that can never be sent."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "atalaya.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    fields = re.compile(r"\{(\w*)\}")
    broken = [m.id for m in catalog if m.id and m.string and isinstance(m.id, str)
              and sorted(fields.findall(m.id)) != sorted(fields.findall(str(m.string)))]
    # each plural form keeps the fields of the English plural (which has the singular's)
    for m in catalog:
        if isinstance(m.id, tuple):
            english = sorted(fields.findall(m.id[1]))
            if any(sorted(fields.findall(text)) != english for text in (m.id[0], *m.string)):
                broken.append(m.id)
    assert not broken, f"{language}: translations whose fields differ: {broken}"


def test_a_count_chooses_its_plural_form():
    assert Translator("en").n("{n} alert", "{n} alerts", 1) == "{n} alert"
    assert Translator("es").n("{n} alert", "{n} alerts", 1) == "{n} alerta"
    assert Translator("es").n("{n} alert", "{n} alerts", 2) == "{n} alertas"
    assert Translator("pt").n("Apply {n} row", "Apply {n} rows", 1) == "Aplicar {n} linha"


def test_translation_and_fallback():
    assert Translator("es")("Events") == "Eventos"
    assert Translator("pt")("Seizure") == "Apreensão"
    assert Translator("en")("Events") == "Events"
    assert Translator("es")("a message nobody wrote") == "a message nobody wrote"


def test_dates_and_numbers_follow_the_language():
    when = date(2024, 3, 5)
    assert Translator("en").date(when) == "Mar 5, 2024"
    assert Translator("es").date(when) == "5 mar 2024"
    assert Translator("es").number(1234567.25, digits=2) == "1.234.567,25"
    assert Translator("en").number(1234567.25, digits=2) == "1,234,567.25"
    stamp = datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert "14:30" in Translator("es").datetime(stamp)


def test_unknown_language_is_refused():
    with pytest.raises(ConfigError, match="'fr' is not supported"):
        Translator("fr")


def test_a_message_stored_as_json_comes_back_whole():
    import json

    from geo.i18n import Message, Number, message_from_json, message_to_json

    inner = Message("latitude")
    m = Message("{axis} {value} is outside, {size} GB, {n} rows", axis=inner, value="95",
                size=Number(1234.5, 1), n=12345)
    back = message_from_json(json.loads(json.dumps(message_to_json(m))))
    assert back == m == "latitude 95 is outside, 1,234.5 GB, 12,345 rows"
    assert back.localized(Translator("es")) == m.localized(Translator("es"))
    assert "1.234,5 GB, 12.345" in back.localized(Translator("es"))
    for damaged in ({}, {"template": "{x}", "values": {}}, {"template": 3, "values": {}},
                    {"template": "{x}", "values": {"x": [1]}}, "text", None):
        with pytest.raises(ValueError, match="not a stored message"):
            message_from_json(damaged)


def test_a_message_of_two_forms_takes_the_form_of_its_count_everywhere():
    import json
    import pickle

    from geo.i18n import Message, message_from_json, message_to_json, plural

    def made(n: int) -> Message:
        return plural("{n} scene readable", "{n} scenes readable", "n", n=n)

    pt = Translator("pt")
    for n, english, portuguese in ((1, "1 scene readable", "1 cena legível"),
                                   (0, "0 scenes readable", "0 cenas legíveis"),
                                   (1234, "1,234 scenes readable", "1.234 cenas legíveis")):
        m = made(n)
        assert m == english
        assert m.localized(pt) == portuguese
        for back in (message_from_json(json.loads(json.dumps(message_to_json(m)))),
                     pickle.loads(pickle.dumps(m))):
            assert back == m
            assert back.localized(pt) == portuguese
    # a nested count: the frame and each part in the reader's language
    outer = Message("{source}: {rows}", source="a.csv", rows=made(2))
    assert message_from_json(message_to_json(outer)).localized(pt) == "a.csv: 2 cenas legíveis"
    assert made(1).count("e") == 4  # still a str: its methods are not shadowed
    with pytest.raises(KeyError):
        plural("{n} row", "{n} rows", "count", n=1)
    with pytest.raises(ValueError, match="not a stored message"):
        message_from_json({"template": "{n} row", "plural": "{n} rows",
                           "values": {"n": {"int": 2}}})
