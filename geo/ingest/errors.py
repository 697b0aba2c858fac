"""Errors of the import pipeline, all under :class:`geo.errors.AtalayaError`.

A *refused file* (:class:`FileRefusedError` and its subclasses) stores nothing and its message
says what was received, what was expected and the fix. Rows that fail are not errors: they go
into the report's rejected rows with their reason.
"""

from __future__ import annotations

from geo.errors import AtalayaError


class IngestError(AtalayaError, ValueError):
    """Base class of the import errors."""


class FileRefusedError(IngestError):
    """The whole file is refused: wrong format, empty, unreadable, too large or unsafe."""


class UnsafeFileError(FileRefusedError):
    """The file looks hostile: archive escaping its folder, XML entities, decompression bomb."""


class MappingError(IngestError):
    """A column mapping names an unknown field or column, or cannot be read back."""


class CommitError(IngestError):
    """The validated rows cannot be stored (identifier clash, nothing accepted); nothing written."""
