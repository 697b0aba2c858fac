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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from geo.errors import ConfigError
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

    def number_symbols(self) -> dict[str, str]:
        """Return the language's decimal and grouping signs: ``{"decimal": ",", "group": "."}``.

        For formatters outside Python (the charts' d3-format locale).
        """
        symbols = self.locale.number_symbols["latn"]
        return {"decimal": str(symbols["decimal"]), "group": str(symbols["group"])}

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


@dataclass(frozen=True)
class Number:
    """A number inside a :class:`Message`, written with ``digits`` decimals (grouped).

    English writes it ``1,234.5``; :meth:`Message.localized` with the reader's separators.
    """

    value: float
    digits: int = 0

    def english(self) -> str:
        """Write the number as English does (``1,234.5``)."""
        return f"{self.value:,.{self.digits}f}"


class Message(str):
    """English text made from a template, that remembers the template and its values.

    It *is* the English text (a ``str``: stored, logged, compared, raised and written to
    files as before) and :meth:`localized` writes it again in the reader's language. Use it
    in ``geo/`` where a message is written without a reader (a refused file, a refused row)
    and shown later by the interface. The template must be a literal, so ``make messages``
    extracts it (keyword ``Message``), and names its fields without format specifications.
    Values may be:

    - ``str``: shown as given (a file name, a cell's text);
    - ``int`` or :class:`Number`: written with the reader's separators;
    - another :class:`Message`: localized in turn (a word such as "latitude", a cause).

    Examples
    --------
    >>> m = Message("{name} has {n} rows", name="a.csv", n=12345)
    >>> m
    'a.csv has 12,345 rows'
    >>> m.localized(Translator("es"))  # no such template in the catalogue: English words
    'a.csv has 12.345 rows'
    >>> join_messages("; ", [m, "plain"])
    'a.csv has 12,345 rows; plain'
    """

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, /, **values: object) -> Message:
        """Write ``template`` in English with ``values`` (see the class notes for the types)."""
        self = super().__new__(cls, template.format(**{k: _english(v)
                                                       for k, v in values.items()}))
        self.template, self.values = template, dict(values)
        return self

    def __reduce__(self) -> tuple[object, tuple[str, dict[str, object]]]:
        """Pickle the template and values (the text is written again from them)."""
        return _rebuild_message, (self.template, self.values)

    def localized(self, t: Translator) -> str:
        """Write the message in ``t``'s language (English words where the catalogue has none)."""
        values = {k: _local(v, t) for k, v in self.values.items()}
        try:
            return t(self.template).format(**values)
        except (KeyError, IndexError, ValueError):  # a translation with broken fields
            return self.template.format(**values)


def join_messages(sep: str, parts: Sequence[str]) -> Message:
    """Return ``sep.join(parts)`` as a :class:`Message` that localizes each part that is one."""
    template = sep.replace("{", "{{").replace("}", "}}").join(
        f"{{p{i}}}" for i in range(len(parts)))
    return Message(template, **{f"p{i}": p for i, p in enumerate(parts)})


def _rebuild_message(template: str, values: dict[str, object]) -> Message:
    return Message(template, **values)


def _english(value: object) -> str:
    if isinstance(value, Number):
        return value.english()
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _local(value: object, t: Translator) -> str:
    if isinstance(value, Message):
        return value.localized(t)
    if isinstance(value, Number):
        return t.number(value.value, digits=value.digits)
    if isinstance(value, int) and not isinstance(value, bool):
        return t.number(value)
    return str(value)


def localize(text: object, t: Translator) -> str:
    """Write ``text`` in ``t``'s language when it is a :class:`Message`, else as written.

    An exception whose first argument is a :class:`Message` is localized too (its ``str``
    is the English text).
    """
    if isinstance(text, BaseException):
        text = message_of(text)
    if isinstance(text, Message):
        return text.localized(t)
    return str(text)


def message_of(exc: BaseException) -> str:
    """Return an exception's message: its :class:`Message` when it has one, else its text.

    For a cause written inside another message, so that it is localized with it.
    """
    if len(exc.args) == 1 and isinstance(exc.args[0], Message):
        return exc.args[0]
    return str(exc)


def message_to_json(message: Message) -> dict[str, object]:
    """Return ``message`` as JSON-ready data, for storage beside its English text.

    Examples
    --------
    >>> data = message_to_json(Message("{name}: {n} rows", name="a.csv", n=3))
    >>> data
    {'template': '{name}: {n} rows', 'values': {'name': 'a.csv', 'n': {'int': 3}}}
    >>> message_from_json(data)
    'a.csv: 3 rows'
    """
    return {"template": message.template,
            "values": {k: _value_to_json(v) for k, v in message.values.items()}}


def _value_to_json(value: object) -> object:
    if isinstance(value, Message):
        return {"message": message_to_json(value)}
    if isinstance(value, Number):
        return {"number": value.value, "digits": value.digits}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"int": value}
    return str(value)


def message_from_json(data: object) -> Message:
    """Rebuild a :class:`Message` stored by :func:`message_to_json`.

    Raises
    ------
    ValueError
        When ``data`` is not such a message (a damaged or foreign record).
    """
    try:
        template = data["template"]  # type: ignore[index]
        values = {str(k): _value_from_json(v)
                  for k, v in data["values"].items()}  # type: ignore[index]
        if not isinstance(template, str):
            raise TypeError("template")
        return Message(template, **values)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise ValueError(f"not a stored message: {exc}") from None


def _value_from_json(value: object) -> object:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "message" in value:
        return message_from_json(value["message"])
    if isinstance(value, dict) and "number" in value:
        return Number(float(value["number"]), int(value.get("digits", 0)))
    if isinstance(value, dict) and "int" in value:
        return int(value["int"])
    raise ValueError(f"unknown value {value!r}")
