"""Atomic replacement: the new file has the mode a file created in place would have."""

from __future__ import annotations

import os
import stat

from geo.atomicfile import FILE_MODE, replacing, write_atomic


def test_a_replaced_file_is_as_readable_as_a_new_one(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    write_atomic(tmp_path / "atomic.txt", "y")
    with replacing(tmp_path / "copied.bin") as tmp:
        tmp.write_bytes(b"z")
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == FILE_MODE
    for name in ("atomic.txt", "copied.bin"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert sorted(os.listdir(tmp_path)) == ["atomic.txt", "copied.bin", "plain.txt"]
