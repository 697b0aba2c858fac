"""When repeated failed sign-ins lock an account, and for how long (a delay, never for good).

After ``max_failures`` wrong passwords in a row the account waits ``base_delay_s``; each
further failure after the wait doubles it, up to ``max_delay_s``. A successful sign-in resets
the count. A permanent lock would let anyone who knows a user name shut that person out; a
growing delay still makes guessing hopeless (at most ~100 guesses an hour at the cap).

Examples
--------
>>> policy = LockoutPolicy()
>>> [policy.delay_s(n) for n in (4, 5, 6, 7, 20)]
[0.0, 30.0, 60.0, 120.0, 900.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.errors import ConfigError


@dataclass(frozen=True)
class LockoutPolicy:
    """Failed sign-ins allowed before a delay, and how the delay grows.

    Attributes
    ----------
    max_failures
        Wrong passwords in a row before the first delay (default 5).
    base_delay_s
        First delay, in seconds (default 30); doubled at each further failure.
    max_delay_s
        Longest delay, in seconds (default 900: 15 minutes).
    """

    max_failures: int = 5
    base_delay_s: float = 30.0
    max_delay_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError(
                f"lockout policy max_failures={self.max_failures}, base_delay_s="
                f"{self.base_delay_s}, max_delay_s={self.max_delay_s} is unusable; expected "
                "max_failures >= 1 and 0 < base_delay_s <= max_delay_s")

    def delay_s(self, failed_count: int) -> float:
        """Seconds to wait after ``failed_count`` consecutive failures (0 below the limit)."""
        extra = failed_count - self.max_failures
        if extra < 0:
            return 0.0
        # Cap the exponent first: 2 ** 10_000 would be a needlessly large integer.
        return min(self.base_delay_s * 2.0 ** min(extra, 64), self.max_delay_s)

    def locked_until(self, failed_count: int, at: datetime) -> datetime | None:
        """End of the wait that ``failed_count`` failures, the last one at ``at``, impose."""
        delay = self.delay_s(failed_count)
        return at + timedelta(seconds=delay) if delay > 0 else None
