"""Chip folders the evaluation and training refuse with a clear reason (no traceback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geo.detect.chips import Chip, check_folds, list_chips, process_chip
from geo.detect.params import DetectionParams
from geo.errors import ConfigError, DataNotFoundError, ImageryError
from geo.evaluate import main as evaluate_main
from geo.train import main as train_main


def _chips(*runway_ids: str) -> list[Chip]:
    return [Chip(sdata=Path(f"{r}_2020_active1_runway1_sdata.tiff"), target=None,
                 runway_id=r, active=1, has_runway_flag=True) for r in runway_ids]


@pytest.mark.parametrize(("runways", "folds", "ok"), [
    (("1", "2", "3", "4"), 2, True),
    (("1", "2", "3", "4", "5"), 5, True),  # one runway held out, four to train on
    (("1", "2", "3"), 2, False),  # the fold of two leaves one runway to train on
    (("1", "2", "3"), 5, False),
    (("1", "2", "3", "4"), 1, False),
    (("1", "2", "3", "4"), 0, False),
])
def test_folds_need_runways_to_hold_out_and_to_train_on(runways, folds, ok):
    if ok:
        check_folds(_chips(*runways), folds)
    else:
        with pytest.raises(ConfigError, match="fold"):
            check_folds(_chips(*runways), folds)


def _write_chip(folder: Path, name: str, *, target: bytes | None = None) -> Path:
    folder.mkdir(parents=True)
    sdata = folder / f"{name}_sdata.tiff"
    with rasterio.open(sdata, "w", driver="GTiff", width=64, height=64, count=8,
                       dtype="uint16", crs="EPSG:32718",
                       transform=from_origin(500_000, 8_900_000, 10, 10)) as dst:
        dst.write(np.full((8, 64, 64), 1200, dtype="uint16"))
    if target is not None:
        (folder / f"{name}_target.tiff").write_bytes(target)
    return sdata


def test_a_chip_folder_problem_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="is a file"):
        list_chips(_write_chip(tmp_path / "a" / "1_2020_0", "1_2020_active1_runway0"))
    _write_chip(tmp_path / "b" / "2_2020_0", "2_2020_active1_runway1")
    with pytest.raises(DataNotFoundError, match=r"has no 2_2020_active1_runway1_target\.tiff"):
        list_chips(tmp_path / "b")
    _write_chip(tmp_path / "c" / "3_2020_0", "3_2020_active1_runway1", target=b"not a tiff")
    [chip] = list_chips(tmp_path / "c")
    with pytest.raises(ImageryError, match=r"3_2020_active1_runway1_target\.tiff cannot be read"):
        process_chip(chip, params=DetectionParams().permissive())


def test_the_commands_say_what_is_wrong_in_one_line(tmp_path, capsys):
    _write_chip(tmp_path / "c" / "1_2020_0", "1_2020_active1_runway0")
    assert evaluate_main(["--chips", str(tmp_path / "c"), "--folds", "2",
                          "--json", str(tmp_path / "e.json")]) == 1
    err = capsys.readouterr().err
    assert "1 runway id(s) in the chips cannot make 2 folds" in err
    assert "Traceback" not in err
    assert not (tmp_path / "e.json").exists()
    with pytest.raises(SystemExit):
        evaluate_main(["--chips", str(tmp_path / "c"), "--repeats", "0"])
    assert "--repeats: must be a whole number of at least 1, got '0'" in capsys.readouterr().err
    assert train_main(["--chips", str(tmp_path / "c"), "--out", str(tmp_path / "m.json")]) == 1
    assert "training needs at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the detector's model is replaced only when named
        train_main(["--chips", str(tmp_path / "c")])
    assert "--out" in capsys.readouterr().err
    (tmp_path / "lines.geojson").write_text('{"type": "FeatureCollection", "features": [')
    # read before the chips are worked on
    assert evaluate_main(["--chips", str(tmp_path / "c"), "--centrelines",
                          str(tmp_path / "lines.geojson"), "--json", str(tmp_path / "x.json")]) == 1
    err = capsys.readouterr().err
    assert "runway centrelines lines.geojson cannot be read" in err
    assert "Traceback" not in err
