"""The image chips of an alert on a page, run by Streamlit's test harness (no browser)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from streamlit.testing.v1 import AppTest

from geo.sample.scenes import SceneSpec
from geo.sample.world import generate_world
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def scene_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chips_world")
    generate_world(out, seed=5, n_events=100, n_candidates=5, scene_spec=SceneSpec(size_px=600))
    return out


def _page(data_dir: str, store_url: str, scene_id: str) -> None:
    import sys
    from pathlib import Path

    from geo.i18n import translator
    from geo.imagechips import scene_refs
    from geo.store import list_alerts, merge_candidates, open_store
    from geo.world import read_world

    sys.path.insert(0, str(Path.cwd()))
    from ui.chips import cut_chips, render_chips

    world = read_world(Path(data_dir))
    store = open_store(store_url)
    merge_candidates(store, world["candidates"])
    alert = next(a for a in list_alerts(store) if a.scene_id == scene_id)
    t = translator("en")
    render_chips(store, cut_chips(store, alert, t, scenes=scene_refs(world["scenes"],
                                                                      world.data_dir), user=""), t)


def test_an_alert_from_the_scenes_shows_chips_at_both_dates(scene_world: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.chdir(ROOT)
    cand = gpd.read_file(scene_world / "candidates.geojson")
    scene_id = str(cand.loc[cand["scene_id"] != "sample", "scene_id"].iloc[-1])
    url = f"sqlite:///{tmp_path}/alerts.sqlite3"
    at = AppTest.from_function(_page, args=(str(scene_world), url, scene_id),
                               default_timeout=60)
    at.run()
    assert not at.exception
    images = at.get("image")
    assert len(images) == 4  # two dates, true and false colour
    heads = [c.value for c in at.caption if "m pixels" in c.value]
    assert all(h.endswith("10.0 m pixels") for h in heads), heads  # the scene's, not the chip's
    assert [h.split(" · ")[0] for h in heads] == ["Before", "After"]
    at.run()  # a second view reads the kept chips: nothing new is cut
    assert not at.exception
    from geo.store import list_alerts, open_store, read_attachments

    with open_store(url) as store:
        alert = next(a for a in list_alerts(store) if a.scene_id == scene_id)
        kept = read_attachments(store, alert.id)
        assert len(kept) == 4
    # the alert's map lays the newest true-colour chip under the strip
    from geo.store.chips import StoredChips
    from ui.chips import map_chip

    under = map_chip(StoredChips(chips=tuple(kept)))
    assert under is not None
    assert under.meta["composite"] == "true_colour"
    assert under.meta["date"] == max(c.meta["date"] for c in kept)
    assert map_chip(StoredChips(chips=())) is None


def test_an_alert_without_imagery_says_so(scene_world: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    at = AppTest.from_function(_page, args=(str(scene_world), f"sqlite:///{tmp_path}/a.sqlite3",
                                            "sample"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any("No scene of the imagery catalogue covers this alert" in c.value
               for c in at.caption)


def _page_in(data_dir: str, store_url: str, scene_id: str, locale_dir: str) -> None:
    """Show the chips of ``scene_id``'s alert in Spanish, from the catalogue in ``locale_dir``."""
    import sys
    from pathlib import Path

    from geo.i18n import Translator
    from geo.imagechips import scene_refs
    from geo.store import list_alerts, merge_candidates, open_store
    from geo.world import read_world

    sys.path.insert(0, str(Path.cwd()))
    from ui.chips import cut_chips, render_chips

    world = read_world(Path(data_dir))
    store = open_store(store_url)
    merge_candidates(store, world["candidates"])
    alert = next(a for a in list_alerts(store) if a.scene_id == scene_id)
    t = Translator("es", locale_dir=Path(locale_dir))
    render_chips(store, cut_chips(store, alert, t, scenes=scene_refs(world["scenes"],
                                                                      world.data_dir), user=""), t)


def test_a_scene_that_gives_no_chip_says_why_in_the_readers_language(
        scene_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Spanish is the one handed over in tr_imagery.json, in the test's own catalogue."""
    import shutil

    from tests.catalogues import write_catalogue
    from ui.text import escape_markdown

    monkeypatch.chdir(ROOT)
    world = tmp_path / "world"
    shutil.copytree(scene_world, world, ignore=shutil.ignore_patterns("atalaya.sqlite3*"))
    cand = gpd.read_file(world / "candidates.geojson")
    scene_id = str(cand.loc[cand["scene_id"] != "sample", "scene_id"].iloc[-1])
    broken = sorted((world / "scenes").glob("*.tif"))[0]
    broken.write_text("<VRTDataset>not a tiff</VRTDataset>")
    locales = write_catalogue(tmp_path / "locales", {
        "{name} is not a readable GeoTIFF ({cause}); only GeoTIFF scenes are accepted":
            "{name} no es un GeoTIFF legible ({cause}); solo se aceptan escenas GeoTIFF"})
    at = AppTest.from_function(_page_in, args=(str(world), f"sqlite:///{tmp_path}/a.sqlite3",
                                               scene_id, str(locales)), default_timeout=60)
    at.run()
    assert not at.exception
    assert len(at.warning) == 1
    reason = [c.value for c in at.caption if "GeoTIFF" in c.value]
    assert len(reason) == 1
    assert reason[0].startswith(escape_markdown(f"{broken.name} no es un GeoTIFF legible ("))
    assert reason[0].endswith(escape_markdown("); solo se aceptan escenas GeoTIFF"))
