"""Command line: ``python -m geo.detect SCENE.tif [...] --out candidates.geojson``.

Unreadable or unsuitable files are reported and skipped; the exit code is non-zero only when
every file failed. ``--track`` follows strips across the dates of the given scenes;
``--scheduler tcp://HOST:PORT`` (or ``--workers N`` for a local cluster) maps the windows on
Dask.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geo.detect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenes", nargs="+", help="GeoTIFF scenes in a projected CRS (metres)")
    p.add_argument("--out", required=True, help="output .geojson or .gpkg")
    p.add_argument("--bands", default=None, help="e.g. blue=1,green=2,red=3,nir=6,swir1=7")
    p.add_argument("--min-score", type=float, default=None,
                   help="keep candidates scoring at least this (default: model's threshold)")
    p.add_argument("--model", default=None, help="scorer JSON (default: the committed one)")
    p.add_argument("--rules-only", action="store_true", help="no learned scorer")
    p.add_argument("--track", action="store_true", help="match strips across dates")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT")
    p.add_argument("--workers", type=int, default=0,
                   help="start a local Dask cluster of N worker processes (0: serial)")
    p.add_argument("--no-aerodromes", action="store_true", help="skip aerodrome context")
    return p


def _client(args: argparse.Namespace) -> object | None:
    if args.scheduler:
        from distributed import Client
        return Client(args.scheduler)
    if args.workers > 0:
        from distributed import Client, LocalCluster
        return Client(LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None))
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Detect, optionally track, write; returns the exit code."""
    args = _parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in {".geojson", ".gpkg"}:
        _parser().error(f"--out must end in .geojson or .gpkg, got {out.name}")
    from geo.aerodromes import read_registered_aerodromes
    from geo.detect.run import detect_scenes
    from geo.detect.scorer import DEFAULT_MODEL, read_scorer
    from geo.detect.track import track_candidates
    from geo.errors import AtalayaError
    from geo.imagery import parse_band_mapping

    try:
        bands = parse_band_mapping(args.bands) if args.bands else None
        scorer = None if args.rules_only else read_scorer(args.model or DEFAULT_MODEL)
        aerodromes = None if args.no_aerodromes else read_registered_aerodromes()
    except AtalayaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    client = _client(args)
    try:
        result = detect_scenes(args.scenes, bands=bands, scorer=scorer,
                               min_score=args.min_score, aerodromes=aerodromes,
                               client=client, progress=True)
    finally:
        if client is not None:
            client.close()  # type: ignore[attr-defined]
    for path, msg in result.failures:
        print(f"skipped {path}: {msg}", file=sys.stderr)
    if len(result.failures) == len(args.scenes):
        print("error: no scene could be read", file=sys.stderr)
        return 1
    cands = track_candidates(result.candidates) if args.track else result.candidates
    out.parent.mkdir(parents=True, exist_ok=True)
    cands.to_file(out, driver="GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON")
    print(f"wrote {len(cands)} candidates from {len(args.scenes) - len(result.failures)} "
          f"scene(s) to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
