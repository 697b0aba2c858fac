"""A legend control in a corner of the map, listing each layer's symbols.

Labels are passed in (translated by the UI) and escaped here; the legend is an ``L.Control``
created by script, so it works both in a standalone HTML map and inside streamlit-folium.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from branca.element import MacroElement
from folium.template import Template

from layers.escape import escape_text

__all__ = ["Legend", "LegendItem", "LegendSection", "build_legend"]

Symbol = Literal["point", "square", "line", "polygon"]


@dataclass(frozen=True)
class LegendItem:
    """One symbol: raw (unescaped) label, CSS colour, symbol kind and optional dash pattern."""

    label: str
    color: str
    symbol: Symbol = "point"
    dash: str | None = None
    #: Radius in px of a ``point`` symbol (sizes that mean something, e.g. priority).
    size: float = 5.0


@dataclass(frozen=True)
class LegendSection:
    """A titled group of symbols (one per layer).

    ``inline``: the symbols side by side, wrapping (a colour ramp, short class names),
    instead of one per line: a legend of many short classes then takes a few lines, not a
    third of the map.
    """

    title: str
    items: tuple[LegendItem, ...]
    inline: bool = False
    #: ``options.atalayaKey`` of the overlay group the section explains, if any: the section
    #: is hidden while that group is off the map (switched off in the layer control).
    layer: str | None = None


def _swatch(item: LegendItem) -> str:
    # Colours come from our own constants, never from user data.
    if item.symbol == "line":
        dash = f' stroke-dasharray="{item.dash}"' if item.dash else ""
        return (f'<svg width="22" height="10"><line x1="1" y1="5" x2="21" y2="5" '
                f'stroke="{item.color}" stroke-width="3"{dash}/></svg>')
    if item.symbol == "polygon":
        return (f'<svg width="22" height="12"><rect x="3" y="1" width="16" height="10" '
                f'fill="{item.color}" fill-opacity="0.4" stroke="{item.color}" '
                f'stroke-width="2"/></svg>')
    if item.symbol == "square":
        return (f'<svg width="22" height="12"><rect x="6" y="1" width="10" height="10" '
                f'fill="{item.color}"/></svg>')
    r = max(1.0, min(8.0, float(item.size)))
    h = max(12, round(2 * r + 2))
    return (f'<svg width="22" height="{h}"><circle cx="11" cy="{h / 2:g}" r="{r:g}" '
            f'fill="{item.color}" stroke="#111" stroke-width="1"/></svg>')


def legend_html(sections: Sequence[LegendSection], *, title: str | None = None) -> str:
    """Inner HTML of the legend, every label escaped; clicking the title folds the body."""
    parts = []
    if title:
        parts.append('<div class="atalaya-legend-title" style="font-weight:600;cursor:pointer">'
                     f'{escape_text(title)} <span class="atalaya-legend-caret">&#9662;</span>'
                     "</div>")
    parts.append('<div class="atalaya-legend-body">')
    for section in sections:
        # the layer's key comes from our own constants, never from user data (escaped anyway)
        parts.append("<div>" if section.layer is None else
                     f'<div data-atalaya-layer="{escape_text(section.layer)}">')
        if section.title and [i.label for i in section.items] == [section.title]:
            # one symbol named as its layer: the symbol beside the name, not the name twice
            parts.append('<div style="display:flex;align-items:center;gap:4px;line-height:14px;'
                         f'font-weight:600;margin-top:4px">{_swatch(section.items[0])}'
                         f"<span>{escape_text(section.title)}</span></div></div>")
            continue
        if section.title:  # a legend of one section may carry its name as the title instead
            parts.append(f'<div style="font-weight:600;margin-top:4px">'
                         f"{escape_text(section.title)}</div>")
        row = ('<div style="display:inline-flex;align-items:center;gap:2px;line-height:14px;'
               'margin-right:5px">' if section.inline else
               '<div style="display:flex;align-items:center;gap:4px;line-height:14px">')
        if section.inline:
            parts.append('<div style="display:flex;flex-wrap:wrap">')
        parts.extend(f"{row}{_swatch(item)}<span>{escape_text(item.label)}</span></div>"
                     for item in section.items)
        if section.inline:
            parts.append("</div>")
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


class Legend(MacroElement):
    """The legend as a Leaflet control (class ``atalaya-legend``), collapsible on click.

    Added to a map, it is always shown; added to a ``FeatureGroup``, it is shown while the
    group is on the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
          var div = L.DomUtil.create("div", "atalaya-legend leaflet-control-layers");
          div.style.cssText = "padding:6px 8px;font-size:11px;max-height:45vh;overflow:auto;"
            + "max-width:300px;background:rgba(255,255,255,0.92)";
          div.innerHTML = {{ this.html|tojson }};
          var title = div.querySelector(".atalaya-legend-title");
          var body = div.querySelector(".atalaya-legend-body");
          if (title) {
            // Folded from the start on phone-sized maps; a click on the title toggles it.
            if (this._map.getSize().x < 600) { body.style.display = "none"; }
            L.DomEvent.on(title, "click", function () {
              body.style.display = body.style.display === "none" ? "" : "none";
            });
          }
          L.DomEvent.disableClickPropagation(div);
          L.DomEvent.disableScrollPropagation(div);
          // Controls sit above the map's panes, so an open popup (a candidate's reason, an
          // event's details) would be hidden behind the legend: it fades out until the popup
          // closes, and lets clicks through meanwhile.
          var fade = function () { div.style.opacity = "0.1"; div.style.pointerEvents = "none"; };
          var show = function () { div.style.opacity = ""; div.style.pointerEvents = ""; };
          this._atalayaFade = [fade, show];
          this._map.on("popupopen", fade).on("popupclose", show);
          // A section of a group that is off the map (switched off in the layer control, or
          // off from the start) is hidden until the group is on; a section whose group this
          // page never built stays (layers.map.GroupKey lists the groups built).
          var map = this._map, queued = false;
          var sync = function () {
            queued = false;
            var on = {};
            map.eachLayer(function (l) {
              if (l.options && l.options.atalayaKey) { on[l.options.atalayaKey] = true; }
            });
            var known = window.atalayaGroupKeys || {};
            var shown = 0, sections = body ? body.children : [];
            for (var i = 0; i < sections.length; i++) {
              var key = sections[i].getAttribute("data-atalaya-layer");
              var visible = !key || on[key] || !known[key];
              sections[i].style.display = visible ? "" : "none";
              if (visible) { shown += 1; }
            }
            div.style.display = shown || !sections.length ? "" : "none";
          };
          // The group's key is set just after it is added (same script): sync a moment later.
          var later = function () { if (!queued) { queued = true; setTimeout(sync, 0); } };
          this._atalayaSync = later;
          map.on("layeradd layerremove", later);
          later();
          return div;
        };
        {{ this.get_name() }}.onRemove = function (map) {
          if (this._atalayaFade) {
            map.off("popupopen", this._atalayaFade[0]).off("popupclose", this._atalayaFade[1]);
          }
          if (this._atalayaSync) { map.off("layeradd layerremove", this._atalayaSync); }
        };
        (function (legend, parent) {
          // On a map: shown at once. In a layer group: shown while the group is on the map,
          // so a layer's own legend follows the layer (and is replaced with it).
          if (parent instanceof L.Map) { legend.addTo(parent); return; }
          parent.on("add", function () { legend.addTo(parent._map); });
          parent.on("remove", function () { legend.remove(); });
          if (parent._map) { legend.addTo(parent._map); }
        })({{ this.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "AtalayaLegend"
        self.html = html
        self.position = position


def build_legend(sections: Sequence[LegendSection], *, title: str | None = None,
                 position: str = "bottomleft") -> Legend:
    """Build the legend control.

    Parameters
    ----------
    sections
        One section per layer with raw (unescaped) labels; they are escaped here.
    title
        Optional heading ("Legend", translated).
    position
        Map corner: ``topleft``, ``topright``, ``bottomleft`` or ``bottomright``.

    Examples
    --------
    >>> leg = build_legend([LegendSection("Events", (LegendItem("<b>", "#f00"),))])
    >>> "&lt;b&gt;" in leg.html and "<b>" not in leg.html
    True
    """
    return Legend(legend_html(sections, title=title), position=position)
