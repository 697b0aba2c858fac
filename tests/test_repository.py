"""Repository hygiene: what a fresh clone must and must not contain."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import ROOT

MAX_FILE_BYTES = 1_000_000  # the large-file check: generated data and assets are never committed


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.splitlines()


def test_no_large_or_vendored_files_are_committed():
    files = _tracked()
    big = [f for f in files if (ROOT / f).is_file() and (ROOT / f).stat().st_size > MAX_FILE_BYTES]
    assert not big, f"large files committed: {big}"
    vendored = [f for f in files if re.search(r"(^|/)(node_modules|static/vendor)/|leaflet(\.min)?"
                                              r"\.js$|(^|/)shared/data/", f)]
    assert not vendored, vendored


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-dev.txt"])
def test_every_requirement_is_pinned(name):
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-r "):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line), line


def test_npm_assets_are_pinned_exactly():
    import json

    deps = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in deps.values()), deps
    assert (ROOT / "package-lock.json").exists()


def test_readme_gives_the_two_commands_and_ci_calls_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
