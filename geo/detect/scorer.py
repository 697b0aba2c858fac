"""A learned candidate scorer stored as plain JSON (no code runs when it is loaded).

One model per imagery kind (``multispectral`` and ``rgb``) over transformed candidate
features (shape, ridge and profile measures, band contrasts centre-vs-flanks, continuation
past the strip's ends), either gradient-boosted trees kept as flat node arrays
(:class:`TreeModel`), a standardised logistic regression (:class:`LogisticModel`) or a
weighted mean of the two (:class:`BlendModel`), with
the operating point (score threshold) chosen on held-out scores of the training data and the
provenance of that data beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.detect.window import RawCandidate
from geo.errors import ConfigError, DataNotFoundError

_SHAPE: tuple[tuple[str, str], ...] = (
    ("length_m", "log"), ("width_m", "log"), ("elongation", "log"), ("fill", "id"),
    ("bend_m", "log1p"), ("traced_m", "log"), ("in_frac", "id"),
)
_EVIDENCE: tuple[tuple[str, str], ...] = (
    ("evidence", "id"), ("evidence_std", "id"), ("flank_max", "id"), ("contrast", "id"),
    ("frac_on", "id"), ("extension", "id"), ("ridge_mean", "id"), ("ridge_max", "id"),
    ("blue_c", "id"), ("green_c", "id"), ("red_c", "id"),
)
#: Features (and the transform applied first) per imagery kind, in model order.
FEATURES: dict[str, tuple[tuple[str, str], ...]] = {
    "multispectral": (*_SHAPE, *_EVIDENCE, ("nir_c", "id"), ("swir1_c", "id"),
                      ("swir2_c", "id"), ("ndvi_c", "id"), ("ndwi_c", "id"), ("ndvi_in", "id"),
                      ("ndwi_in", "id"), ("water_dist_m", "log1p"), ("through", "id"),
                      ("width_m", "over40")),
    "rgb": (*_SHAPE, *_EVIDENCE, ("polarity", "id")),
}
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "runway_scorer.json"


def feature_matrix(cands: Sequence[RawCandidate], kind: str) -> np.ndarray:
    """Return transformed features, shape (n, k); missing values become 0 after the transform."""
    spec = FEATURES[kind]
    raw = np.array([[c.feature(name) for name, _ in spec] for c in cands],
                   dtype=float).reshape(len(cands), len(spec))
    out = np.empty_like(raw)
    for j, (_, how) in enumerate(spec):
        col = raw[:, j]
        if how == "log":
            col = np.log(np.clip(col, 1e-3, None))
        elif how == "log1p":
            col = np.log1p(np.clip(col, 0.0, None))
        elif how == "over40":  # log of how many times wider than 40 m (else 0): strips are
            col = np.log(np.clip(col, 40.0, None) / 40.0)  # 8-30 m, fields and clearings wider
        out[:, j] = col
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class LogisticModel:
    """Standardised logistic regression: ``sigmoid(((x - mean) / scale) @ coef + intercept)``.

    Each transformed feature is first clipped to ``[lo, hi]``, the 1-99 % range seen in
    training, so imagery unlike the training chips (saturated synthetic strips, another
    sensor) is not scored by extrapolating a linear model far outside its data.
    """

    kind: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    lo: tuple[float, ...] = ()
    hi: tuple[float, ...] = ()

    def score(self, cands: Sequence[RawCandidate]) -> np.ndarray:
        """Probability-like score in [0, 1] of each candidate being a runway."""
        if not cands:
            return np.zeros(0)
        return self.score_matrix(feature_matrix(cands, self.kind))

    def score_matrix(self, raw: np.ndarray) -> np.ndarray:
        """Scores of already transformed features (n, k)."""
        if self.lo and self.hi:
            raw = np.clip(raw, np.array(self.lo), np.array(self.hi))
        x = (raw - np.array(self.mean)) / np.array(self.scale)
        z = x @ np.array(self.coef) + self.intercept
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, feature names included."""
        return {"kind": self.kind, "family": "logistic",
                "features": [f"{how}({n})" for n, how in FEATURES[self.kind]],
                "mean": list(self.mean), "scale": list(self.scale), "coef": list(self.coef),
                "intercept": self.intercept, "threshold": self.threshold,
                "lo": list(self.lo), "hi": list(self.hi)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogisticModel:
        """Inverse of :meth:`to_dict`; checks the kind and the vector lengths."""
        kind = str(d.get("kind"))
        if kind not in FEATURES:
            raise ConfigError(f"model kind {kind!r} unknown; expected one of {list(FEATURES)}")
        k = len(FEATURES[kind])
        vecs = {n: tuple(float(v) for v in d.get(n, ())) for n in ("mean", "scale", "coef",
                                                                  "lo", "hi")}
        if any(len(v) != k for n, v in vecs.items() if n not in ("lo", "hi") or v):
            raise ConfigError(f"{kind} model vectors must have {k} values each; retrain it")
        return cls(kind=kind, intercept=float(d["intercept"]),
                   threshold=float(d["threshold"]), **vecs)


@dataclass(frozen=True)
class Tree:
    """One regression tree as flat node arrays (sklearn's layout; leaves have ``left == 0``).

    A row goes left at a node when its feature value is ``<= threshold`` (or is NaN and
    ``missing_left``); ``value`` is added to the raw score at the leaf it ends in.
    """

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    missing_left: tuple[bool, ...]
    value: tuple[float, ...]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Leaf value of each row of ``x`` (n, k)."""
        feature, thr = np.array(self.feature), np.array(self.threshold)
        left, right = np.array(self.left), np.array(self.right)
        missing_left = np.array(self.missing_left, dtype=bool)
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        for _ in range(len(self.feature)):  # depth never exceeds the node count
            inner = left[node] != 0
            if not inner.any():
                break
            v = x[rows, feature[node]]
            go_left = np.where(np.isnan(v), missing_left[node], v <= thr[node])
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        out: np.ndarray = np.array(self.value)[node]
        return out

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain JSON-ready node arrays."""
        return {"feature": list(self.feature), "threshold": list(self.threshold),
                "left": list(self.left), "right": list(self.right),
                "missing_left": [int(b) for b in self.missing_left], "value": list(self.value)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], n_features: int) -> Tree:
        """Inverse of :meth:`to_dict`; checks that every index stays in range."""
        try:
            t = cls(feature=tuple(int(v) for v in d["feature"]),
                    threshold=tuple(float(v) for v in d["threshold"]),
                    left=tuple(int(v) for v in d["left"]), right=tuple(int(v) for v in d["right"]),
                    missing_left=tuple(bool(v) for v in d["missing_left"]),
                    value=tuple(float(v) for v in d["value"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed tree in the scorer: {exc}") from exc
        n = len(t.feature)
        if not n or any(len(a) != n for a in (t.threshold, t.left, t.right, t.missing_left,
                                                t.value)):
            raise ConfigError("malformed tree in the scorer: node arrays differ in length")
        inner = [i for i in range(n) if t.left[i] != 0]
        if any(not (0 <= t.feature[i] < n_features and i < t.left[i] < n and i < t.right[i] < n)
               for i in inner):
            raise ConfigError("malformed tree in the scorer: an index is out of range")
        return t


@dataclass(frozen=True)
class TreeModel:
    """Gradient-boosted trees: ``sigmoid(baseline + sum of the trees' leaf values)``.

    Trees split the transformed features of :data:`FEATURES` directly, so they can learn
    what a linear score cannot (a width that is right only within a range, a strip that is
    bright in red but must also end at both ends).
    """

    kind: str
    baseline: float
    trees: tuple[Tree, ...]
    threshold: float

    def score(self, cands: Sequence[RawCandidate]) -> np.ndarray:
        """Probability-like score in [0, 1] of each candidate being a runway."""
        if not cands:
            return np.zeros(0)
        return self.score_matrix(feature_matrix(cands, self.kind))

    def score_matrix(self, x: np.ndarray) -> np.ndarray:
        """Scores of already transformed features (n, k)."""
        z = np.full(len(x), self.baseline)
        for t in self.trees:
            z += t.raw(x)
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, feature names included."""
        return {"kind": self.kind, "family": "trees",
                "features": [f"{how}({n})" for n, how in FEATURES[self.kind]],
                "baseline": self.baseline, "threshold": self.threshold,
                "trees": [t.to_dict() for t in self.trees]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TreeModel:
        """Inverse of :meth:`to_dict`; checks the kind, feature count and every tree."""
        kind = str(d.get("kind"))
        if kind not in FEATURES:
            raise ConfigError(f"model kind {kind!r} unknown; expected one of {list(FEATURES)}")
        if len(d.get("features", ())) != len(FEATURES[kind]):
            raise ConfigError(f"{kind} model was trained on other features; retrain it")
        trees = tuple(Tree.from_dict(t, len(FEATURES[kind])) for t in d.get("trees", ()))
        return cls(kind=kind, baseline=float(d["baseline"]), trees=trees,
                   threshold=float(d["threshold"]))


@dataclass(frozen=True)
class BlendModel:
    """A weighted mean of a trees model's and a logistic model's scores.

    Fitted on the same candidates, the two err differently: the linear score ranks the
    real chips' strips better (it cannot chase the few hundred training candidates), the
    trees reject what a direction in feature space cannot (a generated world's wide field
    clearings, bright and straight like strips). ``weight`` is the trees' share, in [0, 1].
    """

    kind: str
    trees: TreeModel
    logistic: LogisticModel
    weight: float
    threshold: float

    def score(self, cands: Sequence[RawCandidate]) -> np.ndarray:
        """Probability-like score in [0, 1] of each candidate being a runway."""
        if not cands:
            return np.zeros(0)
        x = feature_matrix(cands, self.kind)  # once, for both parts
        out: np.ndarray = (self.weight * self.trees.score_matrix(x)
                           + (1.0 - self.weight) * self.logistic.score_matrix(x))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary: both parts (each with its own unused threshold)."""
        return {"kind": self.kind, "family": "blend",
                "features": [f"{how}({n})" for n, how in FEATURES[self.kind]],
                "weight": self.weight, "threshold": self.threshold,
                "trees": self.trees.to_dict(), "logistic": self.logistic.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlendModel:
        """Inverse of :meth:`to_dict`; each part is checked as a model of its own family."""
        kind = str(d.get("kind"))
        tree_part, linear_part = d.get("trees"), d.get("logistic")
        if not (isinstance(tree_part, dict) and isinstance(linear_part, dict)):
            raise ConfigError("malformed blend in the scorer: it needs a trees and a "
                              "logistic part")
        trees, logistic = TreeModel.from_dict(tree_part), LogisticModel.from_dict(linear_part)
        try:
            weight = float(d["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed blend in the scorer: {exc}") from exc
        if not 0.0 <= weight <= 1.0 or trees.kind != kind or logistic.kind != kind:
            raise ConfigError("malformed blend in the scorer: its weight must lie in [0, 1] "
                              "and both parts be of its kind")
        return cls(kind=kind, trees=trees, logistic=logistic, weight=weight,
                   threshold=float(d["threshold"]))


Model = LogisticModel | TreeModel | BlendModel


def model_from_dict(d: dict[str, Any]) -> Model:
    """Read one model of any family (``logistic``, the default, ``trees`` or ``blend``)."""
    family = d.get("family", "logistic")
    if family == "trees":
        return TreeModel.from_dict(d)
    if family == "logistic":
        return LogisticModel.from_dict(d)
    if family == "blend":
        return BlendModel.from_dict(d)
    raise ConfigError(f"model family {family!r} unknown; expected logistic, trees or blend")


@dataclass(frozen=True)
class Scorer:
    """The models of one scorer file, by imagery kind, plus the training provenance."""

    models: dict[str, Model]
    provenance: dict[str, Any] = field(default_factory=dict)

    def model_for(self, kind: str) -> Model | None:
        """Return the model for ``kind`` (``multispectral`` or ``rgb``), or None."""
        return self.models.get(kind)


def _dumps(obj: Any, depth: int = 0) -> str:
    """Indented JSON with sorted keys whose lists of plain values stay on one line each."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(obj[k], depth + 1)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list) and any(isinstance(v, dict | list) for v in obj):
        return "[\n" + ",\n".join(inner + _dumps(v, depth + 1) for v in obj) + f"\n{pad}]"
    return json.dumps(obj)


def write_scorer(scorer: Scorer, path: str | Path) -> None:
    """Write the scorer as indented JSON (tens of kB: trees' node arrays one line each)."""
    doc = {"format": "atalaya-runway-scorer/1",
           "models": {k: m.to_dict() for k, m in scorer.models.items()},
           "provenance": scorer.provenance}
    Path(path).write_text(_dumps(doc) + "\n", encoding="utf-8")


def read_scorer(path: str | Path = DEFAULT_MODEL) -> Scorer:
    """Read a scorer written by :func:`write_scorer` (JSON only: nothing executes)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"scorer {p} not found; train one with "
                                "python -m geo.train --chips DIR --out " + str(p))
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != "atalaya-runway-scorer/1":
            found = doc.get("format") if isinstance(doc, dict) else None
            raise ConfigError(f"{p} is not an Atalaya runway scorer (format {found!r})")
        models = {k: model_from_dict(v) for k, v in doc["models"].items()}
        return Scorer(models=models, provenance=dict(doc.get("provenance", {})))
    except ConfigError:
        raise  # already says what is wrong
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field missing or mistyped
        raise ConfigError(f"malformed runway scorer {p}: {type(exc).__name__} {exc}") from exc


def heuristic_score(cands: Sequence[RawCandidate]) -> np.ndarray:
    """Rule-only score in [0, 1] from the strip's contrast over its brighter flank (z units).

    0.6 (the strict rules' ``min_contrast``) maps to 0.5 and 1.5 to about 0.94.
    """
    ev = np.array([c.feature("contrast") for c in cands], dtype=float)
    out: np.ndarray = 1.0 / (1.0 + np.exp(-3.0 * (np.nan_to_num(ev) - 0.6)))
    return out
