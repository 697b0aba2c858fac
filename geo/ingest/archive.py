"""Zip archives (zipped shapefiles, KMZ, XLSX) inspected before a single entry is unpacked.

Refused: more than :attr:`Limits.max_entries` entries, entries whose names climb out of the
folder (``../``), absolute or drive-letter names, symbolic links, encrypted entries, declared
sizes above the cap or compression ratios of a decompression bomb. Unpacking then counts the
bytes actually produced (headers can lie) and stops at the declared size.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from geo.i18n import Message, Number
from geo.ingest.errors import FileRefusedError, UnsafeFileError
from geo.ingest.limits import Limits

CHUNK = 1024 * 1024


def _check_name(info: zipfile.ZipInfo, shown: str) -> None:
    name = info.filename
    entry = repr(name[:80])
    posix = PurePosixPath(name.replace("\\", "/"))
    if (name.startswith(("/", "\\")) or posix.is_absolute() or ".." in posix.parts
            or (len(name) > 1 and name[1] == ":") or any(ord(c) < 32 for c in name)):
        raise UnsafeFileError(Message("{name}: archive entry {entry} points outside the "
                                      "archive's folder (absolute path or '..'); refused",
                                      name=shown, entry=entry))
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeFileError(Message("{name}: archive entry {entry} is a symbolic link; links "
                                      "are refused, zip the files themselves",
                                      name=shown, entry=entry))
    if info.flag_bits & 0x1:
        raise FileRefusedError(Message("{name}: archive entry {entry} is encrypted; send it "
                                       "without a password", name=shown, entry=entry))


def inspect_zip(path: Path, *, shown: str, limits: Limits) -> list[zipfile.ZipInfo]:
    """Return the file entries of a zip archive after checking every header.

    Raises
    ------
    UnsafeFileError
        Path traversal, absolute names, links, or a decompression bomb.
    FileRefusedError
        Not a zip, corrupt, too many entries, or encrypted entries.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileRefusedError(Message("{name} is not a readable zip archive ({error})",
                                       name=shown, error=str(exc))) from None
    if len(infos) > limits.max_entries:
        raise FileRefusedError(Message("{name} holds {n} entries; at most {cap} are accepted",
                                       name=shown, n=len(infos), cap=limits.max_entries))
    total = 0
    for info in infos:
        _check_name(info, shown)
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024**2 and ratio > limits.max_ratio:
            raise UnsafeFileError(Message("{name}: entry {entry} would unpack {ratio} times its "
                                          "packed size ({mb} MB); refused as a decompression "
                                          "bomb", name=shown, entry=repr(info.filename[:80]),
                                          ratio=Number(ratio, 0),
                                          mb=Number(info.file_size / 1024**2, 0)))
    if total > limits.max_unpacked_bytes:
        raise UnsafeFileError(Message("{name} would unpack to {mb} MB; the cap is {cap} MB "
                                      "(ATALAYA_MAX_UNPACKED_MB)", name=shown,
                                      mb=Number(total / 1024**2, 0),
                                      cap=Number(limits.max_unpacked_bytes / 1024**2, 0)))
    return [i for i in infos if not i.is_dir()]


def read_entry(path: Path, info: zipfile.ZipInfo, *, shown: str, limits: Limits) -> bytes:
    """Return one (already inspected) entry's bytes, never more than its declared size."""
    out = bytearray()
    cap = min(info.file_size, limits.max_unpacked_bytes)
    try:
        with zipfile.ZipFile(path) as zf, zf.open(info) as fh:
            while chunk := fh.read(CHUNK):
                out += chunk
                if len(out) > cap:
                    raise UnsafeFileError(Message("{name}: entry {entry} unpacks to more than "
                                                  "it declares; refused", name=shown,
                                                  entry=repr(info.filename[:80])))
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise FileRefusedError(Message("{name}: entry {entry} is corrupt ({error})", name=shown,
                                       entry=repr(info.filename[:80]),
                                       error=str(exc))) from None
    return bytes(out)


def extract_zip(path: Path, dest: Path, *, shown: str, limits: Limits) -> list[Path]:
    """Unpack an archive under ``dest`` (flat: server-made names keep each entry's base name).

    Entries are written as ``dest/<n>_<base name>`` so no entry name becomes a folder path;
    the caller finds files by suffix. Returns the written paths in archive order.
    """
    infos = inspect_zip(path, shown=shown, limits=limits)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    produced = 0
    for n, info in enumerate(infos):
        base = PurePosixPath(info.filename.replace("\\", "/")).name
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[-100:]
        target = dest / f"{n:04d}_{safe}"
        data = read_entry(path, info, shown=shown, limits=limits)
        produced += len(data)
        if produced > limits.max_unpacked_bytes:
            raise UnsafeFileError(Message("{name} unpacks to more than the {cap} MB cap",
                                          name=shown,
                                          cap=Number(limits.max_unpacked_bytes / 1024**2, 0)))
        target.write_bytes(data)
        written.append(target)
    return written
