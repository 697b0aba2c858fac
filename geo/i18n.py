"""Translations and locale-aware formatting (English, Spanish, Portuguese).

Every user-facing string goes through a :class:`Translator`. Catalogues are the ``.po`` files
under ``locales/<lang>/LC_MESSAGES/atalaya.po``; they are compiled in memory when first used,
so no binary ``.mo`` file is committed or built. Dates and numbers follow the language through
Babel (CLDR): ``es`` and ``pt`` write 1.234,5 (as most of South America does), ``en`` 1,234.5.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from geo.errors import ConfigError
from geo.message import (
    Message,
    Number,
    join_messages,
    localize,
    message_from_json,
    message_of,
    message_to_json,
    plural,
    replace_values,
)
from geo.settings import LANGUAGES, PROJECT_ROOT

DOMAIN = "atalaya"
LOCALE_DIR = PROJECT_ROOT / "locales"
#: The Babel locale used for formatting in each interface language.
FORMAT_LOCALES = {"en": "en_US", "es": "es", "pt": "pt_BR"}
LANGUAGE_NAMES = {"en": "English", "es": "Español", "pt": "Português"}


@lru_cache(maxsize=8)
def _catalogue(language: str, locale_dir: Path) -> gettext.NullTranslations:
    po = locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == "en" or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


@dataclass(frozen=True)
class Translator:
    """Translate messages and format dates and numbers for one interface language.

    Examples
    --------
    >>> t = Translator("es")
    >>> t.number(1234.5, digits=1)
    '1.234,5'
    >>> Translator("en").number(1234567)
    '1,234,567'
    """

    language: str
    locale_dir: Path = field(default=LOCALE_DIR, compare=False)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigError(
                f"language {self.language!r} is not supported; expected one of "
                f"{', '.join(LANGUAGES)}"
            )

    def __call__(self, message: str) -> str:
        """Return ``message`` translated (the English text when no translation exists)."""
        return _catalogue(self.language, self.locale_dir).gettext(message)

    def ctx(self, context: str, message: str) -> str:
        """Translate ``message`` as meant in ``context`` (one English word, two senses).

        Examples
        --------
        >>> Translator("pt").ctx("emerging hot spot", "New"), Translator("pt")("New")
        ('Novo', 'Nova')
        """
        return _catalogue(self.language, self.locale_dir).pgettext(context, message)

    def n(self, singular: str, plural: str, count: int) -> str:
        """Translate a message with a plural form chosen by ``count``."""
        return _catalogue(self.language, self.locale_dir).ngettext(singular, plural, count)

    @property
    def locale(self) -> Locale:
        """The Babel locale used for formatting."""
        return Locale.parse(FORMAT_LOCALES[self.language])

    def number(self, value: float, *, digits: int | None = None) -> str:
        """Format a number with the language's separators (``digits`` fixes the decimals)."""
        if digits is None:
            return str(format_decimal(value, locale=self.locale))
        fmt = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return str(format_decimal(value, format=fmt, locale=self.locale))

    def either(self, items: Sequence[str]) -> str:
        """Join choices as the language lists alternatives: ``"a, b o c"`` in Spanish.

        Examples
        --------
        >>> Translator("pt").either(["Em análise", "Descartada"]), Translator("en").either(["a"])
        ('Em análise ou Descartada', 'a')
        """
        return str(format_list(list(items), style="or", locale=self.locale)) if items else ""

    def number_symbols(self) -> dict[str, str]:
        """Return the language's decimal and grouping signs: ``{"decimal": ",", "group": "."}``.

        For formatters outside Python (the charts' d3-format locale).
        """
        symbols = self.locale.number_symbols["latn"]
        return {"decimal": str(symbols["decimal"]), "group": str(symbols["group"])}

    def country(self, code: str) -> str:
        """Name an ISO 3166 country code in the language, code kept: ``Perú (PE)``.

        Examples
        --------
        >>> Translator("es").country("PE"), Translator("en").country("XX")
        ('Perú (PE)', 'XX')
        """
        name = self.locale.territories.get(code.upper()) if len(code) == 2 else None
        return f"{name} ({code})" if name else code

    def date(self, value: date | datetime, *, style: str = "medium") -> str:
        """Format a date (``short``, ``medium``, ``long``) as the language writes it."""
        return str(format_date(value, format=style, locale=self.locale))

    def datetime(self, value: datetime, *, style: str = "medium") -> str:
        """Format a timezone-aware datetime in UTC, as the language writes it."""
        return str(format_datetime(value, format=style, tzinfo=UTC, locale=self.locale))


def translator(language: str) -> Translator:
    """Return the :class:`Translator` for ``language`` (``en``, ``es`` or ``pt``)."""
    return Translator(language)


def marked(text: str) -> str:
    """Mark ``text`` for the catalogues and return it unchanged (import it as ``_``).

    For messages written in English where there is no reader (a job runner, the detector)
    and translated where they are shown: ``make messages`` extracts every ``_("...")`` and
    ``marked("...")`` (the name to use where ``_`` is a throwaway variable).
    """
    return text


def plural_marked(singular: str, plural_form: str) -> tuple[str, str]:
    """Mark a singular and a plural template for the catalogues; return them as a pair.

    The :func:`marked` of a message with two forms (``make messages`` extracts both:
    keyword ``plural_marked``), shown later with :meth:`Translator.n`.
    """
    return singular, plural_form


_FIELD = re.compile(r"\{(\w+)\}")


def template_pattern(template: str) -> re.Pattern[str]:
    """Compile an anchored regular expression for text made from ``template`` (fields: groups).

    Examples
    --------
    >>> template_pattern("{n} of {total} windows").match("3 of 9 windows").groupdict()
    {'n': '3', 'total': '9'}
    """
    parts = _FIELD.split(template)  # literal, field, literal, field, ..., literal
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts))
    return re.compile(f"{regex}\\Z", re.DOTALL)

#: A number as the English templates write it: optional sign, thousands grouped by commas
#: or not, optional decimals (their count is kept when the number is written again).
_NUMERAL = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\Z")


def rewrite_number(text: str, number: Callable[..., str]) -> str | None:
    """Write again a number stored in English with ``number(value, digits=d)``; None if not one.

    ``d`` is the count of decimals as stored, so "0.87" stays two decimals in any language.

    Examples
    --------
    >>> rewrite_number("12,345.5", lambda v, digits: f"{v:.{digits}f}")
    '12345.5'
    >>> rewrite_number("north", str) is None
    True
    """
    found = _NUMERAL.match(text)
    if found is None:
        return None
    return number(float(text.replace(",", "")), digits=len(found.group(1) or ""))


def render_template(template: str, values: Mapping[str, str], translate: Callable[[str], str],
                    number: Callable[..., str], numbers: frozenset[str]) -> str | None:
    """Fill ``template``'s translation with values read from English text.

    The fields in ``numbers`` are written again with ``number`` (:func:`rewrite_number`), the
    others as they are. None when such a field holds no number (the text was not made from
    this template) or the translation's fields are broken: the caller shows the stored text.

    Examples
    --------
    >>> render_template("{n} km", {"n": "1,500"}, lambda s: s.replace("km", "kilómetros"),
    ...                 lambda v, digits: f"{v:g}", frozenset({"n"}))
    '1500 kilómetros'
    """
    shown = {}
    for key, value in values.items():
        written = rewrite_number(value, number) if key in numbers else value
        if written is None:
            return None
        shown[key] = written
    return fill_template(template, shown, translate)


def fill_template(template: str, values: Mapping[str, object],
                  translate: Callable[[str], str]) -> str | None:
    """Return ``template``'s translation filled with ``values``; None if its fields are broken.

    Examples
    --------
    >>> fill_template("in {areas}", {"areas": "VRAEM"}, lambda s: "en {zonas}") is None
    True
    """
    try:
        return translate(template).format(**values)
    except (KeyError, IndexError, ValueError):  # a translation with broken fields
        return None


__all__ = ["DOMAIN", "FORMAT_LOCALES", "LANGUAGE_NAMES", "LOCALE_DIR", "Message", "Number",
           "Translator", "fill_template", "join_messages", "localize", "marked",
           "message_from_json", "message_of", "message_to_json", "plural", "plural_marked",
           "render_template", "replace_values",
           "rewrite_number", "template_pattern", "translator"]
