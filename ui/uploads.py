"""File uploaders that speak the page's language (Streamlit's own words are English)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from geo.i18n import Translator
from ui.text import uploader_css


def file_uploader(t: Translator, label: str, *, max_mb: int | None = None, note: str = "",
                  **kwargs: Any) -> Any:
    """``st.file_uploader`` with our word on its button and the size limit in ``t``'s language.

    :func:`ui.text.uploader_css` replaces the button's "Upload" and hides Streamlit's
    "200MB per file • ..." line; while no file is chosen, a caption says the limit
    (``max_mb``, else the server's ``server.maxUploadSize``), followed by ``note``.
    """
    limit = int(max_mb if max_mb is not None else st.get_option("server.maxUploadSize"))
    st.html(uploader_css(t))
    if max_mb is not None:
        kwargs["max_upload_size"] = max_mb
    uploaded = st.file_uploader(label, **kwargs)
    if uploaded is None:
        st.caption(" ".join(filter(None, [t("Up to {mb} MB per file.").format(
            mb=t.number(limit)), note])))
    return uploaded
