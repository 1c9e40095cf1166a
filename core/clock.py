"""Time, injected: the system clock in production, a clock tests can move forward."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FakeClock:
    """Real time plus an offset that `advance` grows: tests jump hours ahead without sleeping,
    while what waits on real time (retry backoff, timeouts) still moves."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)
