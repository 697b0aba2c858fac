"""Bringing data in: safe readers, column mapping, validation report, deduplication, commit.

The steps a page (or :mod:`geo.ingest.__main__`) follows, each a pure function::

    upload = receive_file(path_or_bytes, name=..., limits=...)   # cap, sha256, server-made name
    source = read_source_isolated(upload)                        # safe reader, capped worker
    source.preview(10)                                           # first rows, as text
    mapping = propose_mapping(source, layer)                     # the user may edit it:
    #   mapping.fields[target] = column (targets: mapping.targets()), mapping.defaults,
    #   mapping.quantity_unit (UNITS), mapping.dayfirst, mapping.timezone, mapping.values
    save_mapping(mapping, data_dir, partner)  /  load_mapping(partner, data_dir=data_dir)
    report = validate(source, mapping, imported_by="ana")        # accepted / rejected + reasons
    #   (the app and the jobs call validate_isolated: the same, in a capped worker)
    report.counts, report.warnings, report.rejected_rows(), report.rejected_csv()
    existing = read_existing(data_dir, layer)
    dups = find_duplicates(report.accepted, existing, layer=layer)   # dups.pairs to show
    commit(report, data_dir, skip=dups.new_index)                # all-or-nothing
    upload.close()

A background import job (:mod:`geo.jobs`, scenes) reads a copy of the upload that outlives the
page's session: :func:`keep_upload` puts it under ``<data>/uploads/<sha256>/`` and
:func:`discard_kept_upload` removes it when the job has ended.

:func:`read_source` is the same reader in the calling process (tests, notebooks); the command
line reads in a capped worker too. Keep the ``Upload`` open until :func:`commit` has run: scene
GeoTIFFs are copied from its folder. Nothing here imports streamlit; nothing is written outside
the data folder and the upload's own temporary folder (removed by :meth:`Upload.close`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from geo.ingest.commit import (
    CommitResult,
    commit,
    layer_path,
    name_stored_bands,
    read_existing,
)
from geo.ingest.errors import (
    CommitError,
    FileRefusedError,
    IngestError,
    MappingError,
    UnsafeFileError,
)
from geo.ingest.isolate import read_source_isolated, validate_isolated
from geo.ingest.limits import Limits, load_limits
from geo.ingest.mapping import (
    GEOMETRY_FIELDS,
    UNITS,
    Mapping,
    list_mappings,
    load_mapping,
    mapping_path,
    propose_mapping,
    save_mapping,
)
from geo.ingest.readers import Source, read_source
from geo.ingest.report import ImportReport, RejectedRow
from geo.ingest.scenes import read_scene_source
from geo.ingest.upload import (
    UPLOADS_DIR,
    Upload,
    discard_kept_upload,
    keep_upload,
    receive_file,
    safe_name,
)
from geo.ingest.validate import LAYERS, validate

if TYPE_CHECKING:
    from geo.ingest.dedupe import Duplicates, Tolerances, find_duplicates

#: Imported on first use: the capped reader and validator workers (:mod:`geo.ingest.isolate`,
#: spawned) import this package and never deduplicate; SciPy's spatial module (with sparse,
#: linalg and special) was about 1 s of each worker's 2.4 s of imports.
_LAZY = {"Duplicates": "geo.ingest.dedupe", "Tolerances": "geo.ingest.dedupe",
         "find_duplicates": "geo.ingest.dedupe"}


def __getattr__(name: str) -> Any:
    """Import the names of :data:`_LAZY` when first asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value

__all__ = [
    "GEOMETRY_FIELDS",
    "LAYERS",
    "UNITS",
    "UPLOADS_DIR",
    "CommitError",
    "CommitResult",
    "Duplicates",
    "FileRefusedError",
    "ImportReport",
    "IngestError",
    "Limits",
    "Mapping",
    "MappingError",
    "RejectedRow",
    "Source",
    "Tolerances",
    "UnsafeFileError",
    "Upload",
    "commit",
    "discard_kept_upload",
    "find_duplicates",
    "keep_upload",
    "layer_path",
    "list_mappings",
    "load_limits",
    "load_mapping",
    "mapping_path",
    "name_stored_bands",
    "propose_mapping",
    "read_existing",
    "read_scene_source",
    "read_source",
    "read_source_isolated",
    "receive_file",
    "safe_name",
    "save_mapping",
    "validate",
    "validate_isolated",
]
