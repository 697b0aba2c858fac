"""Decoding text files of unknown encoding, and keeping spreadsheet formulas inert.

Partners send CSV as UTF-8 (with or without a byte-order mark), UTF-16 with a BOM (Excel's
"Unicode text") or Windows/Latin-1. :func:`decode_text` tries them in that order and says which
one it used, so the report can warn when it fell back to Latin-1.
"""

from __future__ import annotations

import codecs

#: Characters that make a spreadsheet treat a cell as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def decode_text(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)``; never raises (Latin-1 decodes any bytes).

    Windows-1252 (a superset of Latin-1 for printable text, as Excel writes it) is tried
    before plain Latin-1.

    Examples
    --------
    >>> decode_text("año".encode("utf-16"))
    ('año', 'utf-16')
    >>> decode_text("año".encode("latin-1"))
    ('año', 'cp1252')
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            return data.decode("utf-16", errors="replace"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def is_formula(text: str) -> bool:
    """Return True when a spreadsheet would run ``text`` as a formula.

    A plain negative number (``-9.4``) is data, not a formula.

    Examples
    --------
    >>> is_formula('=HYPERLINK("http://x")'), is_formula("-9.4"), is_formula("@SUM(A1)")
    (True, False, True)
    """
    if not text or not text.startswith(FORMULA_START):
        return False
    try:
        float(text.replace(",", "."))
    except ValueError:
        return True
    return False


def neutralise(text: str) -> str:
    """Prefix a formula-like cell with an apostrophe so spreadsheets show it as text.

    Examples
    --------
    >>> neutralise("=1+1"), neutralise("Pucallpa")
    ("'=1+1", 'Pucallpa')
    """
    return "'" + text if is_formula(text) else text
