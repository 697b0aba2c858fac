"""Text from data or from ``geo`` written into Streamlit's Markdown as typed."""

from __future__ import annotations

import re

from geo.i18n import Translator, localize

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def escape_markdown(text: object) -> str:
    r"""Escape Markdown, so a file's own text (names, cells in a reason) shows as typed.

    Examples
    --------
    >>> escape_markdown("**x** [a](javascript:b) $y$")
    '\\*\\*x\\*\\* \\[a\\]\\(javascript\\:b\\) \\$y\\$'
    """
    return _MARKDOWN.sub(r"\\\1", str(text))


def shown(text: object, t: Translator) -> str:
    r"""Write a message or error from ``geo`` in ``t``'s language, Markdown escaped.

    A :class:`geo.message.Message` (or an exception raised with one) is localized; any other
    text is shown as written. Either way its characters show as typed.

    Examples
    --------
    >>> from geo.i18n import Translator
    >>> from geo.message import Message
    >>> shown(Message("{name} is empty", name="a_b.tif"), Translator("en"))
    'a\\_b\\.tif is empty'
    """
    return escape_markdown(localize(text, t))
