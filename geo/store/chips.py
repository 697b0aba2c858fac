"""Image chips of an alert kept as store attachments: cut once, then read back.

:func:`ensure_chips` cuts the chips of an alert from every scene of the catalogue that covers
it (:func:`geo.imagechips.cut_chips`, one stretch shared by the dates) and keeps each PNG with
:func:`~geo.store.alerts.add_attachment` (kind :data:`CHIP_KIND`, media type ``image/png``,
``taken_at`` the acquisition time). A second call finds them and adds nothing. Field packages
and pages read them with :func:`read_chips`, in date order.

Each chip's metadata (``Attachment.meta``) holds ``scene_id``, ``date`` (``YYYY-MM-DD``),
``acquired_at``, ``composite`` (``true_colour`` or ``false_colour``), ``bands``, ``crs`` and
``bounds`` (metres in the scene's CRS), ``bounds_lonlat`` and ``corners_lonlat`` (EPSG:4326;
corners lower-left, lower-right, upper-right, upper-left, as KML's ``gx:LatLonQuad``),
``size_px``, ``metres_per_px``, ``source_res_m``, ``stretch``, ``valid_share``, ``notes`` and
``set``: the chips cut together, from the same scenes with the same parameters.

Notes
-----
Two sessions opening the same new alert at the same moment may both cut its chips; reading
keeps the first copy of each (set, scene, composite), so both see the same chips.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from geo.errors import SchemaError
from geo.imagechips import (
    CHIP_GENERATOR,
    COMPOSITES,
    ChipParams,
    SceneRef,
    cut_chips,
    scenes_covering,
)
from geo.store.alerts import Alert, Attachment, add_attachment, read_attachments
from geo.store.engine import Store

CHIP_KIND = "image_chip"
_COMPOSITE_ORDER = {name: i for i, name in enumerate(COMPOSITES)}


@dataclass(frozen=True)
class StoredChips:
    """An alert's chips (attachments, without bytes) in date order, true colour first.

    ``skipped`` lists (scene id, reason) for covering scenes that gave no chip this time
    (unreadable file, no data around the strip); they are tried again on the next call.
    """

    chips: tuple[Attachment, ...]
    skipped: tuple[tuple[str, str], ...] = ()


def chip_set_key(scenes: Sequence[SceneRef], params: ChipParams) -> str:
    """Identify a set of chips: generator, parameters and the covering scenes' ids.

    Examples
    --------
    >>> len(chip_set_key([], ChipParams()))
    16
    """
    text = "|".join([CHIP_GENERATOR, repr(sorted(asdict(params).items())),
                     *sorted(s.scene_id for s in scenes)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _order(a: Attachment) -> tuple[str, str, int, int]:
    return (str(a.meta.get("acquired_at", "")), str(a.meta.get("scene_id", "")),
            _COMPOSITE_ORDER.get(str(a.meta.get("composite")), 99), a.id)


def read_chips(store: Store, alert_id: int, *, set_key: str | None = None) -> list[Attachment]:
    """Chips kept with an alert, by date, scene and composite (true colour first).

    Parameters
    ----------
    set_key
        Only the chips of this set (:func:`chip_set_key`); default: the most recent set.

    Returns
    -------
    list of Attachment
        One per (scene, composite): the first kept when a race stored two.
    """
    chips = [a for a in read_attachments(store, alert_id) if a.kind == CHIP_KIND]
    if set_key is None and chips:
        set_key = str(max(chips, key=lambda a: a.id).meta.get("set"))
    first: dict[tuple[str, str], Attachment] = {}
    for a in sorted(chips, key=lambda a: a.id):
        if a.meta.get("set") == set_key:
            first.setdefault((str(a.meta.get("scene_id")), str(a.meta.get("composite"))), a)
    return sorted(first.values(), key=_order)


def ensure_chips(store: Store, alert: Alert, scenes: Sequence[SceneRef], *, user: str,
                 params: ChipParams | None = None) -> StoredChips:
    """Cut and keep the chips of ``alert`` from the scenes covering it, once; return them.

    Parameters
    ----------
    store
        The alert store.
    alert
        The alert; its geometry (EPSG:4326) is the strip.
    scenes
        The scene catalogue (e.g. :func:`geo.imagechips.scene_refs`); scenes whose footprint
        misses the strip are ignored.
    user
        Recorded as the author of the attachments in the audit log.
    params
        Chip sizes, margins, stretch (default :class:`~geo.imagechips.ChipParams`).

    Returns
    -------
    StoredChips
        The chips in date order, and the covering scenes that gave none this time.

    Notes
    -----
    Idempotent: chips already kept for the same set (same covering scenes and parameters) are
    not cut again. Scenes that failed are retried; chips they then give are added to the set.
    """
    if not user.strip():
        raise SchemaError("ensure_chips needs the name of who asks for the chips (user)")
    params = params or ChipParams()
    covering = scenes_covering(scenes, alert.geometry)
    key = chip_set_key(covering, params)
    have = read_chips(store, alert.id, set_key=key)
    done = {str(a.meta.get("scene_id")) for a in have}
    if all(s.scene_id in done for s in covering):
        return StoredChips(tuple(have))
    result = cut_chips(alert.geometry, covering, params=params)
    kept = {(str(a.meta.get("scene_id")), str(a.meta.get("composite"))) for a in have}
    for chip in result.chips:
        if (chip.scene_id, chip.composite) in kept:
            continue
        add_attachment(store, alert.id, actor=user, kind=CHIP_KIND, media_type="image/png",
                       content=chip.png, label=f"{chip.scene_id} {chip.composite}",
                       taken_at=chip.acquired_at, width_px=chip.size_px,
                       height_px=chip.size_px, meta={**chip.meta(), "set": key})
    return StoredChips(tuple(read_chips(store, alert.id, set_key=key)), result.skipped)
