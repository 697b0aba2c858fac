"""Command line: ``python -m geo.evaluate --chips DIR [--bands ...] [--json OUT]``.

Honest figures for the runway detector on labelled chips: grouped cross-validation by runway
id (no chip is scored by a model trained on any chip of the same runway), each fold's
operating point chosen on its training chips only, and the rule-only baseline measured in the
same run. A runway counts as found when a kept candidate overlaps its mask; a kept candidate
touching no mask pixel (dilated by 2 px) is a false candidate; those lying on another
labelled runway (the centrelines file, drawn as the masks are) are counted apart too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geo.clihelp import plain_help


def evaluate(chips_dir: str, *, bands: dict[str, int] | None = None, seed: int = 0,
             n_splits: int = 5, progress: bool = True, with_sample: bool = True,
             centrelines: str | Path | None = None, repeats: int = 1) -> dict[str, Any]:
    """Cross-validated learned scorer and rule baseline on one chip folder.

    ``repeats`` > 1 runs the whole grouped CV again with seeds ``seed + 1``, ... (other
    folds, other models): ``repeated_cv`` then holds each seed's pooled metrics and their
    summary (:func:`geo.detect.learning.summarize_seeds`), as one split's figures move by a
    strip or two and a few false candidates.

    As in training, generated sample scenes (``geo.train.SAMPLE_SEEDS``) join every
    training fold when ``with_sample``; they are never scored. ``centrelines``: the labelled
    runways (:func:`geo.detect.chips.read_centrelines`); false candidates on one that is not
    their chip's own are counted apart (``n_false_on_other_runway``).
    """
    from tqdm import tqdm

    from geo.detect.chips import (
        CHIP_BANDS,
        centrelines_provenance,
        check_folds,
        chips_provenance,
        list_chips,
        process_chip,
        read_centrelines,
    )
    from geo.detect.learning import cross_validate, rule_baseline, summarize_seeds
    from geo.detect.params import DetectionParams
    from geo.detect.scorer import FEATURES

    mapping = bands or CHIP_BANDS
    chips = list_chips(chips_dir)
    lines = read_centrelines(centrelines) if centrelines is not None else []
    check_folds(chips, n_splits)  # before minutes of work, not after
    rules = DetectionParams()
    strict, perm = [], []
    for c in tqdm(chips, desc="chips", disable=not progress, file=sys.stderr):
        strict.append(process_chip(c, params=rules, bands=mapping, centrelines=lines))
        perm.append(process_chip(c, params=rules.permissive(), bands=mapping,
                                 centrelines=lines))
    kind = "multispectral" if {"red", "nir", "swir1"} <= set(mapping) else "rgb"
    assert kind in FEATURES
    from geo.train import build_extra

    extra = build_extra(kind) if with_sample else []
    pooled, folds = cross_validate(perm, kind=kind, n_splits=n_splits, seed=seed, extra=extra)
    more = [cross_validate(perm, kind=kind, n_splits=n_splits, seed=seed + k, extra=extra)[0]
            for k in tqdm(range(1, repeats), desc="CV seeds", disable=not progress,
                          file=sys.stderr)]
    seeds = list(range(seed, seed + 1 + len(more)))
    return {"data": chips_provenance(chips_dir, chips), "bands": mapping, "kind": kind,
            "split": f"GroupKFold({n_splits}) by runway id, seed {seed}",
            "other_runways": centrelines_provenance(centrelines, lines),
            "extra_training_results": len(extra),
            "learned_cv": pooled, "folds": folds, "rules_only": rule_baseline(strict),
            "generator_ceiling": rule_baseline(perm),
            "repeated_cv": ({"seeds": seeds, "per_seed": [pooled, *more],
                             **summarize_seeds([pooled, *more])} if repeats > 1 else None)}


def evaluate_sample(out_dir: str | Path, *, seed: int = 7,
                    scorer_path: str | Path | None = None) -> dict[str, Any]:
    """Recall and precision of the detector on freshly generated sample scenes.

    The two dated synthetic scenes of :mod:`geo.sample.scenes` (forest, a river with
    sandbars, a road, tracks, fields and runways of real size) are written to ``out_dir``
    and run through :func:`geo.detect.scene.detect_scene` with the committed scorer at its
    operating point. A truth runway is found when a kept candidate of its scene intersects
    its rectangle; a kept candidate intersecting none is a false alarm.
    """
    import numpy as np

    from geo.detect.scene import detect_scene
    from geo.detect.scorer import DEFAULT_MODEL, read_scorer
    from geo.sample.scenes import generate_scenes

    catalogue, truth = generate_scenes(out_dir, rng=np.random.default_rng(seed))
    scorer = read_scorer(scorer_path or DEFAULT_MODEL)
    found = kept = true_kept = 0
    for scene in catalogue.itertuples():
        cands = detect_scene(str(Path(out_dir) / scene.path), scorer=scorer)
        rects = truth[truth["scene_id"] == scene.scene_id].geometry
        hits = [bool(rects.intersects(g).any()) for g in cands.geometry]
        kept += len(hits)
        true_kept += sum(hits)
        found += sum(bool(cands.geometry.intersects(r).any()) for r in rects)
    return {"seed": seed, "n_truth": len(truth), "n_found": found, "n_kept": kept,
            "recall": found / len(truth) if len(truth) else None,
            "precision": true_kept / kept if kept else None}


def _line(name: str, m: dict[str, Any], *, other_runways: bool) -> str:
    def f(v: Any) -> str:
        return "n/a" if v is None else f"{v:.2f}"
    apart = (f"; {m['n_false_on_other_runway']} of them on other labelled runways"
             if other_runways else "")
    return (f"{name:<18} active recall {f(m['recall_active'])} (n={m['n_active']})  "
            f"inactive recall {f(m['recall_inactive'])} (n={m['n_inactive']})  "
            f"false/100 km2 {f(m['false_per_100km2'])} ({m['n_false']} in "
            f"{m['area_km2']:.0f} km2{apart})")


def _spread(rep: dict[str, Any]) -> str:
    """One line: the seeds' means and ranges, and how many meet the target."""
    def r(key: str) -> str:
        m = rep["mean"][key]
        if m is None:
            return "n/a"
        return f"{m:.2f} ({rep['min'][key]:.2f}-{rep['max'][key]:.2f})"
    t = rep["target"]
    return (f"learned, {len(rep['seeds'])} CV seeds: active recall {r('recall_active')}  "
            f"inactive recall {r('recall_inactive')}  false/100 km2 {r('false_per_100km2')}; "
            f"target (active >= {t['recall_active']:.2f} at <= {t['false_per_100km2']:.1f} "
            f"false/100 km2) met at {rep['meets_target']} of {len(rep['seeds'])}")


def _at_least_one(text: str) -> int:
    """Parse ``--repeats``: a whole number >= 1, with a clear message otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate, print a table and write JSON; returns the exit code."""
    from geo.detect.chips import add_centrelines_option, centrelines_arg

    p = argparse.ArgumentParser(prog="python -m geo.evaluate",
                                description=plain_help(__doc__))
    p.add_argument("--chips", required=True,
                   help="folder of {id}_{year}_{k}/ chip folders, each with its *_sdata.tiff "
                        "and, for a runway, *_target.tiff")
    p.add_argument("--bands", default=None, help="e.g. blue=1,green=2,red=3,nir=6,swir1=7")
    p.add_argument("--json", default="artifacts/evaluation.json", help="where to write JSON")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the folds and the models (default 0)")
    p.add_argument("--folds", type=int, default=5, help="grouped CV folds (default 5)")
    p.add_argument("--repeats", type=_at_least_one, default=1,
                   help="run the grouped CV with this many seeds (--seed, --seed + 1, ...) "
                        "and report each and their spread (default 1)")
    p.add_argument("--no-sample", action="store_true",
                   help="train folds on the chips only (no generated sample scenes)")
    add_centrelines_option(p)
    args = p.parse_args(argv)
    from geo.errors import AtalayaError
    from geo.imagery import parse_band_mapping

    try:
        bands = parse_band_mapping(args.bands) if args.bands else None
        report = evaluate(args.chips, bands=bands, seed=args.seed, n_splits=args.folds,
                          with_sample=not args.no_sample, repeats=args.repeats,
                          centrelines=centrelines_arg(args.chips, args.centrelines))
    except AtalayaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    other = report["other_runways"] is not None
    print(_line("learned (CV)", report["learned_cv"], other_runways=other))
    rep = report["repeated_cv"]
    if rep is not None:
        for k, m in zip(rep["seeds"][1:], rep["per_seed"][1:], strict=True):
            print(_line(f"learned (seed {k})", m, other_runways=other))
        print(_spread(rep))
    print(_line("rules only", report["rules_only"], other_runways=other))
    print(_line("generator ceiling", report["generator_ceiling"], other_runways=other))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
