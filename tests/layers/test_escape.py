from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers.escape import escape_text

FORBIDDEN = ("<", ">", "`", "${", "\\", '"', "'", "\n", "\r", "\u2028", "\u2029")


@given(st.text())
def test_output_has_no_raw_special_characters(text: str) -> None:
    out = escape_text(text)
    for bad in FORBIDDEN:
        assert bad not in out


@given(st.text())
def test_unescape_restores_the_original(text: str) -> None:
    assert html.unescape(escape_text(text)) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("${alert(1)}", "&#36;{alert(1)}"),
        ("</script><script>", "&lt;/script&gt;&lt;script&gt;"),
        ("C:\\xdrive", "C:&#92;xdrive"),
        ("`x`", "&#96;x&#96;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        ("línea\nnueva", "línea&#10;nueva"),
    ],
    ids=["img-onerror", "template-literal", "script-close", "backslash", "backtick",
         "ampersand", "entity-kept-literal", "newline"],
)
def test_known_payloads(raw: str, expected: str) -> None:
    assert escape_text(raw) == expected


@pytest.mark.parametrize("value", [None, float("nan")], ids=["none", "nan"])
def test_missing_becomes_empty(value: object) -> None:
    assert escape_text(value) == ""


def test_non_text_values_are_stringified() -> None:
    assert escape_text(12.5) == "12.5"
