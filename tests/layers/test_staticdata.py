"""Published layer arrays: content-addressed, atomic, pruned least recently used first."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from layers.staticdata import prune, publish


def test_publish_names_the_file_by_its_content(tmp_path: Path) -> None:
    blob = b"\x01\x02\x03" * 100
    url = publish(blob, tmp_path / "data", url_prefix="/app/static/data/")
    digest = hashlib.sha256(blob).hexdigest()
    assert url == f"/app/static/data/{digest}.bin"
    assert (tmp_path / "data" / f"{digest}.bin").read_bytes() == blob
    assert publish(blob, tmp_path / "data", url_prefix="/x") == f"/x/{digest}.bin"
    assert [p.name for p in (tmp_path / "data").iterdir()] == [f"{digest}.bin"]


def test_a_deleted_file_is_written_again(tmp_path: Path) -> None:
    blob = b"abc"
    digest = hashlib.sha256(blob).hexdigest()
    publish(blob, tmp_path, url_prefix="/d", digest=digest)
    (tmp_path / f"{digest}.bin").unlink()
    publish(blob, tmp_path, url_prefix="/d", digest=digest)
    assert (tmp_path / f"{digest}.bin").read_bytes() == blob


def test_a_truncated_file_is_replaced(tmp_path: Path) -> None:
    blob = b"0123456789"
    digest = hashlib.sha256(blob).hexdigest()
    (tmp_path / f"{digest}.bin").write_bytes(b"01234")  # a crash mid-copy by another tool
    publish(blob, tmp_path, url_prefix="/d")
    assert (tmp_path / f"{digest}.bin").read_bytes() == blob


def test_the_oldest_files_go_first_past_the_budget(tmp_path: Path) -> None:
    names = []
    for i in range(5):
        url = publish(bytes([i]) * 100, tmp_path, url_prefix="/d", budget=10_000)
        names.append(url.rsplit("/", 1)[1])
        os.utime(tmp_path / names[-1], (1_000 + i, 1_000 + i))
    # Using the first again makes it the most recent: the second, third and fourth go.
    publish(bytes([0]) * 100, tmp_path, url_prefix="/d")
    newest = publish(bytes([9]) * 100, tmp_path, url_prefix="/d", budget=300)
    left = {p.name for p in tmp_path.glob("*.bin")}
    assert left == {names[0], names[4], newest.rsplit("/", 1)[1]}


def test_prune_never_deletes_the_file_it_keeps(tmp_path: Path) -> None:
    url = publish(b"x" * 1000, tmp_path, url_prefix="/d")
    name = url.rsplit("/", 1)[1]
    assert prune(tmp_path, budget=0, keep=name) == 0
    assert (tmp_path / name).exists()


@settings(max_examples=30, deadline=None)
@given(blobs=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=12),
       budget=st.integers(0, 400))
def test_published_files_fit_the_budget_or_one_is_left(blobs: list[bytes],
                                                        budget: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for blob in blobs:
            url = publish(blob, Path(folder), url_prefix="/d", budget=budget)
            name = url.rsplit("/", 1)[1]
            assert (Path(folder) / name).read_bytes() == blob  # the new one always stays
            sizes = [p.stat().st_size for p in Path(folder).glob("*.bin")]
            assert sum(sizes) <= budget or len(sizes) == 1


def test_gzip_publishing_names_by_the_plain_bytes_and_inflates_back(tmp_path: Path) -> None:
    import gzip

    blob = bytes(range(256)) * 40
    url = publish(blob, tmp_path, url_prefix="/d", gzip_level=1)
    digest = hashlib.sha256(blob).hexdigest()
    assert url == f"/d/{digest}.bin.gz"
    stored = (tmp_path / f"{digest}.bin.gz").read_bytes()
    assert gzip.decompress(stored) == blob
    # Published again: the same file, not compressed a second time.
    before = (tmp_path / f"{digest}.bin.gz").stat().st_ino
    assert publish(blob, tmp_path, url_prefix="/d", gzip_level=1) == url
    assert (tmp_path / f"{digest}.bin.gz").stat().st_ino == before


def test_scripts_are_published_as_js_and_pruned_like_the_rest(tmp_path: Path) -> None:
    import pytest

    url = publish(b"var a = 1;" * 50, tmp_path, url_prefix="/d", suffix=".js")
    assert url.endswith(".js")
    publish(b"z" * 2000, tmp_path, url_prefix="/d", gzip_level=9)
    assert prune(tmp_path, budget=0) == 2
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="suffix"):
        publish(b"x", tmp_path, url_prefix="/d", suffix=".html")


def test_files_nobody_published_again_for_max_age_go(tmp_path: Path, monkeypatch) -> None:
    """An address stops working soon after the last page showing it went idle."""
    import time

    from layers import staticdata

    old = publish(b"exact positions", tmp_path, url_prefix="/d").rsplit("/", 1)[1]
    kept = publish(b"still shown", tmp_path, url_prefix="/d").rsplit("/", 1)[1]
    hour_ago = time.time() - 3600
    os.utime(tmp_path / old, (hour_ago, hour_ago))
    os.utime(tmp_path / kept, (hour_ago, hour_ago))
    monkeypatch.setattr(staticdata, "_SWEPT", {})
    # "still shown" is published again by a page's run: refreshed, then the sweep runs
    publish(b"still shown", tmp_path, url_prefix="/d", max_age_s=1800)
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept]
    # the budget alone keeps old files
    again = publish(b"exact positions", tmp_path, url_prefix="/d").rsplit("/", 1)[1]
    os.utime(tmp_path / again, (hour_ago, hour_ago))
    assert prune(tmp_path) == 0
    assert prune(tmp_path, max_age_s=1800) == 1
