"""Numba's kernel caches are dropped when any kernel source changes (geo.kernel_cache)."""

from __future__ import annotations

import re
from pathlib import Path

from geo.kernel_cache import KERNEL_SOURCES, STAMP_NAME, drop_stale

ROOT = Path(__file__).resolve().parent.parent


def _kernels(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two kernel sources in one folder, their caches, and an unrelated module's cache."""
    (tmp_path / "__pycache__").mkdir()
    a, b = tmp_path / "a_kernel.py", tmp_path / "b_kernel.py"
    a.write_text("def f(): return 1\n")
    b.write_text("def g(): return a.f()\n")
    for name in ("a_kernel.f-1.py311.nbi", "a_kernel.f-1.py311.1.nbc",
                 "b_kernel.g-1.py311.nbi", "other.h-3.py311.nbi", "a_kernel.cpython-311.pyc"):
        (tmp_path / "__pycache__" / name).write_text("x")
    return a, b, tmp_path / "__pycache__"


def _left(cache: Path) -> set[str]:
    return {f.name for f in cache.iterdir() if f.name != STAMP_NAME}


def test_caches_of_unknown_provenance_are_dropped_and_the_stamp_written(tmp_path):
    a, b, cache = _kernels(tmp_path)
    dropped = drop_stale((a, b))
    assert {f.name for f in dropped} == {"a_kernel.f-1.py311.nbi", "a_kernel.f-1.py311.1.nbc",
                                         "b_kernel.g-1.py311.nbi"}
    assert _left(cache) == {"other.h-3.py311.nbi", "a_kernel.cpython-311.pyc"}
    assert (cache / STAMP_NAME).read_text()


def test_unchanged_sources_keep_their_caches(tmp_path):
    a, b, cache = _kernels(tmp_path)
    drop_stale((a, b))
    (cache / "a_kernel.f-1.py311.nbi").write_text("compiled again")
    assert drop_stale((a, b)) == []
    assert "a_kernel.f-1.py311.nbi" in _left(cache)


def test_a_change_to_a_called_file_drops_the_callers_cache_too(tmp_path):
    """What Numba does not do: ``b`` calls ``a``; only ``a`` changes; ``b``'s code is stale."""
    a, b, cache = _kernels(tmp_path)
    drop_stale((a, b))
    (cache / "b_kernel.g-1.py311.nbi").write_text("compiled against the old a")
    a.write_text("def f(): return 2\n")
    assert [f.name for f in drop_stale((a, b))] == ["b_kernel.g-1.py311.nbi"]
    assert drop_stale((a, b)) == []  # the new stamp holds


def test_another_numba_drops_the_caches(tmp_path):
    a, b, cache = _kernels(tmp_path)
    drop_stale((a, b), extra="numba 0.1")
    (cache / "a_kernel.f-1.py311.nbi").write_text("x")
    assert drop_stale((a, b), extra="numba 0.1") == []
    assert len(drop_stale((a, b), extra="numba 0.2")) == 1


def test_every_module_with_cached_kernels_is_listed():
    cached = {p.resolve() for p in (ROOT / "geo").rglob("*.py")
              if re.search(r"@numba\.njit\([^)]*cache=True", p.read_text())}
    assert cached == set(KERNEL_SOURCES)
    for path in KERNEL_SOURCES:  # and each checks the caches before its kernels run
        assert "\nensure_fresh()" in path.read_text(), path


def test_a_fresh_clone_gets_a_stamp_so_its_first_caches_are_kept(tmp_path):
    a = tmp_path / "a_kernel.py"
    a.write_text("def f(): return 1\n")
    assert drop_stale((a,)) == []
    assert (tmp_path / "__pycache__" / STAMP_NAME).is_file()
    (tmp_path / "__pycache__" / "a_kernel.f-1.py311.nbi").write_text("compiled")
    assert drop_stale((a,)) == []
