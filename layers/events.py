"""Events as data on a canvas: compact typed arrays in, one toggleable Leaflet layer out.

Per-feature GeoJSON (one Leaflet object per event) does not scale past tens of thousands of
points, so events travel as typed arrays (int32 coordinates quantised to 1e-5 degree, uint8
type codes): inline as base64 in a standalone page (:func:`encode_events`, about 12 bytes per
event), or in the app as one binary file of 9 bytes per event (:func:`pack_events`, published
by ``layers.staticdata``) that the page fetches, so a rerun of the map re-sends only its
address. One ``L.Layer`` subclass draws them on a canvas that redraws on pan, zoom and resize:
antialiased circles for up to ``stampAbove`` points in view, past that discs stamped straight
into the canvas pixels (a million arcs took seconds; stamping takes a fraction of one).
Clicking near a point opens a popup; for up to ``details_limit`` events the popup details
travel with the page as a compact JSON array of already-escaped strings. Past that the popup
shows the type and place, and the click goes back to Python (streamlit-folium's
``last_object_clicked``), which looks the event up and shows its details below the map:
fetched lazily, one event at a time.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.map import Layer
from folium.template import Template

from geo.schema import EVENT_TYPES
from layers.checks import require_layer
from layers.escape import escape_text
from layers.labels import label, number_symbols
from layers.popup import escaped_column

__all__ = [
    "DETAILS_LIMIT",
    "DETAIL_FIELDS",
    "EVENT_COLORS",
    "EventsLayer",
    "build_events_layer",
    "encode_events",
    "inline_payload",
    "legend_entries",
    "pack_events",
]

#: Fill colour of each event type (colour-blind friendly where possible).
EVENT_COLORS: Mapping[str, str] = {
    "seizure": "#d7301f",
    "interdiction": "#fc8d59",
    "incident": "#7b3294",
    "suspicious_flight": "#2c7fb8",
    "lab_dismantled": "#1a9850",
}
_OTHER_COLOR = "#636363"
#: Columns shown in the popup after the event type, in order.
DETAIL_FIELDS: tuple[str, ...] = (
    "occurred_at", "commodity", "quantity_kg", "country", "source", "description",
)
_CATEGORY_FIELDS = frozenset({"commodity"})
#: Up to this many events, popup details (about 150 bytes each) travel with the page.
DETAILS_LIMIT = 5_000
_SCALE = 100_000  # 1e-5 degree, about 1.1 m: finer than any event location we hold


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _categories(types: pd.Series) -> tuple[list[str], np.ndarray]:
    """Known types first (contract order), then any other value seen, and the uint8 codes."""
    found, uniques = pd.factorize(types, use_na_sentinel=True)
    seen = ["unknown" if pd.isna(u) else str(u) for u in uniques]
    missing = {"unknown"} if (found < 0).any() else set()
    extra = sorted((set(seen) | missing) - set(EVENT_TYPES))
    names = [*EVENT_TYPES, *extra]
    if len(names) > 255:
        raise ValueError(f"too many event types ({len(names)}); at most 255 are drawn")
    index = {name: i for i, name in enumerate(names)}
    lookup = np.array([index[v] for v in seen] + [index.get("unknown", 0)], dtype=np.uint8)
    return names, lookup[found]  # found == -1 (missing) takes the last entry: "unknown"


def _details(events: gpd.GeoDataFrame, labels: Mapping[str, str] | None) -> list[list[str]]:
    columns: list[list[str]] = []
    for field in DETAIL_FIELDS:
        if field not in events.columns:
            columns.append([""] * len(events))
        elif field in _CATEGORY_FIELDS:
            columns.append(escaped_column(events[field], labels=labels or {}))
        else:
            columns.append(escaped_column(events[field], symbols=number_symbols(labels)))
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _arrays(events: gpd.GeoDataFrame, labels: Mapping[str, str] | None,
            details_limit: int) -> tuple[dict[str, Any], tuple[np.ndarray, ...]]:
    """Return the payload's small part and the (lat, lon, type code) arrays, by type."""
    require_layer(events, layer="events", columns=("event_type",))
    geoms = events.geometry.to_numpy()
    x = shapely.get_x(np.where(shapely.is_empty(geoms), None, geoms))
    y = shapely.get_y(np.where(shapely.is_empty(geoms), None, geoms))
    rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    names, codes = _categories(events["event_type"].iloc[rows])
    order = np.argsort(codes, kind="stable")
    rows = rows[order]
    lon = np.round(x[rows] * _SCALE).astype("<i4")
    lat = np.round(y[rows] * _SCALE).astype("<i4")
    # Only the few events whose details travel with the page are taken out of the frame.
    kept = events.iloc[rows] if len(rows) <= details_limit else None
    meta = {
        "n": len(rows),
        "scale": _SCALE,
        "categories": [escape_text(label(labels, c)) for c in names],
        "colors": [EVENT_COLORS.get(c, _OTHER_COLOR) for c in names],
        "fields": [escape_text(label(labels, f)) for f in ("event_type", *DETAIL_FIELDS)],
        "details": _details(kept, labels) if kept is not None else None,
        "coordinatesLabel": escape_text(label(labels, "coordinates")),
        "detailsBelow": escape_text(label(labels, "details_below")),
    }
    return meta, (lat, lon, codes[order].astype(np.uint8))


def encode_events(events: gpd.GeoDataFrame, *, labels: Mapping[str, str] | None = None,
                  details_limit: int = DETAILS_LIMIT) -> dict[str, Any]:
    """Pack events into the compact payload the canvas layer draws, arrays inline.

    For a standalone page (an exported HTML map). The app publishes the arrays as a file
    instead (:func:`pack_events`), so that its map script stays small.

    Parameters
    ----------
    events
        Events layer in EPSG:4326 (see ``geo.schema.EVENTS``); rows whose point is missing or
        not finite are skipped.
    labels
        Translated type, commodity and field names; English defaults otherwise.
    details_limit
        Ship popup details (date, commodity, quantity, country, source, description) only when
        there are at most this many events.

    Returns
    -------
    dict
        ``n``; ``lat``/``lon`` (base64 little-endian int32, degrees x 1e5); ``type`` (base64
        uint8 codes into ``categories``/``colors``); ``fields`` (escaped popup headers) and
        ``details`` (escaped rows, or None). Points are sorted by type so the page draws each
        colour in one run.

    Notes
    -----
    About 12 bytes per event without details (8 bytes of coordinates and 1 of type code, times
    4/3 for base64).
    """
    meta, (lat, lon, codes) = _arrays(events, labels, details_limit)
    return {**meta, "lat": _b64(lat), "lon": _b64(lon), "type": _b64(codes)}


def pack_events(events: gpd.GeoDataFrame, *, labels: Mapping[str, str] | None = None,
                details_limit: int = DETAILS_LIMIT) -> tuple[dict[str, Any], bytes]:
    """Pack events as :func:`encode_events` does, but the arrays as one binary blob.

    Returns
    -------
    (dict, bytes)
        The payload without ``lat``/``lon``/``type``, and the blob: ``n`` little-endian int32
        latitudes, then ``n`` longitudes (degrees x ``scale``), then ``n`` uint8 type codes
        (9 bytes per event). Publish the blob (``layers.staticdata.publish``) and set the
        payload's ``url`` to its address; the page fetches it (and inflates it when the
        payload says ``"gzip": true``).
    """
    meta, (lat, lon, codes) = _arrays(events, labels, details_limit)
    return meta, b"".join((lat.tobytes(), lon.tobytes(), codes.tobytes()))


def inline_payload(meta: Mapping[str, Any], blob: bytes) -> dict[str, Any]:
    """Turn :func:`pack_events` output back into the inline payload of :func:`encode_events`.

    For small filtered sets the app ships the arrays inside the map script: the page then
    draws them at once, without the request for a published file.
    """
    n = int(meta["n"])
    if len(blob) != 9 * n:
        raise ValueError(f"a packed blob of {n} events has {9 * n} bytes, not {len(blob)}")
    view = memoryview(blob)
    return {**meta, "lat": base64.b64encode(view[:4 * n]).decode("ascii"),
            "lon": base64.b64encode(view[4 * n:8 * n]).decode("ascii"),
            "type": base64.b64encode(view[8 * n:]).decode("ascii")}


POINTS_LAYER_JS = """\
(function () {
  if (window.AtalayaPointsLayer) { return; }
  function decode(text, Kind) {
    var bin = atob(text), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Kind(bytes.buffer);
  }
  // "#rrggbb" to a little-endian RGBA pixel (ImageData's byte order) at alpha a.
  function pixel(hex, a) {
    var v = parseInt(String(hex).slice(1), 16);
    if (!(v >= 0)) { v = 0x636363; }
    return ((a << 24) | ((v & 0xff) << 16) | (v & 0xff00) | (v >>> 16)) >>> 0;
  }
  // Offsets of a disc of radius r px: [dx, dy, rim (1) or fill (0)], for stamping.
  function disc(r) {
    var out = [], R = Math.ceil(r);
    for (var dy = -R; dy <= R; dy++) {
      for (var dx = -R; dx <= R; dx++) {
        var d = Math.sqrt(dx * dx + dy * dy);
        if (d <= r) { out.push(dx, dy, d > r - 0.9 ? 1 : 0); }
      }
    }
    return out;
  }
  // Two layers under one click (an event beside an aerodrome): each layer's click handler
  // offers its nearest point; the closest offer opens its popup, once the map's click
  // handlers have all run (they share the event object).
  function offer(e, layer, hit) {
    if (!e.atalayaOffers) {
      var offers = e.atalayaOffers = [];
      Promise.resolve().then(function () {
        var best = offers[0];
        for (var j = 1; j < offers.length; j++) {
          if (offers[j].d < best.d) { best = offers[j]; }
        }
        best.layer._open(best.i);
      });
    }
    e.atalayaOffers.push({layer: layer, i: hit.i, d: hit.d});
  }
  window.AtalayaPointsLayer = L.Layer.extend({
    options: {pane: "atalayaEvents", zIndex: 450, pickTolerance: 4, kind: "events",
              // Past this many points in view, stamp pixels instead of drawing arcs.
              stampAbove: 20000,
              // Fill opacity; rim colour and width (px) around each disc.
              fillAlpha: 0.85, rim: "rgba(20,20,20,0.45)", rimAlpha: 0.85, rimWidth: 0.7,
              // A click on a point goes back to Python (streamlit-folium's
              // last_object_clicked); a hover shows the point's tooltip (payload's tipFields).
              reportClick: true, tooltip: false},
    initialize: function (data, options) {
      L.setOptions(this, options);
      this._data = data;
      this.drawnCount = 0;
      this.loaded = false;
      var n = data.n, self = this;
      if (!data.url) {
        this._load(decode(data.lat, Int32Array), decode(data.lon, Int32Array),
                   decode(data.type, Uint8Array));
        if (data.radius) {  // per point, in tenths of a pixel
          var tenths = decode(data.radius, Uint8Array), radii = new Float32Array(n), top = 0;
          for (var i = 0; i < n; i++) { radii[i] = tenths[i] / 10; top = Math.max(top, radii[i]); }
          this._radii = radii; this._maxRadius = top;
        }
        return;
      }
      // The arrays were published as one file (layers.staticdata): lat, lon, type.
      this.ready = fetch(data.url, {credentials: "same-origin"}).then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        if (!data.gzip) { return r.arrayBuffer(); }
        var inflated = r.body.pipeThrough(new DecompressionStream("gzip"));
        return new Response(inflated).arrayBuffer();
      }).then(function (buf) {
        if (buf.byteLength !== 9 * n) { throw new Error("size " + buf.byteLength); }
        self._load(new Int32Array(buf, 0, n), new Int32Array(buf, 4 * n, n),
                   new Uint8Array(buf, 8 * n, n));
        if (self._map) { self._redraw(); }
      }).catch(function (err) {
        self.error = String(err);
        if (self._canvas) { self._canvas.setAttribute("data-error", self.error); }
        if (window.console) { console.warn("Atalaya " + self.options.kind + ":", err); }
      });
    },
    _load: function (lat, lon, codes) {
      var n = this._data.n, k = 1 / this._data.scale;
      this._codes = codes;
      this._lat = new Float64Array(n); this._lon = new Float64Array(n);
      this._mx = new Float64Array(n); this._my = new Float64Array(n);
      for (var i = 0; i < n; i++) {
        var la = lat[i] * k, lo = lon[i] * k;
        var s = Math.sin(Math.max(-85.0511, Math.min(85.0511, la)) * Math.PI / 180);
        this._lat[i] = la; this._lon[i] = lo;
        // Web Mercator pixel position at zoom 0 (Leaflet's EPSG3857 with 256 px tiles).
        this._mx[i] = 256 * (0.5 + lo / 360);
        this._my[i] = 256 * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
      }
      this.loaded = true;
    },
    onAdd: function (map) {
      if (!map.getPane(this.options.pane)) {
        // Events: above the shared vector canvas (overlayPane, 400: routes, candidates)
        // and the aerodromes (380), below markers and popups (600, 700). The events are the
        // layer an analyst filters; candidates' large markers at country zoom, and Brazil's
        // thousands of aerodromes, hid the suspicious flights near them. Aerodromes and
        // others: above tiles (200), in panes of their own.
        var pane = map.createPane(this.options.pane);
        pane.style.zIndex = this.options.zIndex;
        pane.style.pointerEvents = "none";
      }
      var c = this._canvas = L.DomUtil.create(
        "canvas", "atalaya-canvas-layer leaflet-zoom-animated");
      c.setAttribute("data-atalaya-layer", this.options.kind);
      c.setAttribute("data-drawn", "0");
      if (this.error) { c.setAttribute("data-error", this.error); }
      c.style.pointerEvents = "none";
      this.getPane().appendChild(c);
      map.on("moveend zoomend resize viewreset", this._schedule, this);
      map.on("zoomanim", this._animateZoom, this);
      map.on("click", this._onClick, this);
      if (this.options.tooltip) {
        map.on("mousemove", this._onMove, this);
        map.on("mouseout", this._onOut, this);
      }
      if (this.loaded) { this._redraw(); }
    },
    onRemove: function (map) {
      map.off("moveend zoomend resize viewreset", this._schedule, this);
      if (this._frame) { L.Util.cancelAnimFrame(this._frame); this._frame = null; }
      map.off("zoomanim", this._animateZoom, this);
      map.off("click", this._onClick, this);
      map.off("mousemove", this._onMove, this);
      map.off("mouseout", this._onOut, this);
      if (this._moveFrame) { L.Util.cancelAnimFrame(this._moveFrame); this._moveFrame = null; }
      this._hover(-1);
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
      this.drawnCount = 0;
    },
    // Events grow with the zoom; points with radii of their own keep them.
    _radius: function (zoom) {
      return this._radii ? this._maxRadius : Math.max(3, Math.min(8, 0.8 * zoom + 0.5));
    },
    _animateZoom: function (e) {
      if (!this._nw) { return; }
      var map = this._map, scale = map.getZoomScale(e.zoom);
      var offset = map._latLngToNewLayerPoint(this._nw, e.zoom, e.center);
      L.DomUtil.setTransform(this._canvas, offset, scale);
    },
    // A zoom fires zoomend, moveend and often viewreset: draw once, at the next frame.
    _schedule: function () {
      if (!this._frame) {
        this._frame = L.Util.requestAnimFrame(function () {
          this._frame = null; this._redraw();
        }, this);
      }
    },
    _redraw: function () {
      var map = this._map, c = this._canvas;
      if (!map || !c || !this.loaded) { return; }
      var size = map.getSize(), dpr = window.devicePixelRatio || 1;
      this._nw = map.containerPointToLatLng([0, 0]);
      L.DomUtil.setPosition(c, map.containerPointToLayerPoint([0, 0]));
      c.width = Math.round(size.x * dpr); c.height = Math.round(size.y * dpr);
      c.style.width = size.x + "px"; c.style.height = size.y + "px";
      var ctx = c.getContext("2d");
      var zoom = map.getZoom(), r = this._radius(zoom), k = Math.pow(2, zoom);
      var origin = map.getPixelBounds().min, w = size.x + r, h = size.y + r;
      // The points in view, in type order (the arrays are sorted by type).
      var mx = this._mx, my = this._my, n = mx.length;
      var vis = this._vis && this._vis.length >= n ? this._vis : new Uint32Array(n);
      this._vis = vis;
      var m = 0;
      for (var i = 0; i < n; i++) {
        var x = mx[i] * k - origin.x, y = my[i] * k - origin.y;
        if (x < -r || y < -r || x > w || y > h) { continue; }
        vis[m++] = i;
      }
      if (m > this.options.stampAbove) {
        this._stamp(ctx, vis, m, k, origin, r, dpr, c.width, c.height);
      } else {
        this._arcs(ctx, vis, m, k, origin, r, dpr, size);
      }
      this.drawnCount = m;
      c.setAttribute("data-drawn", String(m));
      this.fire("atalaya:drawn", {count: m});
    },
    // Few points: antialiased circles, one path per colour run.
    _arcs: function (ctx, vis, m, k, origin, r, dpr, size) {
      var colors = this._data.colors, codes = this._codes, mx = this._mx, my = this._my;
      var radii = this._radii, o = this.options, cur = -1, batch = 0;
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, size.x, size.y);
      // A thin rim, stroked before the fill, keeps dense clusters in their colour.
      ctx.strokeStyle = o.rim; ctx.lineWidth = o.rimWidth;
      function flush() {
        ctx.globalAlpha = o.rimAlpha; ctx.stroke();
        ctx.globalAlpha = o.fillAlpha; ctx.fill();
      }
      for (var j = 0; j < m; j++) {
        var i = vis[j], x = mx[i] * k - origin.x, y = my[i] * k - origin.y;
        var ri = radii ? radii[i] : r;
        if (codes[i] !== cur) {
          if (cur >= 0) { flush(); }
          cur = codes[i]; ctx.fillStyle = colors[cur] || "#636363";
          ctx.beginPath(); batch = 0;
        }
        ctx.moveTo(x + ri, y); ctx.arc(x, y, ri, 0, 2 * Math.PI);
        // Filling one path of many thousand circles costs far more than linear
        // time; flush it every 512 circles.
        if (++batch === 512) { flush(); ctx.beginPath(); batch = 0; }
      }
      if (cur >= 0) { flush(); }
    },
    // Many points: stamp discs straight into the pixels (a million arcs take seconds).
    // A disc whose centre pixel already holds a disc of its colour is skipped: at low
    // zoom most points share their pixel with others of their type.
    _stamp: function (ctx, vis, m, k, origin, r, dpr, W, H) {
      var colors = this._data.colors, codes = this._codes, mx = this._mx, my = this._my;
      var img = ctx.createImageData(W, H), px = new Uint32Array(img.data.buffer);
      var seen = new Uint8Array(W * H), offs = disc(r * dpr), no = offs.length;
      var R = Math.ceil(r * dpr), rim = pixel("#141414", 140), fills = [];
      var alpha = Math.round(255 * this.options.fillAlpha);
      for (var q = 0; q < colors.length; q++) { fills.push(pixel(colors[q], alpha)); }
      for (var j = 0; j < m; j++) {
        var i = vis[j], cx = Math.round((mx[i] * k - origin.x) * dpr);
        var cy = Math.round((my[i] * k - origin.y) * dpr), code = codes[i] + 1;
        var inside = cx >= 0 && cy >= 0 && cx < W && cy < H;
        if (inside && seen[cy * W + cx] === code) { continue; }
        if (inside) { seen[cy * W + cx] = code; }
        var fill = fills[code - 1] || fills[0];
        if (cx >= R && cy >= R && cx < W - R && cy < H - R) {
          var base = cy * W + cx;
          for (var o = 0; o < no; o += 3) {
            px[base + offs[o + 1] * W + offs[o]] = offs[o + 2] ? rim : fill;
          }
        } else {
          for (var p = 0; p < no; p += 3) {
            var xx = cx + offs[p], yy = cy + offs[p + 1];
            if (xx >= 0 && yy >= 0 && xx < W && yy < H) {
              px[yy * W + xx] = offs[p + 2] ? rim : fill;
            }
          }
        }
      }
      ctx.putImageData(img, 0, 0);
    },
    // The point nearest to a container point, within the pick tolerance: {i, d} (d in px²).
    _nearest: function (point) {
      if (!this.loaded || !this._map) { return null; }
      var map = this._map, zoom = map.getZoom(), k = Math.pow(2, zoom);
      var origin = map.getPixelBounds().min;
      var r = this._radius(zoom) + this.options.pickTolerance;
      var best = -1, bestD = r * r, mx = this._mx, my = this._my;
      for (var i = 0, n = mx.length; i < n; i++) {
        var dx = mx[i] * k - origin.x - point.x;
        if (dx > r || dx < -r) { continue; }
        var dy = my[i] * k - origin.y - point.y, d = dx * dx + dy * dy;
        if (d <= bestD) { bestD = d; best = i; }
      }
      return best < 0 ? null : {i: best, d: bestD};
    },
    _pick: function (point) {
      var hit = this._nearest(point);
      return hit ? hit.i : -1;
    },
    _onClick: function (e) {
      var hit = this._nearest(e.containerPoint);
      if (hit) { offer(e, this, hit); }
    },
    _open: function (i) {
      if (!this._map) { return; }
      var where = L.latLng(this._lat[i], this._lon[i]);
      L.popup({maxWidth: 320}).setLatLng(where)
        .setContent(this.popupHtml(i)).openOn(this._map);
      this.fire("atalaya:pick", {index: i});
      // streamlit-folium reports a layer's "click" (last_object_clicked) to Python: the
      // event's own coordinates, from which the app shows its details below the map.
      if (this.options.reportClick) { this.fire("click", {latlng: where, atalayaIndex: i}); }
    },
    // Hover: the nearest point's tooltip, looked up once per animation frame.
    _onMove: function (e) {
      this._moved = e.containerPoint;
      if (this._moveFrame) { return; }
      this._moveFrame = L.Util.requestAnimFrame(function () {
        this._moveFrame = null;
        var hit = this._map ? this._nearest(this._moved) : null;
        this._hover(hit ? hit.i : -1);
      }, this);
    },
    _onOut: function () { this._hover(-1); },
    _hover: function (i) {
      if (i === this._hovered) { return; }
      this._hovered = i;
      var map = this._map;
      if (this._tip) { this._tip.remove(); this._tip = null; }
      if (map) { map.getContainer().style.cursor = i < 0 ? "" : "pointer"; }
      if (i < 0 || !map) { return; }
      this._tip = L.tooltip({direction: "top", offset: [0, -4], className: "atalaya-tip"})
        .setLatLng([this._lat[i], this._lon[i]]).setContent(this.tipHtml(i));
      map.openTooltip(this._tip);
    },
    // The payload's tipFields (indexes into each details row), joined by a space.
    tipHtml: function (i) {
      var d = this._data, row = d.details ? d.details[i] : [];
      return (d.tipFields || []).map(function (j) { return row[j]; })
        .filter(function (v) { return v; }).join(" ");
    },
    // Every string in the payload was escaped on the server (layers.escape).
    popupHtml: function (i) {
      // categoryRow false: the fields name the details alone (no type row first).
      var d = this._data, f = d.fields, rows = [], first = d.categoryRow === false ? 0 : 1;
      if (first) { rows.push([f[0], d.categories[this._codes[i]]]); }
      if (d.details) {
        var row = d.details[i];
        for (var j = 0; j < row.length; j++) {
          if (row[j] !== "") { rows.push([f[j + first], row[j]]); }
        }
      } else {
        rows.push([d.coordinatesLabel,
                   this._lat[i].toFixed(5) + ", " + this._lon[i].toFixed(5)]);
        rows.push(["", "<i>" + d.detailsBelow + "</i>"]);
      }
      var th = "<th style='text-align:left;padding:1px 8px 1px 0;color:#555'>";
      var td = "<td style='padding:1px 0;overflow-wrap:anywhere'>";
      var body = rows.map(function (r) {
        return "<tr>" + th + r[0] + "</th>" + td + r[1] + "</td></tr>";
      }).join("");
      return "<table class='atalaya-popup' style='border-collapse:collapse;"
        + "font-size:12px'>" + body + "</table>";
    }
  });
})();
"""


class EventsLayer(Layer):
    """A Leaflet canvas layer drawing encoded events; appears in the LayerControl.

    The page-side object (``AtalayaPointsLayer``) exposes ``drawnCount`` (points drawn in the
    last redraw, within the view) and its canvas carries ``data-atalaya-layer="events"`` and
    ``data-drawn``, so browser tests can count what is on screen.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}\n" + POINTS_LAYER_JS + """
        var {{ this.get_name() }} = new window.AtalayaPointsLayer(
          {{ this.payload|tojson }}, {kind: {{ this.kind|tojson }}});
        {% endmacro %}
        """
    )

    def __init__(self, payload: dict[str, Any], *, name: str, show: bool = True,
                 kind: str = "events") -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AtalayaEvents"
        self.payload = payload
        self.kind = kind


def build_events_layer(events: gpd.GeoDataFrame, *, name: str,
                       labels: Mapping[str, str] | None = None, show: bool = True,
                       details_limit: int = DETAILS_LIMIT) -> EventsLayer:
    """Build the events canvas layer, ready to add to a map with a LayerControl.

    Parameters
    ----------
    events
        Events layer in EPSG:4326 (``geo.schema.EVENTS``).
    name
        Name shown in the layer control (escaped here).
    labels
        Translated type, commodity and field names; English defaults otherwise.
    show
        Whether the layer is on when the map opens.
    details_limit
        Ship popup details only up to this many events (see :func:`encode_events`).

    Returns
    -------
    EventsLayer
        A ``folium.map.Layer``; add it to the map before the ``LayerControl``.

    Examples
    --------
    >>> import folium
    >>> pts = gpd.GeoDataFrame({"event_type": ["seizure"]},
    ...                        geometry=gpd.points_from_xy([-74.1], [4.6]), crs=4326)
    >>> layer = build_events_layer(pts, name="Events").add_to(folium.Map(tiles=None))
    >>> layer.payload["n"], layer.layer_name
    (1, 'Events')
    """
    payload = encode_events(events, labels=labels, details_limit=details_limit)
    return EventsLayer(payload, name=escape_text(name), show=show)


def legend_entries(labels: Mapping[str, str] | None = None,
                   types: Sequence[str] = EVENT_TYPES) -> list[tuple[str, str]]:
    """Return (translated type name, colour) pairs for the legend."""
    return [(label(labels, t), EVENT_COLORS.get(t, _OTHER_COLOR)) for t in types]
