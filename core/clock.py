"""Time, injected: the system clock in production, a clock tests can move forward."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo


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


def day_start(now: datetime, shop_timezone: str) -> datetime:
    """Midnight of the shop's day that `now` falls in (aware, in the shop's zone)."""
    zone = ZoneInfo(shop_timezone)
    return datetime.combine(now.astimezone(zone).date(), time.min, zone)
