"""Fit the scorer on labelled chips, pick its operating point, and measure it honestly.

The operating point is the lowest score threshold that keeps false candidates at or below
``max_fp_per_100km2`` *on the training chips*; test chips never influence it. Cross-validation
groups chips by runway id, so no runway is scored by a model that saw any chip of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from geo.detect.chips import ChipResult
from geo.detect.scorer import LogisticModel, feature_matrix

FP_LIMIT_PER_100KM2 = 1.0


@dataclass(frozen=True)
class Scored:
    """One chip's candidates with a score each (the unit metrics are computed over)."""

    result: ChipResult
    scores: tuple[float, ...]


def _xy(results: Sequence[ChipResult], kind: str) -> tuple[np.ndarray, np.ndarray]:
    cands = [c for r in results for c in r.candidates]
    y = np.array([p for r in results for p in r.positive], dtype=bool)
    return feature_matrix(cands, kind), y


def choose_threshold(scored: Sequence[Scored], *,
                     max_fp_per_100km2: float = FP_LIMIT_PER_100KM2) -> float:
    """Lowest threshold whose false candidates per 100 km2 stay within the limit."""
    area = sum(s.result.area_km2 for s in scored)
    false_scores = np.sort([sc for s in scored for sc, f in zip(s.scores, s.result.false,
                                                                strict=True) if f])[::-1]
    allowed = int(np.floor(max_fp_per_100km2 * area / 100.0))
    if false_scores.size <= allowed:
        return 0.0
    # strictly above the (allowed+1)-th highest false score
    return float(np.nextafter(false_scores[allowed], 1.0))


def fit_model(results: Sequence[ChipResult], *, kind: str, seed: int = 0,
              max_fp_per_100km2: float = FP_LIMIT_PER_100KM2) -> LogisticModel:
    """Standardised L2 logistic regression on candidate features, with its operating point."""
    x, y = _xy(results, kind)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=0.3, class_weight="balanced", max_iter=5000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    model = LogisticModel(kind=kind, mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
                          coef=tuple(clf.coef_[0].tolist()),
                          intercept=float(clf.intercept_[0]), threshold=0.5)
    threshold = choose_threshold(score_results(model, results),
                                 max_fp_per_100km2=max_fp_per_100km2)
    return LogisticModel(kind=kind, mean=model.mean, scale=model.scale, coef=model.coef,
                         intercept=model.intercept, threshold=threshold)


def score_results(model: LogisticModel, results: Sequence[ChipResult]) -> list[Scored]:
    """Score every chip's candidates with ``model``."""
    return [Scored(r, tuple(model.score(r.candidates).tolist())) for r in results]


def compute_metrics(scored: Sequence[Scored], threshold: float) -> dict[str, Any]:
    """Recall on active / inactive / other strips, false candidates per 100 km2, counts."""
    groups: dict[str, list[bool]] = {"active": [], "inactive": [], "other": []}
    n_false = n_kept = 0
    for s in scored:
        keep = [sc >= threshold for sc in s.scores]
        n_kept += sum(keep)
        n_false += sum(k and f for k, f in zip(keep, s.result.false, strict=True))
        if s.result.target_px:
            name = {1: "active", 0: "inactive"}.get(s.result.chip.active, "other")
            groups[name].append(any(k and p for k, p in
                                    zip(keep, s.result.positive, strict=True)))
    area = sum(s.result.area_km2 for s in scored)
    out: dict[str, Any] = {f"recall_{k}": (float(np.mean(v)) if v else None)
                           for k, v in groups.items()}
    out.update({f"n_{k}": len(v) for k, v in groups.items()})
    out.update(false_per_100km2=100.0 * n_false / area if area else None, n_false=n_false,
               n_kept=n_kept, area_km2=area, threshold=threshold)
    return out


def cross_validate(results: Sequence[ChipResult], *, kind: str, n_splits: int = 5,
                   seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run grouped K-fold by runway id: metrics pooled over the held-out folds, and per fold."""
    groups = np.array([r.chip.runway_id for r in results])
    folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    pooled: list[Scored] = []
    per_fold = []
    for train, test in folds.split(np.zeros(len(results)), groups=groups):
        model = fit_model([results[i] for i in train], kind=kind, seed=seed)
        held_out = score_results(model, [results[i] for i in test])
        # each held-out chip is compared with its own fold's operating point
        pooled += [Scored(s.result, tuple(float(sc >= model.threshold) for sc in s.scores))
                   for s in held_out]
        per_fold.append(compute_metrics(held_out, model.threshold))
    return compute_metrics(pooled, 1.0), per_fold


def rule_baseline(results: Sequence[ChipResult]) -> dict[str, Any]:
    """Metrics of the strict rules alone: every candidate they produce counts."""
    return compute_metrics([Scored(r, (1.0,) * len(r.candidates)) for r in results], 1.0)


def split_by_kind(results: Mapping[str, Sequence[ChipResult]]) -> dict[str, int]:
    """Count candidates per imagery kind (for the report)."""
    return {k: sum(len(r.candidates) for r in v) for k, v in results.items()}
