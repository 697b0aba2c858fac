"""When a signed-in session must sign in again: idle too long, or open too long.

Streamlit's OIDC cookie lasts 30 days and cannot be revoked from the server, and a local
sign-in lives in the session state of an open tab. So every run of the app checks the session
against this policy (and the user against the store: still active, same role) and signs out
when it has expired. Keep a :class:`Session` in the session state, and take the role from the
store's account on every run (``geo.store.users.active_user``), never from the session alone:
a role changed or an account disabled by an administrator takes effect at the next click.

Examples
--------
>>> from datetime import UTC, datetime, timedelta
>>> policy = SessionPolicy(idle_timeout_min=30)
>>> start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
>>> policy.is_expired(start, start + timedelta(minutes=29))
False
>>> policy.is_expired(start, start + timedelta(minutes=30))
True
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from geo.auth.permissions import Role
from geo.errors import ConfigError

if TYPE_CHECKING:  # only for the annotation: geo.settings imports geo.auth
    from geo.settings import Settings


@dataclass(frozen=True)
class SessionPolicy:
    """Idle and absolute session time-outs.

    Attributes
    ----------
    idle_timeout_min
        Minutes without any interaction after which the user signs in again (default 30).
    max_session_h
        Hours after signing in after which the user signs in again whatever they do
        (default 12, one shift); None for no limit.
    """

    idle_timeout_min: float = 30.0
    max_session_h: float | None = 12.0

    def __post_init__(self) -> None:
        if not self.idle_timeout_min > 0:
            raise ConfigError(f"idle timeout {self.idle_timeout_min!r} min: expected a "
                              "positive number of minutes (ATALAYA_IDLE_TIMEOUT_MIN)")
        if self.max_session_h is not None and not self.max_session_h > 0:
            raise ConfigError(f"session limit {self.max_session_h!r} h: expected a positive "
                              "number of hours (ATALAYA_SESSION_MAX_H), or 0 for none")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        """Build the policy of the configured :class:`~geo.settings.Settings`."""
        return cls(idle_timeout_min=settings.idle_timeout_min,
                   max_session_h=settings.session_max_h)

    @property
    def idle_timeout(self) -> timedelta:
        """The idle time-out as a duration."""
        return timedelta(minutes=self.idle_timeout_min)

    def expires_at(self, last_seen: datetime, *, signed_in_at: datetime | None = None
                   ) -> datetime:
        """When the session ends if nothing happens after ``last_seen`` (UTC-aware times)."""
        end = last_seen + self.idle_timeout
        if signed_in_at is not None and self.max_session_h is not None:
            end = min(end, signed_in_at + timedelta(hours=self.max_session_h))
        return end

    def is_expired(self, last_seen: datetime, now: datetime, *,
                   signed_in_at: datetime | None = None) -> bool:
        """Whether a session last active at ``last_seen`` has expired at ``now``.

        Parameters
        ----------
        last_seen
            Time of the session's last interaction (timezone-aware).
        now
            Current time (timezone-aware).
        signed_in_at
            Time of the sign-in; enables the absolute limit ``max_session_h``.
        """
        return now >= self.expires_at(last_seen, signed_in_at=signed_in_at)


@dataclass(frozen=True)
class Session:
    """Who is signed in to one browser tab, since when, and when they last did something.

    Attributes
    ----------
    username
        The account's (normalised) user name.
    role
        Role at sign-in; refresh it from the store on every run.
    signed_in_at, last_seen
        Timezone-aware UTC times.
    """

    username: str
    role: Role
    signed_in_at: datetime
    last_seen: datetime

    @classmethod
    def start(cls, username: str, role: Role, now: datetime) -> Session:
        """Open a session at ``now``."""
        return cls(username=username, role=role, signed_in_at=now, last_seen=now)

    def touched(self, now: datetime, *, role: Role | None = None) -> Session:
        """Return this session seen active at ``now`` (with the role read from the store)."""
        return replace(self, last_seen=max(now, self.last_seen), role=role or self.role)

    def is_expired(self, policy: SessionPolicy, now: datetime) -> bool:
        """Whether ``policy`` ends this session at ``now`` (idle or too long)."""
        return policy.is_expired(self.last_seen, now, signed_in_at=self.signed_in_at)
