"""RATE_LIMIT_ORDERS_PER_MINUTE: guest checkouts per client IP, in a sliding window.

The window lives in this process's memory: with several processes (or a restart) each counts on
its own, so the shop-wide limit is at most processes × the setting. That is enough to blunt a
script hammering checkout; the limits that must hold across processes (unpaid orders per phone,
inbound messages per sender) are counted in the database instead. Only accepted requests take a
slot, so a client that keeps being refused is let in again once its oldest request is a minute old,
which is what `Retry-After` says.
"""
from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from aiohttp import web

from core.tokens import STAFF_ROLES, Role
from webhooks import keys
from webhooks.problems import problem

WINDOW = timedelta(minutes=1)
FORGET_ABOVE = 10_000  # keys kept before idle ones are swept out


class SlidingWindow:
    """At most `limit` hits per key in any `window`; `hit` answers how long to wait, or None."""

    def __init__(self, limit: int | None, clock, window: timedelta = WINDOW) -> None:
        self.limit, self.clock, self.window = limit, clock, window
        self._hits: dict[str, deque[datetime]] = {}

    def hit(self, key: str) -> timedelta | None:
        if not self.limit:
            return None
        now = self.clock.now()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        if len(self._hits) > FORGET_ABOVE:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: datetime) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]


def client_ip(request: web.Request) -> str:
    """`request.remote`; behind a proxy (TRUST_PROXY_HEADERS=true) the last X-Forwarded-For hop,
    the address the proxy itself saw: routers such as Heroku's append to a header the client may
    have written, so the earlier hops are the client's word."""
    if request.app[keys.SETTINGS].trust_proxy_headers:
        last = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if last:
            return last
    return request.remote or "unknown"


def guest_checkout(request: web.Request, token) -> web.Response | None:
    """A 429 problem for a client IP past RATE_LIMIT_ORDERS_PER_MINUTE; None to go on.
    Staff and admin tokens are the shop itself, not guests, and are not counted."""
    if token is not None and Role(token.role) in STAFF_ROLES:
        return None
    wait = request.app[keys.ORDER_RATE].hit(client_ip(request))
    if wait is None:
        return None
    seconds = max(1, math.ceil(wait.total_seconds()))
    limit = request.app[keys.ORDER_RATE].limit
    response = problem(429, "rate-limited", "Too many orders",
                       f"This address placed {limit} orders in the last minute; try again in {seconds} s.",
                       retryAfter=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response
