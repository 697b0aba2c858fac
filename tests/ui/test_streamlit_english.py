"""Streamlit's own English kept out of pages in other languages: multiselects, uploaders."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from geo.i18n import Translator
from ui.text import choice_texts, css_string, uploader_css

ROOT = Path(__file__).resolve().parents[2]


def _streamlit_calls(name: str) -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted([ROOT / "app.py", *(ROOT / "ui").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == name):
                calls.append((f"{path.name}:{node.lineno}", node))
    return calls


def _multiselect_calls() -> list[tuple[str, ast.Call]]:
    return _streamlit_calls("multiselect")


def test_every_file_uploader_goes_through_ui_uploads() -> None:
    calls = _streamlit_calls("file_uploader")
    assert [where.split(":")[0] for where, _ in calls] == ["uploads.py"], calls


def test_every_multiselect_passes_choice_texts() -> None:
    calls = _multiselect_calls()
    assert len(calls) >= 9  # the sidebar filters, the queue, exports, jobs, the audit log
    for where, call in calls:
        spread = [k.value for k in call.keywords if k.arg is None]
        assert any(isinstance(v, ast.Call) and getattr(v.func, "id", "") == "choice_texts"
                   for v in spread), f"{where}: st.multiselect without **choice_texts(...)"
        own = {k.arg for k in call.keywords} & {"placeholder", "select_all"}
        assert not own, f"{where}: sets {own} itself"


@pytest.mark.parametrize("language", ["es", "pt"])
def test_no_streamlit_english_outside_english(language: str) -> None:
    t = Translator(language)
    for empty_means_all in (True, False):
        texts = choice_texts(t, empty_means_all=empty_means_all)
        assert texts["select_all"] is False
        assert texts["placeholder"] not in ("All", "Choose options")


def test_english_keeps_the_bulk_entry_where_an_empty_choice_is_not_all() -> None:
    t = Translator("en")
    assert choice_texts(t, empty_means_all=False) == {"placeholder": "Choose options",
                                                      "select_all": 1000}
    assert choice_texts(t, empty_means_all=True) == {"placeholder": "All", "select_all": False}


@pytest.mark.parametrize(("language", "word"), [("en", "Upload"), ("es", "Subir"),
                                                ("pt", "Carregar")])
def test_the_uploader_button_says_upload_in_the_readers_language(language: str,
                                                                 word: str) -> None:
    css = uploader_css(Translator(language))
    assert f'content: "{word}"' in css
    assert '[data-testid="stFileUploaderDropzoneInstructions"] {display: none}' in css
    assert css.count("</style>") == 1  # nothing a translation holds can close the style


def test_css_strings_cannot_break_out() -> None:
    quoted = css_string('a"b\\c\n</style><script>')
    assert quoted.startswith('"')
    assert quoted.endswith('"')
    assert "<" not in quoted
    assert '"' not in quoted[1:-1].replace('\\"', "")
