"""Help texts of the command lines, from their module docstrings (reStructuredText).

The docstrings are written for the documentation; a terminal reads them plain.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL_MARK = re.compile(r"^::\n\n", flags=re.MULTILINE)


def plain_help(doc: str | None) -> str:
    r"""Return ``doc`` without reST markup: roles give their target, literals their text.

    Examples
    --------
    >>> plain_help("Run ``python -m geo.detect`` (see :mod:`geo.reproject`).")
    'Run python -m geo.detect (see geo.reproject).'
    >>> plain_help("Usage:\n\n::\n\n    python -m geo.users list\n")
    'Usage:\n\n    python -m geo.users list\n'
    """
    text = _ROLE.sub(r"\1", doc or "")
    return _LITERAL_MARK.sub("", text.replace("``", ""))
