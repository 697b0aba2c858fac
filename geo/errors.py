"""One error hierarchy for the whole project.

Every class also inherits the matching builtin, as ``rasterio.errors`` does, so callers that only
know Python's exceptions still catch them. The UI catches :class:`AtalayaError` and shows its
message; anything else is a bug and is allowed to surface.
"""

from __future__ import annotations


class AtalayaError(Exception):
    """Base class of every error this project raises on purpose."""


class SchemaError(AtalayaError, ValueError):
    """Data does not meet a layer's contract (columns, values, geometry or CRS)."""


class CRSError(AtalayaError, ValueError):
    """A coordinate reference system is missing, unknown or not the one required."""


class ConfigError(AtalayaError, ValueError):
    """A setting (environment variable or option) has an unusable value."""


class DataNotFoundError(AtalayaError, FileNotFoundError):
    """An expected data file or asset is absent."""


class ImageryError(AtalayaError, ValueError):
    """A raster is unreadable, too large, or its grid or bands cannot be used."""
