"""Fit the scorer on labelled chips, pick its operating point, and measure it honestly.

The operating point is the lowest score threshold that keeps false candidates at or below
``max_fp_per_100km2`` on *out-of-fold* scores of the training chips (an inner grouped K-fold
inside the training set); test chips never influence it. Cross-validation groups chips by
runway id, so no runway is scored by a model that saw any chip of it. Generated sample
scenes may be added to every fit as extra labelled data; they are never scored or used
for the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from geo.detect.chips import ChipResult
from geo.detect.scorer import BlendModel, LogisticModel, Model, Tree, TreeModel, feature_matrix

FP_LIMIT_PER_100KM2 = 1.0
#: False candidates per 100 km2 allowed on the inner out-of-fold scores when the operating
#: point is chosen, per imagery kind (else :data:`FP_LIMIT_PER_100KM2`). A model fitted on all
#: the training chips is surer of its false candidates than the inner models that chose its
#: threshold (fitted on four fifths of them). The blend, grouped CV on the chips, seeds 0-9
#: (2026-12-06): chosen at 1.0, 0.77 active recall at 1.01 false per 100 km2 on held-out
#: chips, the target met at 4 seeds of 10; at 0.9, 5 of 10; 0.8, 8; 0.7, 0.73 at 0.71 and 9 of
#: 10; 0.6, 0.70 at 0.60 and 8 of 10. Picked on those same runs (see the README). Measured
#: again on 2026-12-07 at 0.7: 0.77 at 0.59, the target met at 10 of 10.
OPERATING_FP_BY_KIND: dict[str, float] = {"multispectral": 0.7}


def operating_fp_limit(kind: str) -> float:
    """Return the false candidates per 100 km2 at which ``kind``'s operating point is chosen.

    >>> operating_fp_limit("multispectral"), operating_fp_limit("rgb")
    (0.7, 1.0)
    """
    return OPERATING_FP_BY_KIND.get(kind, FP_LIMIT_PER_100KM2)


#: The issue's target on the chips: this active-strip recall at <= FP_LIMIT_PER_100KM2.
TARGET_ACTIVE_RECALL = 0.70
C_L2 = 0.1  # inverse L2 strength of the logistic scorer (standardised features)
#: Gradient-boosted trees (sklearn's HistGradientBoostingClassifier): small trees, many
#: rounds, a slow rate and leaves of at least 10 candidates, so 150 chips do not overfit.
TREES = {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 4, "min_samples_leaf": 10,
         "l2_regularization": 1.0}
#: What differs from :data:`TREES` per imagery kind (see :data:`INNER_REPEATS`).
TREES_BY_KIND: dict[str, dict[str, float | int]] = {"multispectral": {"max_leaf_nodes": 6}}
#: The operating point is chosen on out-of-fold scores pooled over this many inner grouped
#: K-folds, each shuffled with its own seed (one split's threshold sits on a handful of
#: false candidates). Trees alone (the multispectral scorer until 2026-12-06), 6 leaves, four
#: generated worlds (geo.train.SAMPLE_SEEDS), grouped CV on the chips, seeds 0-9, measured on
#: 2026-12-06: active recall 0.69 at 0.89 false per 100 km2, the target met at 3 seeds of 10
#: (the notes of 2026-12-04 said 0.71 at 0.75 and 7 of 10, which neither their commit nor
#: that day's head reproduces; two worlds instead of four: 0.67 at 0.85, 2 of 10; one split,
#: 4 leaves and two worlds: 0.66 at 1.01, 1 of 10). RGB keeps one split: three gave 0.73 at
#: 0.88 against 0.70 at 0.71 (seeds 0-2, 2026-12-04).
INNER_REPEATS: dict[str, int] = {"multispectral": 3}
#: Model family per imagery kind. Multispectral: a blend (BLEND_TREES_WEIGHT trees, the rest
#: logistic). Ranked over a CV seed's held-out folds, at the 10th false candidate (about 1
#: per 100 km2), the trees alone found 14.1 of 21 active strips (mean of seeds 0-9), the
#: logistic model 15.8, the blend 16.2; the logistic model alone passed two wide field
#: clearings of the held-out sample world (precision 7/11), which the trees reject. RGB:
#: trees with the sample scenes found more strips than the logistic model at a like false
#: rate (grouped CV on the chips at 10 and 30 m, CV seeds 0-2: active recall 0.30 against
#: 0.25, inactive 0.14 against 0.07, at 0.99 against 0.97 false per 100 km2).
FAMILY = {"multispectral": "blend", "rgb": "trees"}
#: The trees' share of a blend's score (:class:`geo.detect.scorer.BlendModel`).
BLEND_TREES_WEIGHT = 0.3


@dataclass(frozen=True)
class Scored:
    """One chip's candidates with a score each (the unit metrics are computed over)."""

    result: ChipResult
    scores: tuple[float, ...]


def _xy(results: Sequence[ChipResult], kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the clear cases: on a runway (1) or clear of every runway (0).

    Candidates that only touch the 2-px margin of a runway mask are neither and are left
    out of training (they are still counted, as neither found nor false, in the metrics).
    """
    pairs = [(c, p) for r in results
             for c, p, f in zip(r.candidates, r.positive, r.false, strict=True) if p or f]
    y = np.array([p for _, p in pairs], dtype=bool)
    return feature_matrix([c for c, _ in pairs], kind), y


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


def _fit_logistic(x: np.ndarray, y: np.ndarray, *, kind: str, seed: int,
                  threshold: float = 0.5) -> LogisticModel:
    """Standardised L2 logistic regression on transformed candidate features."""
    lo, hi = np.percentile(x, 1, axis=0), np.percentile(x, 99, axis=0)
    x = np.clip(x, lo, hi)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    clf = LogisticRegression(C=C_L2, class_weight="balanced", max_iter=5000, random_state=seed)
    clf.fit((x - mean) / scale, y)
    return LogisticModel(kind=kind, mean=tuple(mean.tolist()), scale=tuple(scale.tolist()),
                         coef=tuple(clf.coef_[0].tolist()),
                         intercept=float(clf.intercept_[0]), threshold=threshold,
                         lo=tuple(lo.tolist()), hi=tuple(hi.tolist()))


def _fit_trees(x: np.ndarray, y: np.ndarray, *, kind: str, seed: int,
               threshold: float = 0.5) -> TreeModel:
    """Gradient-boosted trees (:data:`TREES`) on transformed candidate features, as plain data.

    The node arrays are read from the fitted classifier's ``_predictors`` and
    ``_baseline_prediction`` (private to scikit-learn, pinned in requirements):
    ``tests/geo/test_detect_learning.py`` checks the copy scores as ``predict_proba`` does.
    """
    clf = HistGradientBoostingClassifier(random_state=seed, class_weight="balanced",
                                         **tree_params(kind))
    clf.fit(x, y)  # one thread (_fit)
    trees = []
    for (pred,) in clf._predictors:
        nodes = pred.nodes
        leaf = nodes["is_leaf"].astype(bool)
        trees.append(Tree(feature=tuple(np.where(leaf, 0, nodes["feature_idx"]).tolist()),
                          threshold=tuple(np.where(leaf, 0.0, nodes["num_threshold"]).tolist()),
                          left=tuple(np.where(leaf, 0, nodes["left"]).tolist()),
                          right=tuple(np.where(leaf, 0, nodes["right"]).tolist()),
                          missing_left=tuple(nodes["missing_go_to_left"].astype(bool).tolist()),
                          value=tuple(nodes["value"].tolist())))
    return TreeModel(kind=kind, baseline=float(np.ravel(clf._baseline_prediction)[0]),
                     trees=tuple(trees), threshold=threshold)


def tree_params(kind: str) -> dict[str, float | int]:
    """Return the boosted trees' settings for ``kind`` (:data:`TREES`, :data:`TREES_BY_KIND`)."""
    return {**TREES, **TREES_BY_KIND.get(kind, {})}


def _fit(x: np.ndarray, y: np.ndarray, *, kind: str, seed: int) -> Model:
    """Fit the family :data:`FAMILY` names for ``kind``, on one thread.

    One thread for every pool, OpenMP (the trees) and BLAS (the logistic regression's
    solver): on a few thousand rows threads cost more than they give (the 20-runway
    evaluation test: 9.2 s against 10.7 s on two idle cores), and beside any other busy
    process their spin-waits starve each other (465 s against 10.7 s with OpenMP threads;
    with BLAS threads the evaluation test burnt 51 CPU-s against 37 in the same 38 s).
    """
    with threadpool_limits(limits=1):
        return _fit_family(x, y, kind=kind, seed=seed)


def _fit_family(x: np.ndarray, y: np.ndarray, *, kind: str, seed: int) -> Model:
    family = FAMILY.get(kind, "logistic")
    if family == "trees":
        return _fit_trees(x, y, kind=kind, seed=seed)
    if family == "blend":
        return BlendModel(kind=kind, trees=_fit_trees(x, y, kind=kind, seed=seed),
                          logistic=_fit_logistic(x, y, kind=kind, seed=seed),
                          weight=BLEND_TREES_WEIGHT, threshold=0.5)
    return _fit_logistic(x, y, kind=kind, seed=seed)


def _out_of_fold(results: Sequence[ChipResult], *, kind: str, seed: int, n_splits: int,
                 extra: Sequence[ChipResult] = ()) -> list[Scored]:
    """Score each chip with a model fitted without its runway (inner grouped K-fold).

    ``extra`` results (generated scenes) join every inner training fold and are never
    scored.
    """
    groups = np.array([r.chip.runway_id for r in results])
    scored: dict[int, Scored] = {}
    folds = GroupKFold(n_splits=min(n_splits, len(set(groups))), shuffle=True,
                       random_state=seed)
    for train, test in folds.split(np.zeros(len(results)), groups=groups):
        x, y = _xy([results[i] for i in train] + list(extra), kind)
        model = _fit(x, y, kind=kind, seed=seed)
        for i in test:
            scored[int(i)] = Scored(results[i], tuple(model.score(results[i].candidates)))
    return [scored[i] for i in range(len(results))]


def fit_model(results: Sequence[ChipResult], *, kind: str, seed: int = 0,
              max_fp_per_100km2: float | None = None, inner_splits: int = 5,
              inner_repeats: int | None = None, extra: Sequence[ChipResult] = ()) -> Model:
    """Fit the scorer on every chip given, with an operating point from held-out scores.

    The threshold is chosen on *out-of-fold* scores of the real chips (inner grouped K-fold
    by runway id), not on the final model's scores of its own training chips, which would
    be optimistic and let far more false candidates through on new imagery, at
    ``max_fp_per_100km2`` (default :func:`operating_fp_limit` of ``kind``); the inner K-fold
    runs ``inner_repeats`` times (default :data:`INNER_REPEATS` for ``kind``, else once;
    seeds ``seed``, ``seed + 1000``, ...) and the threshold is chosen on all their scores
    together. ``extra``
    labelled results (generated scenes, see :func:`geo.detect.chips.sample_results`) are
    added to every fit but never used to choose the threshold.
    """
    x, y = _xy(list(results) + list(extra), kind)
    model = _fit(x, y, kind=kind, seed=seed)
    repeats = INNER_REPEATS.get(kind, 1) if inner_repeats is None else inner_repeats
    held_out = [s for r in range(repeats)
                for s in _out_of_fold(results, kind=kind, seed=seed + 1000 * r,
                                      n_splits=inner_splits, extra=extra)]
    limit = operating_fp_limit(kind) if max_fp_per_100km2 is None else max_fp_per_100km2
    threshold = choose_threshold(held_out, max_fp_per_100km2=limit)
    return replace(model, threshold=threshold)


def score_results(model: Model, results: Sequence[ChipResult]) -> list[Scored]:
    """Score every chip's candidates with ``model``."""
    return [Scored(r, tuple(model.score(r.candidates).tolist())) for r in results]


def compute_metrics(scored: Sequence[Scored], threshold: float) -> dict[str, Any]:
    """Recall on active / inactive / other strips, false candidates per 100 km2, counts.

    ``n_false_on_other_runway``: how many of the ``n_false`` lie on another labelled runway
    of their chip (:attr:`ChipResult.on_other`).
    """
    groups: dict[str, list[bool]] = {"active": [], "inactive": [], "other": []}
    n_false = n_kept = n_false_other = 0
    for s in scored:
        keep = [sc >= threshold for sc in s.scores]
        n_kept += sum(keep)
        n_false += sum(k and f for k, f in zip(keep, s.result.false, strict=True))
        on_other = s.result.on_other or (False,) * len(keep)  # () when no lines were given
        n_false_other += sum(k and o for k, o in zip(keep, on_other, strict=True))
        if s.result.target_px:
            name = {1: "active", 0: "inactive"}.get(s.result.chip.active, "other")
            groups[name].append(any(k and p for k, p in
                                    zip(keep, s.result.positive, strict=True)))
    area = sum(s.result.area_km2 for s in scored)
    out: dict[str, Any] = {f"recall_{k}": (float(np.mean(v)) if v else None)
                           for k, v in groups.items()}
    out.update({f"n_{k}": len(v) for k, v in groups.items()})
    out.update(false_per_100km2=100.0 * n_false / area if area else None, n_false=n_false,
               n_kept=n_kept, n_false_on_other_runway=n_false_other, area_km2=area,
               threshold=threshold)
    return out


def cross_validate(results: Sequence[ChipResult], *, kind: str, n_splits: int = 5,
                   seed: int = 0, extra: Sequence[ChipResult] = ()
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run grouped K-fold by runway id: metrics pooled over the held-out folds, and per fold.

    ``extra`` results (generated scenes) are added to every training fold only.
    """
    groups = np.array([r.chip.runway_id for r in results])
    folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    pooled: list[Scored] = []
    per_fold = []
    for train, test in folds.split(np.zeros(len(results)), groups=groups):
        model = fit_model([results[i] for i in train], kind=kind, seed=seed, extra=extra)
        held_out = score_results(model, [results[i] for i in test])
        # each held-out chip is compared with its own fold's operating point
        pooled += [Scored(s.result, tuple(float(sc >= model.threshold) for sc in s.scores))
                   for s in held_out]
        per_fold.append(compute_metrics(held_out, model.threshold))
    return compute_metrics(pooled, 1.0), per_fold


def summarize_seeds(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean, min and max of the headline metrics over CV seeds, and how many meet the target.

    ``per_seed``: :func:`cross_validate`'s pooled metrics, one per seed. A metric that is
    None for a seed (no active strip among the chips) is left out of its mean; None when
    every seed lacks it. A seed meets the target with active recall >=
    :data:`TARGET_ACTIVE_RECALL` at <= :data:`FP_LIMIT_PER_100KM2` false per 100 km2.
    """
    keys = ("recall_active", "recall_inactive", "false_per_100km2")
    out: dict[str, Any] = {"mean": {}, "min": {}, "max": {}}
    for key in keys:
        vals = [float(m[key]) for m in per_seed if m.get(key) is not None]
        for name, f in (("mean", np.mean), ("min", np.min), ("max", np.max)):
            out[name][key] = float(f(vals)) if vals else None
    out["meets_target"] = sum(
        1 for m in per_seed
        if m.get("recall_active") is not None and m.get("false_per_100km2") is not None
        and m["recall_active"] >= TARGET_ACTIVE_RECALL
        and m["false_per_100km2"] <= FP_LIMIT_PER_100KM2)
    out["target"] = {"recall_active": TARGET_ACTIVE_RECALL,
                     "false_per_100km2": FP_LIMIT_PER_100KM2}
    return out


def rule_baseline(results: Sequence[ChipResult]) -> dict[str, Any]:
    """Metrics of the strict rules alone: every candidate they produce counts."""
    return compute_metrics([Scored(r, (1.0,) * len(r.candidates)) for r in results], 1.0)


def split_by_kind(results: Mapping[str, Sequence[ChipResult]]) -> dict[str, int]:
    """Count candidates per imagery kind (for the report)."""
    return {k: sum(len(r.candidates) for r in v) for k, v in results.items()}
