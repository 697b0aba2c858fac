"""Command line: ``python -m geo.export --data DIR --out OUT --formats gpkg,geojson,kml,csv``.

Writes the snapshot of the data folder DIR into OUT (created if needed): the chosen formats
(gpkg, geojson, kml (KML and KMZ), csv, xlsx, shp, html, png, pdf) and ``manifest.json``.
The same filters as the map explorer: ``--bbox W,S,E,N`` (the map extent: layers are
narrowed to it and the map framed on it), ``--since``/``--until`` (UTC dates, both
inclusive), ``--types`` (event types), ``--countries``, ``--commodities``,
``--min-confidence``, and ``--layers``
(events,routes,candidates,aerodromes,scenes). ``--save`` also keeps a copy in the data
folder's snapshot history (DIR/snapshots/), where the export page lists it.

Exit codes: 0 every format written; 1 nothing written (no data, a broken layer, an unsafe
output folder), with one line saying why; 2 a mistake in the arguments; 3 the snapshot was
written but some formats failed (listed; PNG and PDF need Chromium).
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from geo.clihelp import plain_help
from geo.errors import AtalayaError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geo.export", description=plain_help(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data folder (events.parquet, routes ...)")
    p.add_argument("--out", required=True, help="export folder (created if needed)")
    p.add_argument("--formats", default="gpkg,geojson,kml,csv,xlsx,shp,html,png,pdf",
                   help="comma-separated formats (default: all)")
    p.add_argument("--bbox", default=None, help="map extent W,S,E,N in degrees (EPSG:4326)")
    p.add_argument("--since", default=None, help="first day, YYYY-MM-DD (UTC, inclusive)")
    p.add_argument("--until", default=None, help="last day, YYYY-MM-DD (UTC, inclusive)")
    p.add_argument("--types", default=None, help="event types, comma-separated")
    p.add_argument("--countries", default=None, help="ISO alpha-2 codes, comma-separated")
    p.add_argument("--commodities", default=None, help="commodities, comma-separated")
    p.add_argument("--min-confidence", type=float, default=0.0, help="0-1 (default 0)")
    p.add_argument("--layers", default=None,
                   help="layers, comma-separated (default events,routes,candidates,aerodromes)")
    p.add_argument("--title", default="Atalaya snapshot", help="title of the map and briefing")
    p.add_argument("--marking", default=None,
                   help="classification marking (default UNCLASSIFIED // FOR OFFICIAL USE)")
    p.add_argument("--user", default=None, help="who makes the snapshot (default: login name)")
    p.add_argument("--language", default="en", choices=("en", "es", "pt"))
    p.add_argument("--width", type=int, default=1600, help="PNG width in CSS px (default 1600)")
    p.add_argument("--height", type=int, default=1000, help="PNG height in CSS px (default 1000)")
    p.add_argument("--dpi", type=int, default=150, help="PNG resolution (default 150)")
    p.add_argument("--save", action="store_true",
                   help="also keep a copy in the data folder's snapshot history")
    return p


def _list(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(v.strip() for v in text.split(",") if v.strip())


def _day(text: str, name: str) -> datetime:
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise ValueError(f"--{name} {text!r} is not a date: expected YYYY-MM-DD") from None
    return day.replace(tzinfo=UTC)


def _bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ValueError(f"--bbox {text!r}: expected four numbers W,S,E,N (e.g. -80,-10,-60,5)")
    return values[0], values[1], values[2], values[3]


def _spec(args: argparse.Namespace) -> object:
    from geo.export.spec import DEFAULT_LAYERS, DEFAULT_MARKING, SnapshotSpec
    from geo.filters import Filters

    start = _day(args.since, "since") if args.since else None
    end = _day(args.until, "until") + timedelta(days=1) if args.until else None
    filters = Filters(start=start, end=end, event_types=_list(args.types),
                      countries=_list(args.countries), commodities=_list(args.commodities),
                      min_confidence=args.min_confidence)
    return SnapshotSpec(filters=filters, bbox=_bbox(args.bbox) if args.bbox else None,
                        layers=_list(args.layers) or DEFAULT_LAYERS,
                        formats=tuple(args.formats.split(",")), title=args.title,
                        classification=args.marking or DEFAULT_MARKING,
                        user=args.user or getpass.getuser(), language=args.language,
                        width_px=args.width, height_px=args.height, dpi=args.dpi)


def _join_negative(argv: list[str]) -> list[str]:
    """Turn ``--bbox -80,-10,-60,5`` into ``--bbox=-80,...`` (argparse reads -80 as an option)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--bbox" and i + 1 < len(argv) and argv[i + 1][:2].lstrip("-")[:1].isdigit():
            out.append(f"--bbox={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export; return the process exit code (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(_join_negative(list(sys.argv[1:] if argv is None else argv)))
    try:
        spec = _spec(args)
    except (AtalayaError, ValueError) as err:
        print(f"python -m geo.export: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    from geo.export.snapshot import history_folder, make_snapshot
    from geo.export.spec import SnapshotSpec

    assert isinstance(spec, SnapshotSpec)
    data, out = Path(args.data), Path(args.out)
    try:
        manifest = make_snapshot(data, spec, out)
        if args.save:
            when = datetime.fromisoformat(manifest.created_at)
            shutil.copytree(out, history_folder(data, when, manifest.snapshot_id))
    except (AtalayaError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    counts = ", ".join(f"{k} {v:,}" for k, v in manifest.counts.items())
    print(f"[geo.export] {len(manifest.files)} files and manifest.json in {out} ({counts})",
          file=sys.stderr)
    for fmt, reason in manifest.failed.items():
        print(f"[geo.export] {fmt} not written: {reason}", file=sys.stderr)
    print(out / "manifest.json")
    return EXIT_PARTIAL if manifest.failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
