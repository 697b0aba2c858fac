"""Every hostile or broken file of the catalogue is refused or cleaned, with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import AtalayaError
from geo.ingest import Limits, safe_name
from geo.ingest.__main__ import main
from tests.ingest.common import offer
from tests.ingest.hostile import CATALOGUE, SMALL_CAP

SMALL = Limits(max_upload_bytes=1024 * 1024)


def _limits(case: str) -> Limits | None:
    return SMALL if case in SMALL_CAP else None


@pytest.mark.parametrize("case", sorted(CATALOGUE))
def test_hostile_file_is_refused_or_cleaned(case: str, tmp_path: Path) -> None:
    spec = CATALOGUE[case]
    path = spec.build(tmp_path)
    if spec.outcome == "refused":
        with pytest.raises(AtalayaError) as err:
            offer(path, spec.layer, name=spec.name, limits=_limits(case))
        assert spec.says in str(err.value).lower(), str(err.value)
        assert "\n" not in str(err.value).strip()
    else:
        report = offer(path, spec.layer, name=spec.name, limits=_limits(case))
        assert report.ok
        said = " ".join([*report.warnings, *report.rejected["reason"]]).lower()
        assert spec.says in said, said


@pytest.mark.parametrize("case", sorted(CATALOGUE))
def test_cli_never_shows_a_traceback(case: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = CATALOGUE[case]
    path = spec.build(tmp_path)
    if case in SMALL_CAP:
        monkeypatch.setenv("ATALAYA_MAX_UPLOAD_MB", "1")
    data = tmp_path / "data"
    data.mkdir()
    code = main([str(path), "--layer", spec.layer, "--dry-run", "--data-dir", str(data)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if spec.outcome == "refused":
        assert code == 1
        assert err.startswith("refused: "), err
        assert err.count("\n") == 1, err
    else:
        assert code == 0, err
        assert "accepted" in out
    assert sorted(p.name for p in data.iterdir()) == []  # dry run: nothing written


def test_nan_row_rejected_good_row_kept(tmp_path: Path) -> None:
    report = offer(CATALOGUE["geojson-nan"].build(tmp_path), "aerodromes")
    assert report.counts == {"rows": 2, "accepted": 1, "rejected": 1}
    assert report.accepted["ident"].tolist() == ["GOOD"]
    assert report.rejected_rows()[0].row == 2


def test_out_of_range_and_swapped_are_told_apart(tmp_path: Path) -> None:
    report = offer(CATALOGUE["geojson-out-of-range"].build(tmp_path), "aerodromes")
    reasons = dict(zip(report.rejected["ident"], report.rejected["reason"], strict=True))
    assert "out of range" in reasons["FAR"]
    assert "swapped" in reasons["SW"]
    assert report.accepted["ident"].tolist() == ["OK"]


def test_million_vertex_polygon_refused_before_repair(tmp_path: Path) -> None:
    import time

    path = CATALOGUE["million-vertices"].build(tmp_path)
    start = time.perf_counter()
    report = offer(path, "areas")
    assert time.perf_counter() - start < 30
    assert report.accepted["name"].tolist() == ["small"]
    assert "1,000,001 vertices" in report.rejected["reason"].iloc[0]


def test_bowtie_is_repaired_into_a_multipolygon(tmp_path: Path) -> None:
    report = offer(CATALOGUE["self-intersecting"].build(tmp_path), "areas")
    kinds = dict(zip(report.accepted["name"], report.accepted.geometry.geom_type, strict=True))
    assert kinds == {"bowtie": "MultiPolygon", "square": "Polygon"}
    assert report.accepted.geometry.is_valid.all()


def test_mixed_geometries_keep_only_points_for_events(tmp_path: Path) -> None:
    report = offer(CATALOGUE["mixed-geometries"].build(tmp_path), "events")
    assert report.counts["accepted"] == 1
    assert all("layer takes Point" in r for r in report.rejected["reason"])


def test_encodings_give_the_same_rows(tmp_path: Path) -> None:
    latin = offer(CATALOGUE["csv-latin1"].build(tmp_path), "events")
    utf16 = offer(CATALOGUE["csv-utf16-bom"].build(tmp_path), "events")
    for report in (latin, utf16):
        assert report.counts == {"rows": 2, "accepted": 2, "rejected": 0}
        assert report.accepted["description"].iloc[0] == "Incautación en el VRAEM"
        assert report.accepted["event_type"].tolist() == ["seizure", "interdiction"]
        assert report.accepted["quantity_kg"].tolist() == [1234.5, 12.0]


def test_formulas_stay_text_and_are_neutralised_in_rejected_csv(tmp_path: Path) -> None:
    report = offer(CATALOGUE["csv-formula"].build(tmp_path), "events")
    assert report.accepted["description"].iloc[0].startswith("=HYPERLINK(")
    assert report.counts["rejected"] == 1
    text = report.rejected_csv().decode("utf-8-sig")
    assert "'=cmd|/c calc" in text
    assert "'@SUM(1)" in text
    assert ",=" not in text
    assert ",@" not in text
    assert ",+" not in text


def test_script_description_kept_as_text_with_warning(tmp_path: Path) -> None:
    report = offer(CATALOGUE["csv-script"].build(tmp_path), "events")
    assert report.accepted["description"].iloc[0].startswith("<script>")
    assert any("html" in w.lower() for w in report.warnings)


def test_hostile_file_name_is_made_safe(tmp_path: Path) -> None:
    spec = CATALOGUE["bad-file-name"]
    report = offer(spec.build(tmp_path), "events", name=spec.name)
    shown = report.accepted["source_file"].iloc[0]
    assert shown == safe_name(str(spec.name))
    assert "/" not in shown
    assert "\\" not in shown
    assert ".." not in shown
    assert all(ord(c) >= 32 for c in shown)


def test_tiff_bomb_refused_on_its_header(tmp_path: Path) -> None:
    path = CATALOGUE["tiff-decompression-bomb"].build(tmp_path)
    assert path.stat().st_size < 2 * 1024 * 1024  # tiny file, 144 MB of pixels
    with pytest.raises(AtalayaError, match="decompression bomb"):
        offer(path, "scenes")
