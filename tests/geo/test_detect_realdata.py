"""Real data: the committed scorer on a subset of the Peru chips, and the Pensacola negative."""

from __future__ import annotations

import json

import pytest

from geo.detect.chips import list_chips, process_chip
from geo.detect.params import DetectionParams
from geo.detect.scorer import DEFAULT_MODEL, read_scorer
from tests.conftest import SHARED_DATA, require

CHIPS = SHARED_DATA / "runways-peru-s2" / "chips"

pytestmark = pytest.mark.realdata


def test_committed_model_is_small_json_with_provenance():
    assert DEFAULT_MODEL.stat().st_size < 200_000
    doc = json.loads(DEFAULT_MODEL.read_text())
    prov = doc["provenance"]
    assert prov["file_count"] == 150
    assert len(prov["file_list_sha256"]) == 64
    assert set(doc["models"]) == {"multispectral", "rgb"}


def test_scorer_on_a_subset_of_peru_chips():
    require(CHIPS.is_dir(), f"{CHIPS} is absent")
    chips = [c for c in list_chips(CHIPS) if c.active == 1][:8]
    model = read_scorer().model_for("multispectral")
    assert model is not None
    results = [process_chip(c, params=DetectionParams().permissive()) for c in chips]
    scores = [s for r in results for s in model.score(r.candidates)]
    assert scores
    assert all(0.0 <= s <= 1.0 for s in scores)
    # positives outrank false candidates on average (the model learned something)
    pos = [s for r in results for s, p in zip(model.score(r.candidates), r.positive,
                                              strict=True) if p]
    neg = [s for r in results for s, f in zip(model.score(r.candidates), r.false,
                                              strict=True) if f]
    assert pos
    assert neg
    assert sum(pos) / len(pos) > sum(neg) / len(neg)
