"""Import one file from the command line: ``python -m geo.ingest FILE --layer LAYER``.

Prints the validation report (accepted and rejected rows with their reasons) and stores the
accepted rows in the data folder, all or nothing, unless ``--dry-run``.

Exit status
-----------
0
    The file was accepted (some rows may still be rejected; they are listed) and, without
    ``--dry-run``, its rows were stored.
1
    The whole file was refused or nothing could be stored; one plain line on stderr says why.
2
    Wrong command-line usage.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from geo.errors import AtalayaError
from geo.imagery import gdal_process_environment, parse_band_mapping

LAYERS = ("events", "routes", "areas", "aerodromes", "scenes")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m geo.ingest", description=__doc__.split("\n")[0])
    p.add_argument("file", type=Path, help="CSV, XLSX, GeoJSON, KML/KMZ, zipped shapefile, "
                   "GeoPackage, GeoParquet or GeoTIFF (scenes)")
    p.add_argument("--layer", required=True, choices=LAYERS)
    p.add_argument("--dry-run", action="store_true", help="validate and report; store nothing")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="data folder (default: ATALAYA_DATA_DIR or data)")
    p.add_argument("--user", default=None, help="recorded as imported_by (default: login name)")
    p.add_argument("--mapping", type=Path, default=None,
                   help="mapping JSON saved from the app (default: proposed from column names)")
    p.add_argument("--default", action="append", default=[], metavar="FIELD=VALUE",
                   help="value for a field the file lacks, e.g. acquired_at=2024-08-02 or "
                   "country=PE (repeatable; overrides the mapping's default)")
    p.add_argument("--bands", default=None, metavar="ROLE=INDEX,...",
                   help="scenes: which band is which, e.g. blue=2,green=3,red=4,nir=5,swir1=6,"
                   "swir2=7 (as for geo.detect), when the band descriptions do not say; the "
                   "stored copy carries them (overrides the mapping's)")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="store rows that match stored ones (default: skip them)")
    p.add_argument("--rejected-csv", type=Path, default=None,
                   help="also write the rejected rows (formulas neutralised) to this CSV")
    return p


def _user(given: str | None) -> str:
    if given:
        return given[:80]
    try:
        return getpass.getuser()[:80]
    except (KeyError, OSError):
        return "cli"


def _defaults(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise AtalayaError(f"--default expects FIELD=VALUE, got {pair[:60]!r}")
        out[field.strip()] = value.strip()
    return out


def run(args: argparse.Namespace, *, isolate: bool = False) -> int:
    """Validate (and store) one file; return the exit status."""
    from geo.ingest import (
        commit,
        find_duplicates,
        load_limits,
        load_mapping,
        propose_mapping,
        read_existing,
        read_source,
        read_source_isolated,
        receive_file,
        validate,
    )
    from geo.settings import load_settings

    data_dir = args.data_dir or load_settings().data_dir
    limits = load_limits()
    if not args.file.is_file():
        raise AtalayaError(f"{str(args.file)[:200]!r}: no such file")
    with receive_file(args.file, limits=limits) as upload:
        # a capped worker reads the untrusted bytes: a bomb or a GDAL crash cannot take this
        # process (or its plain error message) down with it
        source = (read_source_isolated(upload, limits=limits) if isolate
                  else read_source(upload, limits=limits))
        mapping = load_mapping(args.mapping) if args.mapping else propose_mapping(source,
                                                                                   args.layer)
        if mapping.layer != args.layer:
            raise AtalayaError(f"the mapping is for the {mapping.layer} layer, not {args.layer}")
        mapping.defaults.update(_defaults(args.default))
        if args.bands is not None:
            mapping.bands = parse_band_mapping(args.bands)
            mapping.check()
        report = validate(source, mapping, imported_by=_user(args.user), limits=limits)
        print(report.format())
        if args.rejected_csv is not None and len(report.rejected):
            args.rejected_csv.write_bytes(report.rejected_csv())
        existing = read_existing(data_dir, args.layer) if data_dir.is_dir() else None
        skip: list[int] = []
        if existing is not None:
            dups = find_duplicates(report.accepted, existing, layer=args.layer)
            if len(dups):
                print(f"  {len(dups)} row(s) match rows already stored"
                      f"{'' if args.keep_duplicates else ' and will be skipped'}")
                skip = [] if args.keep_duplicates else dups.new_index
        if args.dry_run:
            print("dry run: nothing stored")
            return 0
        result = commit(report, data_dir, skip=skip)
        print(f"stored {result.added} row(s) in {result.path.name} ({result.total} in all)")
    return 0


def main(argv: Sequence[str] | None = None, *, isolate: bool = False) -> int:
    """Entry point; see the module docstring for the exit status.

    With ``isolate`` (what ``python -m geo.ingest`` uses) the file is read in a worker process
    capped at ``ATALAYA_INGEST_MEMORY_MB``; without it, in this process (tests).
    """
    # Before GDAL registers its drivers: no VRT, no side-car files, a small block cache.
    for key, value in gdal_process_environment().items():
        os.environ.setdefault(key, value)
    args = _parser().parse_args(argv)
    try:
        return run(args, isolate=isolate)
    except MemoryError:
        print("refused: the file needs more memory than ATALAYA_INGEST_MEMORY_MB allows",
              file=sys.stderr)
        return 1
    except (AtalayaError, OSError, ValueError, RuntimeError, EOFError) as exc:
        message = " ".join(str(exc).split()) or exc.__class__.__name__
        print(f"refused: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(isolate=True))
