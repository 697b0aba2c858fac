"""The architecture's boundaries, proved: geo/ works with neither streamlit nor folium."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import geo
import layers
from tests.conftest import ROOT


def _modules(package) -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))


def _import_without(blocked: list[str], modules: list[str]) -> subprocess.CompletedProcess[str]:
    code = "\n".join([
        "import importlib, sys",
        *(f"sys.modules[{name!r}] = None" for name in blocked),
        f"for name in {modules!r}:",
        "    importlib.import_module(name)",
        "print('ok', len(" + repr(modules) + "))",
    ])
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def test_geo_imports_without_streamlit_and_folium():
    modules = _modules(geo)
    assert "geo.schema" in modules
    assert "geo.sample" in modules
    result = _import_without(["streamlit", "folium", "streamlit_folium", "branca"], modules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_layers_import_without_streamlit():
    result = _import_without(["streamlit", "streamlit_folium"], _modules(layers))
    assert result.returncode == 0, result.stderr


#: What other tests write at the top of the checkout while this one runs beside them (make
#: test runs two workers): screenshots and load figures, Hypothesis's example database.
TEST_OUTPUTS = frozenset({"artifacts", ".hypothesis"})


def test_importing_geo_writes_nothing(tmp_path):
    before = {p.name for p in ROOT.iterdir()}
    result = _import_without([], _modules(geo))
    assert result.returncode == 0, result.stderr
    assert {p.name for p in ROOT.iterdir()} - before - TEST_OUTPUTS == set()
