"""A learned candidate scorer stored as plain JSON (no code runs when it is loaded).

The model is a standardised logistic regression over transformed candidate features (shape,
ridge and profile measures, band contrasts centre-vs-flanks), one per imagery kind
(``multispectral`` and ``rgb``), with the operating point (score threshold) chosen on
held-out scores of the training data and the provenance of that data beside it.
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
                      ("ndwi_in", "id"), ("water_dist_m", "log1p")),
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
        raw = feature_matrix(cands, self.kind)
        if self.lo and self.hi:
            raw = np.clip(raw, np.array(self.lo), np.array(self.hi))
        x = (raw - np.array(self.mean)) / np.array(self.scale)
        z = x @ np.array(self.coef) + self.intercept
        out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary, feature names included."""
        return {"kind": self.kind, "features": [f"{how}({n})" for n, how in FEATURES[self.kind]],
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
class Scorer:
    """The models of one scorer file, by imagery kind, plus the training provenance."""

    models: dict[str, LogisticModel]
    provenance: dict[str, Any] = field(default_factory=dict)

    def model_for(self, kind: str) -> LogisticModel | None:
        """Return the model for ``kind`` (``multispectral`` or ``rgb``), or None."""
        return self.models.get(kind)


def write_scorer(scorer: Scorer, path: str | Path) -> None:
    """Write the scorer as indented JSON (small: a few kB)."""
    doc = {"format": "atalaya-runway-scorer/1",
           "models": {k: m.to_dict() for k, m in scorer.models.items()},
           "provenance": scorer.provenance}
    Path(path).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_scorer(path: str | Path = DEFAULT_MODEL) -> Scorer:
    """Read a scorer written by :func:`write_scorer` (JSON only: nothing executes)."""
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"scorer {p} not found; train one with "
                                "python -m geo.train --chips DIR --out " + str(p))
    doc = json.loads(p.read_text(encoding="utf-8"))
    if doc.get("format") != "atalaya-runway-scorer/1":
        raise ConfigError(f"{p} is not an Atalaya runway scorer (format {doc.get('format')!r})")
    models = {k: LogisticModel.from_dict(v) for k, v in doc["models"].items()}
    return Scorer(models=models, provenance=dict(doc.get("provenance", {})))


def heuristic_score(cands: Sequence[RawCandidate]) -> np.ndarray:
    """Rule-only score in [0, 1] from the strip's contrast over its brighter flank (z units).

    0.6 (the strict rules' ``min_contrast``) maps to 0.5 and 1.5 to about 0.94.
    """
    ev = np.array([c.feature("contrast") for c in cands], dtype=float)
    out: np.ndarray = 1.0 / (1.0 + np.exp(-3.0 * (np.nan_to_num(ev) - 0.6)))
    return out
