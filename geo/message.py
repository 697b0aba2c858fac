"""Messages written in English in ``geo/`` and shown later in the reader's language.

:class:`Message` is the English text of a message made from a template, which remembers the
template and its values so that the interface can write it again in the reader's language
(:meth:`Message.localized`, :func:`localize`). This module imports nothing of the project, so
any module (settings, authentication) may use it; :mod:`geo.i18n` re-exports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geo.i18n import Translator


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

    A message with a singular and a plural form is made by :func:`plural`.

    Examples
    --------
    >>> from geo.i18n import Translator
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
    #: The English plural form (``template`` is then the singular) and the name of the value
    #: that chooses between them; None for a message of one form.
    plural_template: str | None
    count_field: str | None

    def __new__(cls, template: str, /, **values: object) -> Message:
        """Write ``template`` in English with ``values`` (see the class notes for the types)."""
        return cls._made(template, None, None, values)

    @classmethod
    def _made(cls, template: str, plural_template: str | None, count: str | None,
              values: dict[str, object]) -> Message:
        form = template if plural_template is None or _count(values, count) == 1 \
            else plural_template
        self = super().__new__(cls, form.format(**{k: _english(v) for k, v in values.items()}))
        self.template, self.values = template, dict(values)
        self.plural_template, self.count_field = plural_template, count
        return self

    def __reduce__(self) -> tuple[object, tuple[str, dict[str, object], str | None,
                                                 str | None]]:
        """Pickle the template(s) and values (the text is written again from them)."""
        return _rebuild_message, (self.template, self.values, self.plural_template,
                                  self.count_field)

    def localized(self, t: Translator) -> str:
        """Write the message in ``t``'s language (English words where the catalogue has none)."""
        values = {k: _local(v, t) for k, v in self.values.items()}
        if self.plural_template is None:
            form, english = t(self.template), self.template
        else:
            n = _count(self.values, self.count_field)
            form = t.n(self.template, self.plural_template, n)
            english = self.template if n == 1 else self.plural_template
        try:
            return form.format(**values)
        except (KeyError, IndexError, ValueError):  # a translation with broken fields
            return english.format(**values)


def plural(singular: str, plural_template: str, count: str, /, **values: object) -> Message:
    """Return a :class:`Message` whose form (singular or plural) follows the value ``count``.

    English takes the singular for 1; :meth:`Message.localized` asks the catalogue for the
    language's form (``ngettext``), so "1 file" and "3 files" need no "file(s)". Both
    templates must be literals (``make messages`` extracts them: keyword ``plural``).

    Examples
    --------
    >>> from geo.i18n import Translator
    >>> plural("{n} row was skipped", "{n} rows were skipped", "n", n=1)
    '1 row was skipped'
    >>> plural("{n} row was skipped", "{n} rows were skipped", "n", n=1200)
    '1,200 rows were skipped'
    """
    if count not in values:
        raise KeyError(f"the count {count!r} is not among the values")
    return Message._made(singular, plural_template, count, dict(values))


def _count(values: dict[str, object], name: str | None) -> int:
    """Return the whole number ``values[name]`` (a plural message's count)."""
    value = values[str(name)]
    if isinstance(value, Number):
        return int(value.value)
    return int(str(value).replace(",", "")) if not isinstance(value, int) else value


def replace_values(message: Message, change: Callable[[str, object], object]) -> Message:
    """Return ``message`` with each value ``v`` named ``k`` replaced by ``change(k, v)``.

    Messages among the values are changed the same way first (a reason inside the line that
    joins a row's reasons); the template, its plural and the count stay.

    Examples
    --------
    >>> m = join_messages("; ", [Message("{column}: empty", column="quantity_kg")])
    >>> replace_values(m, lambda k, v: "Quantity" if k == "column" else v)
    'Quantity: empty'
    """
    values = {k: change(k, replace_values(v, change) if isinstance(v, Message) else v)
              for k, v in message.values.items()}
    return Message._made(message.template, message.plural_template, message.count_field,
                         values)


def join_messages(sep: str, parts: Sequence[str]) -> Message:
    """Return ``sep.join(parts)`` as a :class:`Message` that localizes each part that is one."""
    template = sep.replace("{", "{{").replace("}", "}}").join(
        f"{{p{i}}}" for i in range(len(parts)))
    return Message(template, **{f"p{i}": p for i, p in enumerate(parts)})


def _rebuild_message(template: str, values: dict[str, object],
                     plural_template: str | None = None, count: str | None = None) -> Message:
    return Message._made(template, plural_template, count, values)


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
    data: dict[str, object] = {"template": message.template,
                               "values": {k: _value_to_json(v) for k, v in message.values.items()}}
    if message.plural_template is not None:
        data |= {"plural": message.plural_template, "count": message.count_field}
    return data


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
        many = data.get("plural")  # type: ignore[attr-defined]
        if many is None:
            return Message(template, **values)
        return plural(template, str(many), str(data["count"]), **values)  # type: ignore[index]
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
