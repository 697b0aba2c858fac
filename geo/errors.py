"""One error hierarchy for the whole project.

Every class also inherits the matching builtin, as ``rasterio.errors`` does, so callers that only
know Python's exceptions still catch them. The UI catches :class:`AtalayaError` and shows its
message; anything else is a bug and is allowed to surface.
"""

from __future__ import annotations

from datetime import datetime


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


class StoreError(AtalayaError, RuntimeError):
    """The alert store cannot be used: unreachable, busy, or its schema is not what we expect."""


class StaleVersionError(StoreError):
    """An alert was changed by someone else since it was read (optimistic locking).

    Nothing was written; reload the alert and apply the change again. The attributes say who
    changed it and when, so the message can name them.
    """

    def __init__(self, message: str, *, alert_id: int, expected_version: int,
                 current_version: int, changed_by: str, changed_at: datetime) -> None:
        super().__init__(message)
        self.alert_id = alert_id
        self.expected_version = expected_version
        self.current_version = current_version
        self.changed_by = changed_by
        self.changed_at = changed_at


class TransitionError(AtalayaError, ValueError):
    """An alert cannot move from its current review state to the one asked for."""


class AlertNotFoundError(AtalayaError, LookupError):
    """No alert has the given identifier."""


class ExportError(AtalayaError, ValueError):
    """A snapshot cannot be written: unknown format or layer, unsafe path, missing tool."""


class AuthError(AtalayaError, PermissionError):
    """An account, a password or a role does not allow what was asked.

    Raised for a refused action (the role lacks the permission), a password that breaks the
    policy, an unknown or duplicate account. The message never contains a password or hash.
    """


class PasswordPolicyError(AuthError, ValueError):
    """A new password breaks the policy (too short, the same as the user name, ...)."""


class AccountNotFoundError(AuthError, LookupError):
    """No account has the given user name."""


class JobError(AtalayaError, RuntimeError):
    """A background job cannot be submitted, run or changed as asked."""


class JobStateError(JobError, TransitionError):
    """A job cannot move from its state to the one asked for, or is held by another runner."""


class JobNotFoundError(JobError, LookupError):
    """No job has the given identifier."""


class JobCancelledError(JobError):
    """Raised inside a running job when someone asked to cancel it (checked between steps)."""
