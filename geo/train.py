"""Command line: ``python -m geo.train --chips DIR --out geo/models/runway_scorer.json``.

Runs the candidate generator at its permissive operating point on every labelled chip, labels
each candidate by overlap with the chip's runway mask, fits one logistic model for
multispectral imagery and one for RGB-only imagery (the chips' blue, green and red bands), and
writes them as JSON with the data provenance (chip folder, file count, sha256 of the list).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from geo.errors import AtalayaError

RGB_CHIP_BANDS = {"blue": 1, "green": 2, "red": 3}


def build_results(chips_dir: str, *, progress: bool = True) -> dict[str, Any]:
    """Chip results per imagery kind at the permissive operating point."""
    from tqdm import tqdm

    from geo.detect.chips import CHIP_BANDS, list_chips, process_chip
    from geo.detect.params import DetectionParams

    chips = list_chips(chips_dir)
    gen = DetectionParams().permissive()
    out: dict[str, Any] = {"chips": chips}
    for kind, bands in (("multispectral", CHIP_BANDS), ("rgb", RGB_CHIP_BANDS)):
        out[kind] = [process_chip(c, params=gen, bands=bands)
                     for c in tqdm(chips, desc=f"chips ({kind})", disable=not progress,
                                   file=sys.stderr)]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Train and write the scorer; returns the process exit code."""
    p = argparse.ArgumentParser(prog="python -m geo.train", description=__doc__)
    p.add_argument("--chips", required=True, help="folder of {id}_{year}_{k}/ chip folders")
    p.add_argument("--out", default="geo/models/runway_scorer.json", help="model JSON path")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)
    from geo.detect.chips import chips_provenance
    from geo.detect.learning import fit_model
    from geo.detect.scorer import Scorer, write_scorer

    try:
        res = build_results(args.chips)
    except AtalayaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    models = {k: fit_model(res[k], kind=k, seed=args.seed) for k in ("multispectral", "rgb")}
    prov = {**chips_provenance(args.chips, res["chips"]), "seed": args.seed,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "generator": "DetectionParams().permissive()",
            "candidates": {k: sum(len(r.candidates) for r in res[k]) for k in models},
            "positives": {k: sum(sum(r.positive) for r in res[k]) for k in models}}
    write_scorer(Scorer(models=models, provenance=prov), args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} threshold {m.threshold:.3f}"
                                             for k, m in models.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
