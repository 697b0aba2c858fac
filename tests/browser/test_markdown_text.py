"""People's text written through Markdown shows as typed, with no link, in a real browser.

The app writes names, file cells and reasons inside Markdown messages (``st.success``,
``st.caption``...) after :func:`ui.text.escape_markdown`. Streamlit's Markdown also links bare
addresses (``http://...``, ``www...``, ``a@b.c``) whatever their escapes: a saved area named
with an address showed it as a link to follow. A page of its own renders each payload the
ways the app does, and the test reads back what Chromium shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browser.conftest import App, start_app, stop_app

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<img src=x onerror=alert(1)> **bold** [link](http://evil.example)",
    "see http://evil.example/x?a=1 and https://evil.example",
    "www.evil.example and WWW.EVIL.EXAMPLE",
    "mail ops@evil.example or mailto:ops@evil.example",
    "[x](javascript:alert(1)) <https://evil.example> ftp://evil.example",
    "C:\\x_drive\\new `tick` $x^2$ 50% ~strike~ #1 | a | b |",
    "Área Tumaco–Esmeraldas (río Mira) 2024",
]

PAGE = '''
import json
from pathlib import Path

import streamlit as st
from ui.text import escape_markdown

payloads = json.loads(Path(__file__).with_name("payloads.json").read_text(encoding="utf-8"))
for i, text in enumerate(payloads):
    with st.container(key=f"case-{i}"):
        st.markdown(escape_markdown(text))
        st.success("Area saved: " + escape_markdown(text))
        st.caption(escape_markdown(text))
'''


@pytest.fixture(scope="module")
def text_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    folder = tmp_path_factory.mktemp("markdown")
    script = folder / "page.py"
    script.write_text(PAGE, encoding="utf-8")
    (folder / "payloads.json").write_text(json.dumps(PAYLOADS), encoding="utf-8")
    running = start_app(folder, folder / "streamlit.log", accounts=False, script=str(script))
    yield running
    stop_app(running)


def test_escaped_text_shows_as_typed_without_links(text_app, page):
    pg, rec = page
    pg.goto(text_app.url)
    last = pg.locator(f".st-key-case-{len(PAYLOADS) - 1} [data-testid=stCaptionContainer]")
    last.wait_for(timeout=60_000)
    for i, text in enumerate(PAYLOADS):
        case = pg.locator(f".st-key-case-{i}")
        assert case.locator("a, img, strong, em, code, del, s, h1, table, script").count() == 0, (
            text, case.inner_html())
        shown = [t.replace("\u2060", "") for t in case.locator(
            "[data-testid=stMarkdownContainer], [data-testid=stCaptionContainer]"
        ).all_inner_texts()]
        assert shown == [text, "Area saved: " + text, text], (text, shown)
    assert pg.evaluate("() => window.__pwned") is None
    assert not rec.dialogs
    assert rec.foreign() == []
