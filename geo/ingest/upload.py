"""Receiving an uploaded file: size cap, SHA-256, server-made name, format from its bytes.

The user's file name is only *shown* (after :func:`safe_name`); the bytes are stored in a
private temporary folder under a name the server makes (``upload.<ext>``), so a name such as
``../../etc/passwd`` or ``/vsicurl/http://...`` never reaches a path or GDAL. The format is
decided from the extension *and* the leading bytes: a file whose bytes disagree with its name
is refused.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from geo.atomicfile import replacing
from geo.i18n import Message, Number
from geo.ingest.errors import FileRefusedError, IngestError
from geo.ingest.limits import Limits

Format = Literal["csv", "xlsx", "geojson", "kml", "kmz", "zip", "gpkg", "parquet", "geotiff"]
#: Extension (lower case) -> format.
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".geojson": "geojson",
    ".json": "geojson", ".kml": "kml", ".kmz": "kmz", ".zip": "zip", ".gpkg": "gpkg",
    ".parquet": "parquet", ".geoparquet": "parquet", ".tif": "geotiff", ".tiff": "geotiff",
}
_MAGIC: dict[Format, tuple[bytes, ...]] = {
    "xlsx": (b"PK\x03\x04",), "kmz": (b"PK\x03\x04",), "zip": (b"PK\x03\x04",),
    "gpkg": (b"SQLite format 3\x00",), "parquet": (b"PAR1",),
    "geotiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
}
MAX_NAME = 120
#: Folder of the data folder where the app keeps an upload for a background import job.
UPLOADS_DIR = "uploads"
_UNSAFE = re.compile(r"[^\w.\- ()]+")
CHUNK = 1024 * 1024


def safe_name(name: str) -> str:
    r"""Return a file name fit to show and to record: no folders, control characters or dots.

    Examples
    --------
    >>> safe_name("../../etc/pass\x00wd.csv")
    'pass_wd.csv'
    >>> safe_name("C:\\Users\\ana\\incautaciones 2024.xlsx")
    'incautaciones 2024.xlsx'
    >>> safe_name("")
    'upload'
    """
    text = unicodedata.normalize("NFC", str(name))
    base = re.split(r"[\\/]", text)[-1]
    base = "".join("_" if unicodedata.category(ch)[0] == "C" else ch for ch in base)
    base = _UNSAFE.sub("_", base).strip(" ._") if base else ""
    base = re.sub(r"_+", "_", base)
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else base[:MAX_NAME]
    return base or "upload"


@dataclass
class Upload:
    """A received file in its own temporary folder (delete it with :meth:`close`).

    Attributes
    ----------
    path
        Server-made path of the bytes (``<tmp>/upload.<ext>``).
    name
        The user's file name made safe (:func:`safe_name`); shown and recorded as provenance.
    sha256
        Hex digest of the bytes.
    size
        Bytes.
    format
        What the file is (from extension and leading bytes).
    workdir
        The temporary folder; archives are unpacked under it.
    """

    path: Path
    name: str
    sha256: str
    size: int
    format: Format
    workdir: Path

    def close(self) -> None:
        """Remove the temporary folder and everything unpacked into it."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(src: Path | bytes | BinaryIO) -> Iterator[bytes]:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        for i in range(0, len(data), CHUNK):
            yield data[i:i + CHUNK]
        return
    if isinstance(src, Path | str):
        with open(src, "rb") as fh:
            yield from iter(lambda: fh.read(CHUNK), b"")
        return
    yield from iter(lambda: src.read(CHUNK), b"")


def detect_format(name: str, head: bytes) -> Format:
    r"""Return the format of a file from its (safe) name and first bytes, or refuse it.

    Examples
    --------
    >>> detect_format("pistas.csv", b"lat,lon\n")
    'csv'
    >>> detect_format("scene.tif", b"<VRTDataset>")
    Traceback (most recent call last):
    ...
    geo.ingest.errors.FileRefusedError: scene.tif is named .tif but its bytes are not a geotiff...
    """
    ext = Path(name.lower()).suffix
    fmt = EXTENSIONS.get(ext)
    if fmt is None:
        known = ", ".join(sorted(EXTENSIONS))
        raise FileRefusedError(Message("{name}: files ending {ext} are not imported; expected "
                                       "one of {known}", name=name,
                                       ext=ext or Message("(no extension)"), known=known))
    magic = _MAGIC.get(fmt)
    if magic is not None and not head.startswith(magic):
        raise FileRefusedError(Message("{name} is named {ext} but its bytes are not a {format} "
                                       "file; export it again from the program that made it",
                                       name=name, ext=ext, format=fmt))
    if fmt in ("csv", "geojson", "kml") and b"\x00" in head.lstrip(b"\xff\xfe\xef\xbb\xbf") \
            and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefusedError(Message("{name} is named {ext} but holds binary data (NUL bytes)",
                                       name=name, ext=ext))
    return fmt


def receive_file(src: Path | bytes | BinaryIO, *, name: str | None = None,
                 limits: Limits | None = None) -> Upload:
    """Copy an uploaded file into a private temporary folder, checking its size as it goes.

    Parameters
    ----------
    src
        A path, the bytes, or a binary file object (Streamlit's ``UploadedFile`` is one).
    name
        The user's file name (default: the path's name); only used once made safe.
    limits
        Caps; :attr:`Limits.max_upload_bytes` is enforced while copying.

    Returns
    -------
    Upload

    Raises
    ------
    FileRefusedError
        Empty, too large, unknown extension, or bytes that disagree with the extension.
    """
    lim = limits or Limits()
    shown = safe_name(name if name is not None else Path(str(src)).name
                      if isinstance(src, Path | str) else "upload")
    workdir = Path(tempfile.mkdtemp(prefix="atalaya-ingest-"))
    try:
        return _copy(src, shown, lim, workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _copy(src: Path | bytes | BinaryIO, shown: str, lim: Limits, workdir: Path) -> Upload:
    digest = hashlib.sha256()
    size = 0
    head = b""
    tmp = workdir / "upload.part"
    with open(tmp, "wb") as out:
        for chunk in _chunks(src):
            size += len(chunk)
            if size > lim.max_upload_bytes:
                raise FileRefusedError(Message(
                    "{name} is larger than the {mb} MB upload cap; split it, or raise "
                    "ATALAYA_MAX_UPLOAD_MB", name=shown,
                    mb=Number(lim.max_upload_bytes / 1024**2, 0)))
            if len(head) < 64:
                head += chunk[:64]
            digest.update(chunk)
            out.write(chunk)
    if size == 0:
        raise FileRefusedError(Message("{name} is empty (0 bytes); nothing to import",
                                       name=shown))
    fmt = detect_format(shown, head)
    path = workdir / f"upload{Path(shown.lower()).suffix}"
    tmp.rename(path)
    return Upload(path=path, name=shown, sha256=digest.hexdigest(), size=size, format=fmt,
                  workdir=workdir)


def keep_upload(upload: Upload, data_dir: Path) -> Path:
    """Copy a received file to ``<data>/uploads/<sha256>/<name>`` for a background job.

    The temporary folder of :func:`receive_file` belongs to the page's session; a job (which
    outlives the session and may run in another process) reads this copy instead. The folder
    is named after the bytes, so the same file kept twice lands on the same path (and the job
    parameters agree); the copy is written to a side name and renamed, so a reader never sees
    half of it. Remove it with :func:`discard_kept_upload` once the job has ended.
    """
    folder = Path(data_dir) / UPLOADS_DIR / upload.sha256
    target = folder / safe_name(upload.name)
    if target.is_file() and target.stat().st_size == upload.size:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with replacing(target) as part:
        shutil.copyfile(upload.path, part)
    return target


def discard_kept_upload(path: str | Path, data_dir: Path) -> bool:
    """Remove a file kept by :func:`keep_upload` and its folder; return whether it was one.

    Anything outside ``<data>/uploads/<folder>/`` is left alone (a job may import a file the
    app did not keep, e.g. from the command line).

    Raises
    ------
    IngestError
        The folder could not be removed (permissions).
    """
    root = (Path(data_dir) / UPLOADS_DIR).resolve()
    folder = Path(path).resolve().parent
    if folder.parent != root:
        return False
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise IngestError(Message("the kept upload {folder} could not be removed: {error}",
                                  folder=folder.name, error=str(exc))) from None
    return True
