"""Text from data or from ``geo`` written into Streamlit's Markdown as typed."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def escape_markdown(text: object) -> str:
    r"""Escape Markdown, so a file's own text (names, cells in a reason) shows as typed.

    Examples
    --------
    >>> escape_markdown("**x** [a](javascript:b) $y$")
    '\\*\\*x\\*\\* \\[a\\]\\(javascript\\:b\\) \\$y\\$'
    """
    return _MARKDOWN.sub(r"\\\1", str(text))
