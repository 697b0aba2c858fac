"""Text from data or from ``geo`` written into Streamlit's Markdown as typed."""

from __future__ import annotations

import re
from typing import TypedDict

from geo.i18n import Translator, localize

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


#: What GitHub-flavoured Markdown links by itself (``http://``, ``www.``, ``a@b.c``), escapes
#: or not: a word joiner (U+2060, invisible) after the scheme and before an ``@`` breaks it.
_AUTOLINK = re.compile(r"(?i)(https?|ftps?|mailto|xmpp|www)(?=\\[:.])|(?=@)")


def escape_markdown(text: object) -> str:
    r"""Escape Markdown, so a file's own text (names, cells in a reason) shows as typed.

    Bare addresses are not turned into links either: Streamlit's Markdown links
    ``http://…``, ``www.…`` and e-mail addresses even when their punctuation is escaped.

    Examples
    --------
    >>> escape_markdown("**x** [a](javascript:b) $y$")
    '\\*\\*x\\*\\* \\[a\\]\\(javascript\\:b\\) \\$y\\$'
    >>> escape_markdown("http://e.x a@b.c") == "http\u2060\\://e\\.x a\u2060@b\\.c"
    True
    """
    escaped = _MARKDOWN.sub(r"\\\1", str(text))
    return _AUTOLINK.sub(lambda m: (m.group(1) or "") + "\u2060", escaped)


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


class ChoiceTexts(TypedDict):
    """Keyword arguments of ``st.multiselect`` that carry text: see :func:`choice_texts`."""

    placeholder: str
    select_all: bool | int


def choice_texts(t: Translator, *, empty_means_all: bool) -> ChoiceTexts:
    """Return the placeholder and bulk-selection entry of a multiselect, in ``t``'s language.

    Streamlit writes its own English into a multiselect: the placeholder "Choose options",
    and a "Select all" entry on top of the list (1.67, pinned), which a Spanish or Portuguese
    reader saw as is. The placeholder is ours, translated ("All" where an empty choice means
    everything); the bulk entry (Streamlit's default: lists up to 1,000 options) shows in
    English only, and never where an empty choice already means all.

    Examples
    --------
    >>> choice_texts(Translator("es"), empty_means_all=True)
    {'placeholder': 'Todas las opciones', 'select_all': False}
    >>> choice_texts(Translator("en"), empty_means_all=False)
    {'placeholder': 'Choose options', 'select_all': 1000}
    """
    bulk = not empty_means_all and t.language == "en"
    return ChoiceTexts(placeholder=t("All") if empty_means_all else t("Choose options"),
                       select_all=1000 if bulk else False)


def css_string(text: str) -> str:
    r"""Quote ``text`` as a CSS string: quotes, backslashes, line ends and ``<`` escaped.

    Examples
    --------
    >>> css_string('Sub"ir</style>')
    '"Sub\\"ir\\3C /style>"'
    """
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\A ")
               .replace("<", "\\3C "))
    return f'"{escaped}"'


def uploader_css(t: Translator) -> str:
    """Style that writes a file uploader's own words in ``t``'s language.

    Streamlit's uploader writes "Upload" on its button and "200MB per file • CSV, ..." beside
    it, in English whatever the page's language. The button's word is replaced by ours
    (generated content, so its accessible name is ours too) and the line beside it is hidden:
    each page says the size limit and the formats in its own words (a caption, the help).
    """
    button = '[data-testid="stFileUploaderDropzone"] button[data-testid="stBaseButton-secondary"]'
    word = css_string(t("Upload"))
    return ("<style>"
            f'{button} [data-testid="stMarkdownContainer"] {{display: none}}'
            f"{button} > div > span::after {{content: {word}}}"
            '[data-testid="stFileUploaderDropzoneInstructions"] {display: none}'
            "</style>")
