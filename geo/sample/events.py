"""Sample events: seizures, interdictions, incidents and flights clustered on real corridors.

Everything is drawn in bulk with numpy from one ``numpy.random.Generator``: a million events take
a few seconds. Python loops run only over the small tables of :mod:`geo.sample.places`
(profiles, countries), never over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.sample.places import (
    ANCHORS,
    COMMODITY_NAMES,
    CONTEXTS,
    CORRIDORS,
    MAX_QUANTITY_KG,
    PROFILES,
    QUANTITY_LOGNORMAL,
    REGIONAL_SOURCES,
    SOURCES,
)
from geo.schema import COMMODITIES, EVENT_TYPES

START = np.datetime64("2019-01-01T00:00:00", "s")
END = np.datetime64("2026-01-01T00:00:00", "s")  # exclusive: the period ends 2025-12-31
KM_PER_DEG = 111.32
CORRIDOR_SHARE = 0.25  # events placed along a corridor line instead of around the anchor
CONTEXT_KEYS = tuple(CONTEXTS)
PROFILE_KEYS = tuple(PROFILES)


@dataclass(frozen=True)
class _Draw:
    """Per-event codes drawn so far (indices into the tables); one array element per event."""

    anchor: np.ndarray
    event_type: np.ndarray
    commodity: np.ndarray
    context: np.ndarray


def _anchor_table() -> pd.DataFrame:
    df = pd.DataFrame([a.__dict__ for a in ANCHORS])
    df["profile_code"] = df["profile"].map({k: i for i, k in enumerate(PROFILE_KEYS)})
    df["lang"] = (df["country"] == "BR").astype(int)  # 0 Spanish, 1 Portuguese
    return df


def _choice(rng: np.random.Generator, weights: dict[str, float], keys: tuple[str, ...],
            size: int) -> np.ndarray:
    """Draw ``size`` indices into ``keys`` with the relative ``weights`` (absent keys: 0)."""
    p = np.array([weights.get(k, 0.0) for k in keys], dtype="float64")
    return rng.choice(len(keys), size=size, p=p / p.sum())


def _draw_codes(rng: np.random.Generator, table: pd.DataFrame, n: int) -> _Draw:
    """Anchor, event type, commodity and context of each event (profile by profile)."""
    w = table["weight"].to_numpy()
    anchor = rng.choice(len(table), size=n, p=w / w.sum())
    prof = table["profile_code"].to_numpy()[anchor]
    et, com, ctx = (np.zeros(n, dtype=np.int64) for _ in range(3))
    for code, key in enumerate(PROFILE_KEYS):
        idx = np.flatnonzero(prof == code)
        profile = PROFILES[key]
        et[idx] = _choice(rng, profile.event_types, EVENT_TYPES, idx.size)
        com[idx] = _choice(rng, profile.commodities, COMMODITIES, idx.size)
        ctx[idx] = _choice(rng, profile.contexts, CONTEXT_KEYS, idx.size)
    _apply_event_rules(et, com, prof)
    return _Draw(anchor, et, com, ctx)


def _apply_event_rules(et: np.ndarray, com: np.ndarray, prof: np.ndarray) -> None:
    """Make commodity consistent with the event type (in place)."""
    code = {k: i for i, k in enumerate(COMMODITIES)}
    flight = et == EVENT_TYPES.index("suspicious_flight")
    com[flight] = code["unknown"]
    lab = et == EVENT_TYPES.index("lab_dismantled")
    no_lab = ~np.isin(com, [code[c] for c in ("cocaine", "cocaine_base", "precursors",
                                              "methamphetamine", "fentanyl", "heroin")])
    synthetic = prof == PROFILE_KEYS.index("synthetic")
    com[lab & no_lab & synthetic] = code["methamphetamine"]
    com[lab & no_lab & ~synthetic] = code["cocaine_base"]


def _draw_locations(rng: np.random.Generator, table: pd.DataFrame,
                    anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (degrees): Gaussian scatter around the anchor, or along one of its corridors."""
    n = anchor.size
    lon0, lat0 = table["lon"].to_numpy()[anchor], table["lat"].to_numpy()[anchor]
    sigma = table["spread_km"].to_numpy()[anchor].astype("float64")
    partner_lon, partner_lat, has_corridor = _corridor_partners(rng, table, anchor)
    along = has_corridor & (rng.random(n) < CORRIDOR_SHARE)
    # Up to 40 % of the way to the partner: the event stays in the anchor's country.
    t = np.where(along, rng.uniform(0.0, 0.4, n), 0.0)
    lon0 = lon0 + t * (partner_lon - lon0)
    lat0 = lat0 + t * (partner_lat - lat0)
    sigma = np.where(along, np.minimum(sigma, 8.0), sigma)
    dx, dy = rng.standard_normal((2, n)) * sigma
    lat = lat0 + dy / KM_PER_DEG
    lon = lon0 + dx / (KM_PER_DEG * np.cos(np.radians(lat0)))
    return np.round(lon, 5), np.round(np.clip(lat, -89.0, 89.0), 5)


def _corridor_partners(rng: np.random.Generator, table: pd.DataFrame,
                       anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each event, a random corridor partner of its anchor (lon, lat, has-one flag)."""
    names = {name: i for i, name in enumerate(table["name"])}
    pairs = [(names[a], names[b]) for a, b in CORRIDORS]
    pairs += [(b, a) for a, b in pairs]  # corridors run both ways
    src = np.array([p[0] for p in pairs])
    dst = np.array([p[1] for p in pairs])
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    first = np.searchsorted(src, anchor, side="left")
    count = np.searchsorted(src, anchor, side="right") - first
    pick = first + np.floor(rng.random(anchor.size) * np.maximum(count, 1)).astype(np.int64)
    partner = dst[np.minimum(pick, dst.size - 1)]
    has = count > 0
    partner = np.where(has, partner, anchor)
    return table["lon"].to_numpy()[partner], table["lat"].to_numpy()[partner], has


def _draw_times(rng: np.random.Generator, trend: np.ndarray) -> np.ndarray:
    """Event times (datetime64[s], UTC) with a per-event linear trend and a yearly cycle.

    Rejection sampling, vectorised: every round redraws only the events still rejected. The
    rate is ``(1 + trend * x) * (1 + 0.25 sin(...)) * covid`` with ``x`` the share of the period
    elapsed, a peak in the dry season (August-September) and a dip in April-June 2020.
    """
    n = trend.size
    span = (END - START).astype(np.int64)
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    ceiling = (1.0 + np.maximum(trend, 0.0)) * 1.25
    while todo.size:
        sec = rng.integers(0, span, size=todo.size)
        x = sec / span
        day_of_year = (sec / 86400.0) % 365.25
        rate = (1.0 + trend[todo] * x) * (1.0 + 0.25 * np.sin(2 * np.pi * (day_of_year - 150)
                                                              / 365.25))
        covid = (sec >= 455 * 86400) & (sec < 546 * 86400)  # 2020-04-01 .. 2020-06-30
        rate = np.where(covid, rate * 0.6, rate)
        ok = rng.random(todo.size) * ceiling[todo] < rate
        out[todo[ok]] = sec[ok] // 60 * 60  # whole minutes
        todo = todo[~ok]
    return START + out.astype("timedelta64[s]")


def _draw_quantities(rng: np.random.Generator, draw: _Draw, scale: np.ndarray) -> np.ndarray:
    """Seized mass in kg (lognormal per commodity, scaled by the anchor profile); NaN if none."""
    n = draw.commodity.size
    qty = np.full(n, np.nan)
    z = rng.standard_normal(n)
    for code, name in enumerate(COMMODITIES):
        params = QUANTITY_LOGNORMAL[name]
        idx = np.flatnonzero(draw.commodity == code)
        if params is None or idx.size == 0:
            continue
        median, sigma = params
        qty[idx] = median * scale[idx] * np.exp(sigma * z[idx])
    no_mass = np.isin(draw.event_type, [EVENT_TYPES.index("incident"),
                                        EVENT_TYPES.index("suspicious_flight")])
    qty[no_mass] = np.nan
    # Soft ceiling: near-linear up to a few tonnes, never above the record size, no spike.
    qty = MAX_QUANTITY_KG * np.tanh(qty / MAX_QUANTITY_KG)
    return np.round(np.maximum(qty, 0.1), 1)


def _draw_sources(rng: np.random.Generator, country: np.ndarray,
                  offshore: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw the reporting source (object array of names) and confidence in [0, 1]."""
    n = country.size
    src = np.empty(n, dtype=object)
    u = rng.random(n)
    for cc, national in SOURCES.items():
        idx = np.flatnonzero(country == cc)
        src[idx] = np.asarray(national, dtype=object)[rng.integers(0, len(national), idx.size)]
    # Offshore and air cases are often reported by JIATF-South; the rest by national agencies,
    # with UNODC and the press filling the gaps.
    jiatf, unodc, press = REGIONAL_SOURCES
    names = np.array(["", jiatf, unodc, press], dtype=object)
    at_sea = np.select([u < 0.50, u < 0.85, u < 0.92], [0, 1, 2], 3)
    on_land = np.select([u < 0.72, u < 0.80], [0, 2], 3)
    regional = np.where(offshore, at_sea, on_land)
    src = np.where(regional == 0, src, names[regional])
    a = np.select([src == "open source press", src == "UNODC", src == "JIATF-South"],
                  [5.0, 20.0, 15.0], 18.0)
    b = np.select([src == "open source press", src == "UNODC"], [4.0, 2.0], 3.0)
    return src, np.round(rng.beta(a, b), 3)


#: Sentence openings per event type, (Spanish, Portuguese). Types with a cargo continue with
#: "<q> kg de <commodity> <context>"; the others stand alone before the place phrase.
_HEADS: dict[str, tuple[str, str]] = {
    "seizure": ("Incautación de ", "Apreensão de "),
    "interdiction": ("Interdicción: ", "Interceptação: "),
    "lab_dismantled": ("Desmantelado laboratorio clandestino con ",
                       "Laboratório clandestino desmantelado com "),
    "incident": ("Enfrentamiento armado con presuntos narcotraficantes",
                 "Confronto armado com suspeitos de narcotráfico"),
    "suspicious_flight": ("Traza aérea sospechosa sin plan de vuelo",
                          "Voo suspeito sem plano de voo"),
}
_AIRSTRIP_INCIDENT = ("Inhabilitación de una pista clandestina",
                      "Inutilização de pista clandestina")


def _format_kg(qty: np.ndarray) -> np.ndarray:
    """Format quantities as text ("312", "4,5": decimal comma), object array; '' for NaN."""
    tenths = np.rint(np.nan_to_num(qty) * 10).astype(np.int64)
    whole = np.rint(np.nan_to_num(qty)).astype(np.int64).astype(str).astype(object)
    small = (tenths // 10).astype(str).astype(object) + "," + (tenths % 10).astype(str)
    text = np.where(qty < 10, small, whole)
    return np.where(np.isnan(qty), "", text)


def _compose_descriptions(draw: _Draw, qty: np.ndarray, lang: np.ndarray,
                          near: np.ndarray) -> np.ndarray:
    """Free-text description of each event from templates (object array of str)."""
    heads = np.array([_HEADS[t] for t in EVENT_TYPES], dtype=object)  # (types, 2)
    head = heads[draw.event_type, lang]
    airstrip_incident = ((draw.event_type == EVENT_TYPES.index("incident"))
                         & (draw.context == CONTEXT_KEYS.index("airstrip")))
    head = np.where(airstrip_incident, np.asarray(_AIRSTRIP_INCIDENT, dtype=object)[lang], head)
    cargo = np.isin(draw.event_type, [EVENT_TYPES.index(t) for t in
                                      ("seizure", "interdiction", "lab_dismantled")])
    names = np.array([COMMODITY_NAMES[c] for c in COMMODITIES], dtype=object)
    contexts = np.array([CONTEXTS[k] for k in CONTEXT_KEYS], dtype=object)
    amount = np.where(np.isnan(qty), "", _format_kg(qty) + " kg de ")
    with_ctx = draw.event_type != EVENT_TYPES.index("lab_dismantled")
    ctx = np.where(with_ctx, " " + contexts[draw.context, lang], "")
    body = np.where(cargo, amount + names[draw.commodity, lang] + ctx, "")
    text: np.ndarray = head + body + " " + near
    return text


def generate_events(*, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Draw ``n`` sample events as an EVENTS layer, sorted by time.

    Parameters
    ----------
    n
        Number of events (>= 0).
    rng
        Source of randomness (``numpy.random.default_rng(seed)``); the same generator state
        gives the same events.

    Returns
    -------
    geopandas.GeoDataFrame
        The EVENTS contract columns (``event_id`` ``EV0000001``..., ``occurred_at`` UTC between
        2019-01-01 and 2025-12-31, categorical ``event_type``/``commodity``/``country``,
        ``quantity_kg`` in kg or NaN, ``source``, ``confidence`` in [0, 1], ``description``)
        and Point geometry in EPSG:4326.

    Notes
    -----
    Memory is about 400 bytes per event (descriptions dominate); one million events take a
    few seconds on two cores.
    """
    table = _anchor_table()
    draw = _draw_codes(rng, table, n)
    lon, lat = _draw_locations(rng, table, draw.anchor)
    when = _draw_times(rng, table["trend"].to_numpy()[draw.anchor])
    scale = np.array([PROFILES[p].quantity_scale for p in table["profile"]])[draw.anchor]
    qty = _draw_quantities(rng, draw, scale)
    country = table["country"].to_numpy()[draw.anchor]
    offshore = np.isin(table["profile"].to_numpy()[draw.anchor], ["maritime", "airstrip"])
    source, confidence = _draw_sources(rng, country, offshore)
    lang = table["lang"].to_numpy()[draw.anchor]
    near = table["near"].to_numpy(dtype=object)[draw.anchor]
    text = _compose_descriptions(draw, qty, lang, near)
    order = np.argsort(when, kind="stable")
    frame = pd.DataFrame({
        "event_id": _ids(n),
        "occurred_at": pd.DatetimeIndex(when[order]).tz_localize("UTC"),
        "event_type": pd.Categorical.from_codes(draw.event_type[order], pd.Index(EVENT_TYPES)),
        "commodity": pd.Categorical.from_codes(draw.commodity[order], pd.Index(COMMODITIES)),
        "quantity_kg": qty[order],
        "country": pd.Categorical(country[order], categories=sorted(SOURCES)),
        "source": pd.Series(source[order], dtype="str"),
        "confidence": confidence[order],
        "description": pd.Series(text[order], dtype="str"),
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon[order], lat[order]),
                            crs=4326)


def _ids(n: int) -> np.ndarray:
    """Make identifiers ``EV0000001``, ``EV0000002``... in time order."""
    width = max(7, len(str(n)))
    ids: np.ndarray = np.char.add("EV", np.char.zfill(np.arange(1, n + 1).astype(str), width))
    return ids
