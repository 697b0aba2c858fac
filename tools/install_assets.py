"""Copy the front-end files folium needs from node_modules and build the offline basemap.

Usage::

    npm ci --no-audit --no-fund --ignore-scripts
    python tools/install_assets.py [--node-modules node_modules] [--static static]

Writes ``static/vendor/<package>/...`` (Leaflet and plugins, jQuery, Bootstrap, Font Awesome,
folium's own small templates) and ``static/basemap/*.geojson`` (Natural Earth countries from
world-atlas). Streamlit serves ``static/`` at ``/app/static/``. Running it again rewrites only
files whose content changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

ROOT = Path(__file__).resolve().parent.parent

#: (node_modules path, path under static/vendor); a trailing "/" copies a whole folder.
VENDOR_FILES: tuple[tuple[str, str], ...] = (
    ("leaflet/dist/leaflet.js", "leaflet/dist/leaflet.js"),
    ("leaflet/dist/leaflet.js.map", "leaflet/dist/leaflet.js.map"),
    ("leaflet/dist/leaflet.css", "leaflet/dist/leaflet.css"),
    ("leaflet/dist/images/", "leaflet/dist/images/"),
    ("leaflet/LICENSE", "leaflet/LICENSE"),
    ("jquery/dist/jquery.min.js", "jquery/dist/jquery.min.js"),
    ("jquery/dist/jquery.min.map", "jquery/dist/jquery.min.map"),
    ("jquery/LICENSE.txt", "jquery/LICENSE.txt"),
    ("bootstrap/dist/js/bootstrap.bundle.min.js", "bootstrap/dist/js/bootstrap.bundle.min.js"),
    ("bootstrap/dist/js/bootstrap.bundle.min.js.map",
     "bootstrap/dist/js/bootstrap.bundle.min.js.map"),
    ("bootstrap/dist/css/bootstrap.min.css", "bootstrap/dist/css/bootstrap.min.css"),
    ("bootstrap/dist/css/bootstrap.min.css.map", "bootstrap/dist/css/bootstrap.min.css.map"),
    ("bootstrap/LICENSE", "bootstrap/LICENSE"),
    ("@fortawesome/fontawesome-free/css/all.min.css", "fontawesome-free/css/all.min.css"),
    ("@fortawesome/fontawesome-free/webfonts/", "fontawesome-free/webfonts/"),
    ("@fortawesome/fontawesome-free/LICENSE.txt", "fontawesome-free/LICENSE.txt"),
    ("leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
     "leaflet.awesome-markers/dist/leaflet.awesome-markers.js"),
    ("leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
     "leaflet.awesome-markers/dist/leaflet.awesome-markers.css"),
    ("leaflet.awesome-markers/dist/images/", "leaflet.awesome-markers/dist/images/"),
    ("leaflet.awesome-markers/LICENSE", "leaflet.awesome-markers/LICENSE"),
    ("leaflet.markercluster/dist/leaflet.markercluster.js",
     "leaflet.markercluster/dist/leaflet.markercluster.js"),
    ("leaflet.markercluster/dist/MarkerCluster.css",
     "leaflet.markercluster/dist/MarkerCluster.css"),
    ("leaflet.markercluster/dist/MarkerCluster.Default.css",
     "leaflet.markercluster/dist/MarkerCluster.Default.css"),
    ("leaflet.markercluster/MIT-LICENCE.txt", "leaflet.markercluster/MIT-LICENCE.txt"),
    ("leaflet-draw/dist/leaflet.draw.js", "leaflet-draw/dist/leaflet.draw.js"),
    ("leaflet-draw/dist/leaflet.draw.css", "leaflet-draw/dist/leaflet.draw.css"),
    ("leaflet-draw/dist/images/", "leaflet-draw/dist/images/"),
    ("leaflet.heat/dist/leaflet-heat.js", "leaflet.heat/dist/leaflet-heat.js"),
    ("leaflet-side-by-side/layout.css", "leaflet-side-by-side/layout.css"),
    ("leaflet-side-by-side/range.css", "leaflet-side-by-side/range.css"),
    ("leaflet-side-by-side/range-icon.png", "leaflet-side-by-side/range-icon.png"),
    ("leaflet-side-by-side/LICENSE", "leaflet-side-by-side/LICENSE"),
)

#: leaflet-side-by-side ships only its CommonJS source (its own build needs browserify); these
#: are the only lines that are not plain browser JavaScript, and what replaces each.
SIDE_BY_SIDE_SOURCE = "leaflet-side-by-side/index.js"
SIDE_BY_SIDE_BUILD = "leaflet-side-by-side/leaflet-side-by-side.js"
_SIDE_BY_SIDE_SHIMS = {
    "var L = require('leaflet')": "var L = window.L",
    "require('./layout.css')": "// layout.css is linked by the page",
    "require('./range.css')": "// range.css is linked by the page",
}

#: Natural Earth 1:50m detail for the Americas (lon_min, lat_min, lon_max, lat_max): the
#: region of interest (-130..-20, -60..40) plus a margin that ends at sea on the east side.
AMERICAS_BOX = (-170.0, -62.0, -25.0, 50.0)
COORD_DECIMALS = 4  # ~11 m, finer than 1:50m data


class AssetError(RuntimeError):
    """The assets cannot be installed (node_modules missing or incomplete)."""


@dataclass
class Report:
    """What a run did."""

    written: int = 0
    unchanged: int = 0

    def write(self, path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` unless it already holds exactly that."""
        if path.is_file() and path.read_bytes() == data:
            self.unchanged += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.written += 1


def _check_node_modules(node_modules: Path) -> None:
    if not node_modules.is_dir():
        raise AssetError(f"{node_modules} does not exist: run `npm ci --no-audit --no-fund "
                         "--ignore-scripts` in the project folder first")
    missing = sorted({src.split("/")[0] if not src.startswith("@") else "/".join(
        src.split("/")[:2]) for src, _ in VENDOR_FILES if not (node_modules / src).exists()})
    if not (node_modules / "world-atlas" / "countries-50m.json").is_file():
        missing.append("world-atlas")
    if missing:
        raise AssetError(f"{node_modules} lacks {', '.join(missing)}: run `npm ci` (package.json "
                         "pins every front-end package)")


def copy_vendor(node_modules: Path, vendor: Path, report: Report) -> None:
    """Copy every file of :data:`VENDOR_FILES` into ``vendor``."""
    for src, dst in VENDOR_FILES:
        source = node_modules / src
        if src.endswith("/"):
            for f in sorted(p for p in source.rglob("*") if p.is_file()):
                report.write(vendor / dst / f.relative_to(source), f.read_bytes())
        else:
            report.write(vendor / dst, source.read_bytes())


def build_side_by_side(node_modules: Path, vendor: Path, report: Report) -> None:
    """Write the browser build of leaflet-side-by-side (what its ``npm run build`` makes).

    The CommonJS source becomes a plain script: ``require('leaflet')`` is the global ``L``
    (loaded before it), the stylesheets are linked by the page instead of injected, and the
    whole runs in a function with its own ``module`` object. Any other ``require`` means an
    unknown version: refused rather than shipped broken.
    """
    text = (node_modules / SIDE_BY_SIDE_SOURCE).read_text("utf-8")
    for line, shim in _SIDE_BY_SIDE_SHIMS.items():
        if line not in text:
            raise AssetError(f"{SIDE_BY_SIDE_SOURCE} lacks {line!r}: not the pinned 2.2.0?")
        text = text.replace(line, shim)
    if "require(" in text:
        raise AssetError(f"{SIDE_BY_SIDE_SOURCE} requires modules the shim does not know")
    script = ("/* leaflet-side-by-side 2.2.0 (MIT, Gregor MacLennan / Digital Democracy), "
              "browser build by tools/install_assets.py */\n(function () {\nvar module = "
              "{exports: {}};\n" + text + "\n})();\n")
    report.write(vendor / SIDE_BY_SIDE_BUILD, script.encode("utf-8"))


def rotate_css() -> bytes:
    """Folium's ``leaflet.awesome.rotate.min.css`` (``.fa-rotate-N`` for N = 1..359).

    The file lives in folium's repository, not in the installed package, so it is generated;
    the rules are the same.
    """
    rules = (f".fa-rotate-{n}{{transform:rotate({n}deg)}}" for n in range(1, 360))
    return ("\n".join(rules) + "\n").encode()


def copy_folium_templates(vendor: Path, report: Report) -> None:
    """Copy folium's own ``leaflet_heat.min.js`` and write the rotate stylesheet."""
    import folium

    heat = Path(folium.__file__).parent / "templates" / "leaflet_heat.min.js"
    if not heat.is_file():
        raise AssetError(f"{heat} not found: reinstall folium (pinned in requirements.txt)")
    report.write(vendor / "folium" / "leaflet_heat.min.js", heat.read_bytes())
    report.write(vendor / "folium" / "leaflet.awesome.rotate.min.css", rotate_css())


def _round(coords: Any) -> Any:
    if isinstance(coords, float):
        return round(coords, COORD_DECIMALS)
    return [_round(c) for c in coords]


def _geojson_bytes(gdf: Any, lines: Any) -> bytes:
    features = []
    for name, iso, geom in zip(gdf["name"], gdf["id"], gdf.geometry, strict=True):
        if geom is None or geom.is_empty:
            continue
        gj = json.loads(shapely.to_geojson(geom))
        gj["coordinates"] = _round(gj["coordinates"])
        props = {"name": name if isinstance(name, str) else None,
                 "id": iso if isinstance(iso, str) else None}  # a few territories have no code
        features.append({"type": "Feature", "properties": props, "geometry": gj})
    parts = [p for p in shapely.get_parts(lines) if p.geom_type == "LineString"]
    if parts:
        gj = json.loads(shapely.to_geojson(shapely.MultiLineString(parts)))
        features.append({"type": "Feature", "properties": {"kind": "border"},
                         "geometry": {"type": "MultiLineString",
                                      "coordinates": _round(gj["coordinates"])}})
    doc = {"type": "FeatureCollection", "features": features}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _prepare(gdf: Any) -> Any:
    """Drop Antarctica (off the map's purpose, and its ring circles the pole) and fix parts."""
    gdf = gdf[gdf["id"].astype("string").fillna("") != "010"].copy()
    return gdf[gdf.geometry.notna()]


def build_basemap(node_modules: Path, out: Path, report: Report) -> None:
    """Write ``countries-50m.geojson`` (Americas) and ``world-110m.geojson`` (elsewhere).

    Each file holds the country polygons (fill; properties ``name`` and ISO 3166 numeric
    ``id``) and one ``MultiLineString`` feature of borders and coasts (``kind: "border"``),
    each shared edge once. Lines are cut from the unclipped outlines, so the seam between
    the two files is never drawn as a border.
    """
    from geo.basemap import polygonal_parts, read_topojson

    box = shapely.box(*AMERICAS_BOX)
    atlas = node_modules / "world-atlas"
    detail = _prepare(read_topojson(atlas / "countries-50m.json", "countries"))
    detail = detail[detail.intersects(box)].copy()
    lines = shapely.intersection(_mesh(detail.geometry), box)
    # Fills overlap the 1:110m ones by half a degree: two fills that merely touch leave an
    # anti-aliased hairline of sea along the seam.
    wider = shapely.box(*(v + d for v, d in zip(AMERICAS_BOX, (-0.5, -0.5, 0.5, 0.5),
                                                  strict=True)))
    detail["geometry"] = [polygonal_parts(g) for g in shapely.intersection(detail.geometry, wider)]
    report.write(out / "countries-50m.geojson", _geojson_bytes(detail, lines))

    world = _prepare(read_topojson(atlas / "countries-110m.json", "countries"))
    lines = shapely.difference(_mesh(world.geometry), box)
    world["geometry"] = [polygonal_parts(g) for g in shapely.difference(world.geometry, box)]
    report.write(out / "world-110m.geojson", _geojson_bytes(world, lines))


def _mesh(geoms: Any) -> Any:
    """Borders and coasts of ``geoms`` as lines, each shared edge once."""
    return shapely.line_merge(shapely.union_all(shapely.boundary(geoms.to_numpy())))


def _check_local_assets(vendor: Path) -> None:
    """Every URL ``layers.assets.localize`` may write must exist on disk."""
    from layers.assets import LOCAL_ASSETS

    absent = sorted(rel for rel in LOCAL_ASSETS.values() if not (vendor / rel).is_file())
    if absent:
        raise AssetError("installed files do not cover layers.assets.LOCAL_ASSETS: "
                         + ", ".join(absent))


def install(node_modules: Path, static: Path) -> Report:
    """Copy the vendored assets and build the basemap; return what was written.

    Raises
    ------
    AssetError
        When node_modules is missing or incomplete.
    """
    _check_node_modules(node_modules)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run as a script, geo/ and layers/ live next to tools/
    report = Report()
    vendor = static / "vendor"
    copy_vendor(node_modules, vendor, report)
    build_side_by_side(node_modules, vendor, report)
    copy_folium_templates(vendor, report)
    _check_local_assets(vendor)
    build_basemap(node_modules, static / "basemap", report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--node-modules", type=Path, default=ROOT / "node_modules",
                        help="npm install folder (default: %(default)s)")
    parser.add_argument("--static", type=Path, default=ROOT / "static",
                        help="folder Streamlit serves at /app/static (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        report = install(args.node_modules, args.static)
    except AssetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"assets in {args.static}: {report.written} written, {report.unchanged} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
