"""Event clusters computed on the server, drawn as counted discs; a click zooms in.

The browser never clusters markers (``MarkerCluster`` builds one Leaflet marker per event and
stalls past tens of thousands): ``geo.aggregate.cluster_points`` groups the events for the
current zoom and view, and this layer draws one disc per cluster, sized by its count and
coloured by its most frequent event type. Clicking a cluster zooms in two levels there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from folium.map import Layer
from folium.template import Template

from layers.escape import escape_text
from layers.events import EVENT_COLORS
from layers.labels import label

__all__ = ["ClustersLayer", "build_clusters_layer"]

_OTHER = "#636363"


def cluster_payload(clusters: pd.DataFrame, *, labels: Mapping[str, str] | None = None,
                    number: Callable[[int], str] = str) -> dict[str, Any]:
    """Arrays the page draws: positions, sizes (px), colours, count text and an escaped tip."""
    counts = clusters["count"].to_numpy(dtype=np.int64)
    size = np.clip(18 + 9 * np.log10(np.maximum(counts, 1)), 18, 56).round().astype(int)
    types = clusters["event_type"].astype(str).tolist()
    return {
        "lat": clusters["lat"].round(5).tolist(),
        "lon": clusters["lon"].round(5).tolist(),
        "size": size.tolist(),
        "color": [EVENT_COLORS.get(t, _OTHER) for t in types],
        "text": [escape_text(number(int(c))) for c in counts],
        "tip": [escape_text(f"{number(int(c))} · {label(labels, t)}")
                for c, t in zip(counts, types, strict=True)],
    }


class ClustersLayer(Layer):
    """Leaflet layer of counted discs (``AtalayaClusters``); appears in the LayerControl."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          if (window.AtalayaClusters) { return; }
          window.AtalayaClusters = L.LayerGroup.extend({
            initialize: function (data, options) {
              L.LayerGroup.prototype.initialize.call(this, [], options);
              for (var i = 0; i < data.lat.length; i++) {
                var s = data.size[i], one = data.text[i] === "1";
                // Every string was escaped on the server (layers.escape).
                var html = "<div style='width:" + s + "px;height:" + s + "px;line-height:" + s
                  + "px;border-radius:50%;background:" + data.color[i] + ";opacity:0.85;"
                  + "border:2px solid rgba(255,255,255,0.9);box-shadow:0 0 0 1px rgba(0,0,0,0.4);"
                  + "color:#fff;font:600 11px/"+ s + "px sans-serif;text-align:center'>"
                  + (one ? "" : data.text[i]) + "</div>";
                var marker = L.marker([data.lat[i], data.lon[i]], {
                  icon: L.divIcon({html: html, className: "atalaya-cluster",
                                   iconSize: [s, s], iconAnchor: [s / 2, s / 2]}),
                  keyboard: false});
                marker.bindTooltip(data.tip[i], {direction: "top", offset: [0, -s / 2]});
                marker.on("click", function (e) {
                  var map = this._map;
                  if (map) { map.setView(e.latlng, Math.min(map.getMaxZoom(), map.getZoom() + 2)); }
                }, this);
                this.addLayer(marker);
              }
            }
          });
        })();
        var {{ this.get_name() }} = new window.AtalayaClusters({{ this.payload|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, payload: dict[str, Any], *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "AtalayaClusters"
        self.payload = payload


def build_clusters_layer(clusters: pd.DataFrame, *, name: str,
                         labels: Mapping[str, str] | None = None, show: bool = True,
                         number: Callable[[int], str] = str) -> ClustersLayer:
    """Build the clusters layer from ``geo.aggregate.cluster_points`` output.

    Parameters
    ----------
    clusters
        ``lon``, ``lat`` (degrees, EPSG:4326), ``count`` and ``event_type`` per cluster.
    name
        Name shown in the layer control (escaped here).
    labels
        Translated event type names (tooltips).
    number
        Formats counts (the UI passes its locale's formatter).

    Examples
    --------
    >>> import folium
    >>> c = pd.DataFrame({"lon": [-70.0], "lat": [-10.0], "count": [12], "event_type": ["x"]})
    >>> layer = build_clusters_layer(c, name="<b>").add_to(folium.Map(tiles=None))
    >>> layer.payload["text"], layer.layer_name
    (['12'], '&lt;b&gt;')
    """
    return ClustersLayer(cluster_payload(clusters, labels=labels, number=number),
                         name=escape_text(name), show=show)
