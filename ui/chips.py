"""Image chips of one alert on its page: the strip at every date, true and false colour.

The chips are cut from the scenes of the imagery catalogue the first time an alert is shown
and kept in the alert store (:func:`geo.store.chips.ensure_chips`); later views read them
back. One row per date, oldest ("before") first; true colour and false colour side by side,
on a phone too (each then half the screen wide). The newest true-colour chip also lies under
the strip on the alert's map (:func:`map_chip`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import streamlit as st

from geo.errors import AtalayaError
from geo.i18n import Translator, localize
from geo.imagechips import SceneRef
from geo.store import Alert, Attachment, Store, read_attachment_content
from geo.store.chips import StoredChips, ensure_chips
from ui.labels import chip_names
from ui.text import shown

__all__ = ["chip_bytes", "cut_chips", "map_chip", "render_chips"]

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:])")


def _md(text: str) -> str:
    """Escape text from data for Streamlit's markdown captions (no links, no emphasis)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


@st.cache_data(show_spinner=False, max_entries=256)
def _chip_bytes(sha256: str, attachment_id: int, _store: Store) -> bytes:
    """PNG of a chip; keyed on its SHA-256, so a cached copy is always the right bytes."""
    return read_attachment_content(_store, attachment_id)


def chip_bytes(store: Store, chip: Attachment) -> bytes:
    """PNG of a stored chip (cached by its SHA-256)."""
    return _chip_bytes(chip.sha256, chip.id, store)


def map_chip(stored: StoredChips | None) -> Attachment | None:
    """Pick the chip to lay under the strip on its map: the newest date's true colour.

    That date's other chip without a true colour; None without chips, or when the chip's
    metadata has no ``bounds_lonlat``.
    """
    rows = _by_date(stored.chips) if stored is not None else []
    if not rows:
        return None
    found = rows[-1][2]  # the chips come in date order
    chip = found.get("true_colour") or next(iter(found.values()))
    return chip if len(chip.meta.get("bounds_lonlat") or ()) == 4 else None


def _by_date(chips: Sequence[Attachment]) -> list[tuple[str, str, dict[str, Attachment]]]:
    """(date, scene id, {composite: chip}) in the order of ``chips`` (date order)."""
    rows: dict[tuple[str, str], dict[str, Attachment]] = {}
    for a in chips:
        key = (str(a.meta.get("date", "")), str(a.meta.get("scene_id", "")))
        rows.setdefault(key, {})[str(a.meta.get("composite", ""))] = a
    return [(day, scene, found) for (day, scene), found in rows.items()]


def _when(t: Translator, i: int, n: int) -> str:
    if n < 2:
        return ""
    return t("Before") if i == 0 else t("After") if i == n - 1 else t("Between")


def cut_chips(store: Store, alert: Alert, t: Translator, *, scenes: Sequence[SceneRef],
              user: str) -> StoredChips | AtalayaError:
    """Return the alert's chips by date, cut and kept on first view; or why there are none.

    Parameters
    ----------
    store
        The alert store.
    alert
        The alert shown.
    t
        The page's translator.
    scenes
        The imagery catalogue (:func:`geo.imagechips.scene_refs` of the data folder).
    user
        Recorded as who had the chips cut (the reviewer's name, or a placeholder).
    """
    try:
        with st.spinner(t("Cutting image chips…")):
            return ensure_chips(store, alert, scenes, user=user.strip() or "atalaya")
    except AtalayaError as err:
        return err


def render_chips(store: Store, stored: StoredChips | AtalayaError, t: Translator) -> None:
    """Show the chips :func:`cut_chips` gave (or why there are none)."""
    st.markdown("**" + t("Imagery") + "**")
    if isinstance(stored, AtalayaError):
        st.error(t("The image chips could not be made."))
        st.code(localize(stored, t), language=None, wrap_lines=True)
        return
    if not stored.chips and not stored.skipped:
        st.caption(t("No scene of the imagery catalogue covers this alert."))
    names = chip_names(t)
    missing = {"true_colour": t("No true colour: this scene lacks a red, green or blue band."),
               "false_colour": t("No false colour: this scene has no near-infrared band.")}
    rows = _by_date(stored.chips)
    if len(rows) > 1:
        st.caption(t("Every date has the same colour stretch: a change in brightness is a "
                     "change on the ground."))
    for i, (day, scene, found) in enumerate(rows):
        first = next(iter(found.values()))
        # the scene's own pixel (a chip is resampled to its size: its pixels say less)
        source = float(first.meta.get("source_res_m") or first.meta.get("metres_per_px", 0.0))
        scale = t("{m} m pixels").format(m=t.number(source, digits=1))
        head = " · ".join(p for p in (_when(t, i, len(rows)), day, _md(scene), scale) if p)
        st.caption(head)
        # a date's pair side by side, on a phone too (halved), never wider than the chips
        pair = st.container(width=2 * max(c.width_px or 256 for c in found.values()) + 16)
        cols = pair.columns(2, gap="small", wrap=False)
        for col, composite in zip(cols, ("true_colour", "false_colour"), strict=True):
            chip = found.get(composite)
            if chip is None:
                col.caption(missing[composite])
                continue
            # the date is in the row's head: under a halved chip on a phone it broke in two
            col.image(chip_bytes(store, chip), caption=names[composite], width="stretch",
                      alt=f"{names[composite]}, {day}")
    for scene, reason in stored.skipped:
        st.warning(t("No image chip from scene {scene}.").format(scene=_md(scene)))
        st.caption(shown(reason, t))  # a Message from geo: in the reader's language
